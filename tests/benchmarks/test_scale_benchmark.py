"""The scale benchmark: DDP figures are medians over alternating launches of one model, and the
floor does the same work in pandas and in Spark."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import scale_benchmark

from loaders.lake import LakeRows, write_lake_frames
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames


def _launch(rate: float, best_epoch: int = 2) -> dict:
    """What one ``torchrun`` launch reports (rank 0's figures and every rank's rate)."""
    return {
        "epochs": 6, "best_epoch": best_epoch, "train_seconds": 1_000 / rate,
        "labelled_per_second_per_process": rate, "per_rank_labelled_per_second": [rate, rate],
        "wall_seconds_with_launch": 20.0, "held_out_scores": [0.1, 0.7],
    }  # fmt: skip


def test_ddp_launches_report_the_median_rate_and_every_launch() -> None:
    figures = scale_benchmark.median_ddp([_launch(100.0), _launch(300.0), _launch(200.0)])
    assert figures["labelled_per_second_per_process"] == 200.0
    assert figures["labelled_per_second_runs"] == [100.0, 300.0, 200.0]
    assert figures["train_seconds"] == 5.0
    assert figures["held_out_scores"] == [0.1, 0.7]


def test_ddp_launches_that_trained_different_models_are_refused() -> None:
    with pytest.raises(RuntimeError, match="not reproducible"):
        scale_benchmark.median_ddp([_launch(100.0), _launch(100.0, best_epoch=3)])


@pytest.mark.slow
def test_the_floor_counts_the_same_orders_in_pandas_and_spark(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    market = generate_marketplace(SyntheticConfig(n_businesses=200, seed=3))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "floor-key")
    rows = LakeRows(businesses, identifiers, [orders], outcomes, market.credit_events)
    write_lake_frames(tmp_path, rows, key_fingerprint="fp", base_currency="USD", source="test")
    as_of = pd.Timestamp(market.as_of_dates[-1]).tz_convert("UTC")

    by_pandas = scale_benchmark._pandas_floor(tmp_path, as_of)
    by_spark = scale_benchmark._spark_floor(spark, tmp_path, as_of)

    before = orders[pd.to_datetime(orders["ts"], utc=True) < as_of]
    age = (as_of - pd.to_datetime(before["ts"], utc=True)).dt.days
    assert by_pandas["orders"] == len(before) > 0
    assert by_pandas["seller_id_orders_365d"] == (age < 365).sum()
    assert (
        by_pandas["buyer_id_not_completed_90d"]
        == ((age < 90) & (before["status"] != "completed")).sum()
    )
    assert by_spark.keys() == by_pandas.keys()
    for name, value in by_pandas.items():
        assert by_spark[name] == pytest.approx(value, rel=1e-9), name
