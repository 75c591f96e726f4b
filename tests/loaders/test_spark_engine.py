"""The Spark engine (``--engine spark``) against the pandas path on the same lake: the same
point-in-time frames, the same features (relative difference <= 1e-9), the same stacked
monthly cohorts, with business versions, superseded rows, thin files and frozen references.

Spark runs for real, in ``local[2]`` on the test machine's JVM.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gnn.cohorts import stack_cohorts
from gnn.data import FeatureScaler
from gnn.evaluate import FeatureSet
from loaders.features import FeatureReference, compute_features
from loaders.lake import LakeRows, LakeSnapshot, read_lake_snapshot, write_lake_frames
from loaders.point_in_time import trade_pairs
from loaders.spark.snapshot import SparkSnapshot, read_spark_snapshot
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tradegraph.cli.main import app
from tradegraph.settings import get_settings

pytestmark = pytest.mark.slow

#: Two score dates stacked as training cohorts (one before the second export's business
#: versions, one after them and after its re-sent orders' new status), and a later one.
DATES = [pd.Timestamp(d, tz="UTC") for d in ("2023-10-01", "2023-12-01")]
LATER = pd.Timestamp("2024-06-01", tz="UTC")
VERSION_AT = pd.Timestamp("2023-10-20T12:00:00", tz="UTC")
FRAMES = ("businesses", "identifiers", "orders", "outcomes", "credit_events")
TOLERANCE = 1e-9


def _second_versions(businesses: pd.DataFrame, identifiers: pd.DataFrame, ids: list[str]):  # type: ignore[no-untyped-def]
    """Later versions of ``ids`` (declared size changed, one shared new phone), dated
    ``VERSION_AT``; identifiers without a version stay carried by every version."""
    rows = businesses[businesses["business_id"].isin(ids)].copy()
    rows["updated_at"] = VERSION_AT
    rows["employees"] = (rows["employees"].fillna(1) * 3).astype("Int64")
    rows["declared_revenue"] = 50_000.0
    phones = pd.DataFrame(
        {"business_id": ids, "id_type": "phone", "id_hash": "shared-new-phone",
         "updated_at": VERSION_AT}
    )  # fmt: skip
    return rows, phones


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of two exports: a synthetic marketplace, then a second export with later
    business versions and re-sent orders whose status changed (which supersede the first)."""
    market = generate_marketplace(SyntheticConfig(n_businesses=500, seed=13))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "spark-key")
    root = tmp_path_factory.mktemp("spark") / "lake"
    first = LakeRows(businesses, identifiers, [orders], outcomes, market.credit_events)
    write_lake_frames(root, first, key_fingerprint="fp", base_currency="USD", source="one")
    settled = businesses[businesses["registered_at"] < VERSION_AT - pd.Timedelta(days=120)]
    movers = settled["business_id"].iloc[10:16].tolist()
    versions, phones = _second_versions(businesses, identifiers, movers)
    resent = orders[orders["ts"] < DATES[0]].head(200).copy()
    resent["status"] = "disputed"
    resent["status_at"] = DATES[1] - pd.Timedelta(days=3)
    later = LakeRows(versions, phones, [resent], outcomes.head(0), None)
    write_lake_frames(root, later, key_fingerprint="fp", base_currency="USD", source="two")
    return root


@pytest.fixture(scope="module")
def snapshots(spark, lake: Path) -> dict[pd.Timestamp, tuple[SparkSnapshot, LakeSnapshot]]:  # type: ignore[no-untyped-def]
    return {
        d: (read_spark_snapshot(spark, lake, d, buckets=3), read_lake_snapshot(lake, d))
        for d in [*DATES, LATER]
    }


def _assert_close(spark_frame: pd.DataFrame, pandas_frame: pd.DataFrame) -> None:
    assert list(spark_frame.columns) == list(pandas_frame.columns)
    assert spark_frame.index.equals(pandas_frame.index)
    a, b = spark_frame.to_numpy(float), pandas_frame.to_numpy(float)
    relative = np.abs(a - b) / np.maximum(np.abs(b), 1.0)
    worst = pd.Series(relative.max(axis=0), index=pandas_frame.columns)
    assert worst.max() <= TOLERANCE, worst[worst > TOLERANCE]


def test_spark_cuts_the_same_point_in_time_frames(snapshots) -> None:  # type: ignore[no-untyped-def]
    for spark_snapshot, lake_snapshot in snapshots.values():
        for name in FRAMES:
            pd.testing.assert_frame_equal(
                getattr(spark_snapshot, name).reset_index(drop=True),
                getattr(lake_snapshot, name).reset_index(drop=True),
                check_dtype=False,
                obj=name,
            )
    # The second export's versions and re-sent orders are what both read after their dates.
    after = snapshots[DATES[1]][0]
    assert (after.businesses["declared_revenue"] == 50_000.0).sum() == 6
    assert (after.orders["status"] == "disputed").sum() >= 200


def test_spark_features_equal_the_pandas_features(snapshots) -> None:  # type: ignore[no-untyped-def]
    for d, (spark_snapshot, lake_snapshot) in snapshots.items():
        expected = compute_features(
            lake_snapshot.businesses, lake_snapshot.orders, d,
            identifiers=lake_snapshot.identifiers, credit_events=lake_snapshot.credit_events,
        )  # fmt: skip
        got = spark_snapshot.compute_features(d)
        _assert_close(got, expected)
        assert got["is_thin_file"].sum() > 0  # thin-file rows are among those compared
        assert got["buyers_share_distressed_2hop"].gt(0).any()
    shared = snapshots[DATES[1]][0].compute_features(DATES[1])["shared_id_businesses"]
    assert shared.ge(5).sum() >= 6  # the movers' new shared phone links them


def test_spark_features_honour_options_and_a_frozen_reference(snapshots) -> None:  # type: ignore[no-untyped-def]
    spark_snapshot, lake_snapshot = snapshots[LATER]
    reference = FeatureReference.from_features(
        compute_features(snapshots[DATES[0]][1].businesses, snapshots[DATES[0]][1].orders, DATES[0])
    )
    options = {"counterparty_days": 1500.0, "reference": reference, "hub_threshold": 3}
    expected = compute_features(
        lake_snapshot.businesses, lake_snapshot.orders, LATER,
        identifiers=lake_snapshot.identifiers, credit_events=lake_snapshot.credit_events,
        **options,
    )  # fmt: skip
    _assert_close(spark_snapshot.compute_features(LATER, **options), expected)


def test_stacked_monthly_cohorts_from_spark_equal_pandas(snapshots) -> None:  # type: ignore[no-untyped-def]
    features = FeatureSet.default()
    fitted = {}
    # Fresh Spark snapshots (sharing the features already computed): the graph's trade edges
    # must come from Spark's pairs, with no order collected on the driver.
    spark_cohorts = {d: replace(snapshots[d][0]) for d in DATES}
    for engine in (0, 1):
        cohorts = spark_cohorts if engine == 0 else {d: snapshots[d][1] for d in DATES}
        last = features.frame(cohorts[DATES[-1]], DATES[-1])
        scaler = FeatureScaler(list(last.columns)).fit(last)
        fitted[engine] = stack_cohorts(
            cohorts, DATES, features.frame, scaler, target="defaulted", weighting="gmv"
        )
    spark_stack, pandas_stack = fitted[0], fitted[1]
    _assert_close(spark_stack.features, pandas_stack.features)
    assert np.array_equal(spark_stack.groups, pandas_stack.groups)
    y = (spark_stack.graph.data.y.numpy(), pandas_stack.graph.data.y.numpy())
    assert np.array_equal(*y, equal_nan=True)
    assert np.allclose(spark_stack.graph.data.x.numpy(), pandas_stack.graph.data.x.numpy())
    for edges in ("edge_index", "edge_weight", "id_edge_index", "thin"):
        assert spark_stack.graph.data[edges].equal(pandas_stack.graph.data[edges]), edges
    assert not any("orders" in vars(s) for s in spark_cohorts.values())


def test_spark_trade_pairs_equal_the_pandas_pairs_in_order(snapshots) -> None:  # type: ignore[no-untyped-def]
    spark_snapshot, lake_snapshot = snapshots[LATER]
    for since in (None, LATER - pd.Timedelta(days=365)):
        got = replace(spark_snapshot).trade_pairs(LATER, since=since)
        expected = trade_pairs(lake_snapshot.orders, LATER, since=since)
        assert len(got) > 100
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert spark_snapshot.first_order_at() == lake_snapshot.orders["ts"].min()


def test_snapshot_command_with_spark_writes_what_pandas_writes(
    spark, lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        for engine in ("pandas", "spark"):
            result = CliRunner().invoke(
                app,
                ["snapshot", "--as-of", "2023-12-01", "--lake", str(lake),
                 "--out", str(tmp_path / engine), "--engine", engine],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    folder = "as_of=2023-12-01"
    got = pd.read_parquet(tmp_path / "spark" / folder / "features.parquet")
    expected = pd.read_parquet(tmp_path / "pandas" / folder / "features.parquet")
    _assert_close(got.set_index("business_id"), expected.set_index("business_id"))
    for name in FRAMES:
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "spark" / folder / f"{name}.parquet"),
            pd.read_parquet(tmp_path / "pandas" / folder / f"{name}.parquet"),
            check_dtype=False,
            obj=name,
        )


def test_the_spark_engine_without_a_lake_says_to_write_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["snapshot", "--as-of", "2024-01-01", "--out", str(tmp_path / "o"),
                  "--engine", "spark"],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "--lake" in result.output and "validate EXPORT --lake" in result.output


def test_train_and_score_with_spark_give_the_pandas_scores(
    spark, lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A model trained on Spark's features is the artefact ``score`` reads, and scoring with
    either engine gives the same scores."""
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")  # nothing listens: Neo4j is not used
    get_settings.cache_clear()
    models, runner = tmp_path / "models", CliRunner()
    try:
        trained = runner.invoke(
            app,
            ["train", "--lake", str(lake), "--engine", "spark", "--as-of", "2023-12-01",
             "--models-dir", str(models), "--folds", "2", "--champion", "trees_own_cp"],
        )  # fmt: skip
        assert trained.exit_code == 0, trained.output
        for engine in ("spark", "pandas"):
            scored = runner.invoke(
                app,
                ["score", "--lake", str(lake), "--engine", engine, "--as-of", "2024-06-01",
                 "--models-dir", str(models), "--no-write", "--out", str(tmp_path / engine)],
            )  # fmt: skip
            assert scored.exit_code == 0, scored.output
    finally:
        get_settings.cache_clear()
    got = pd.read_csv(tmp_path / "spark").set_index("business_id").sort_index()
    expected = pd.read_csv(tmp_path / "pandas").set_index("business_id").sort_index()
    assert len(got) > 100 and got.index.equals(expected.index)
    assert np.allclose(got["pd"], expected["pd"], rtol=0, atol=1e-9)
    assert (got["grade"] == expected["grade"]).all()
