"""On-the-fly snapshots: one read per date, different dates side by side, a bounded cache."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from tradegraph.api import scoring
from tradegraph.api.scoring import CACHED_DATES, Scorer

READ_S = 0.4


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[pd.Timestamp]:
    """Replace the Neo4j snapshot read with a slow stand-in that records its dates."""
    seen: list[pd.Timestamp] = []
    lock = threading.Lock()

    def slow_read(_driver, as_of, database=None):
        time.sleep(READ_S)
        with lock:
            seen.append(as_of)
        return {"as_of": as_of}

    import graph.snapshot

    monkeypatch.setattr(graph.snapshot, "read_snapshot", slow_read)
    return seen


def _dates(n: int) -> list[pd.Timestamp]:
    return [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=i) for i in range(n)]


def test_requests_for_different_dates_read_side_by_side(reads) -> None:
    scorer = Scorer(driver=None, score_function=lambda *a: pd.DataFrame())  # type: ignore[arg-type]
    dates = _dates(4)
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(scorer.snapshot, dates))
    elapsed = time.perf_counter() - started
    assert [g["as_of"] for g in got] == dates
    assert elapsed < 2 * READ_S, f"4 dates took {elapsed:.2f}s: they waited on each other"


def test_requests_for_one_date_share_one_read(reads) -> None:
    scorer = Scorer(driver=None, score_function=lambda *a: pd.DataFrame())  # type: ignore[arg-type]
    date = _dates(1)[0]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(scorer.snapshot, [date] * 6))
    assert reads == [date]


def test_the_cache_keeps_a_bounded_number_of_dates(reads) -> None:
    scorer = Scorer(driver=None, score_function=lambda *a: pd.DataFrame())  # type: ignore[arg-type]
    for date in _dates(CACHED_DATES + 2):
        scorer.snapshot(date)
    assert len(scorer._cache) == CACHED_DATES
    assert scoring.CACHED_DATES == CACHED_DATES


def test_with_a_lake_snapshots_come_from_the_lake_not_neo4j(reads, tmp_path) -> None:
    from loaders.lake import LakeRows, read_lake_snapshot, write_lake_frames
    from tests.graph.frames import make_frames

    f = make_frames(n_businesses=15, n_orders=60)
    rows = LakeRows(f.businesses, f.identifiers, [f.orders], f.outcomes)
    write_lake_frames(tmp_path, rows, key_fingerprint="fp", base_currency="USD", source="t")
    scorer = Scorer(driver=None, score_function=lambda *a: pd.DataFrame(), lake=tmp_path)  # type: ignore[arg-type]
    date = pd.Timestamp("2025-03-01", tz="UTC")
    snapshot = scorer.snapshot(date)
    assert reads == []  # Neo4j was not read
    expected = read_lake_snapshot(tmp_path, date)
    pd.testing.assert_frame_equal(snapshot.orders, expected.orders)
    assert len(snapshot.orders) > 0


def test_warm_up_loads_the_model_before_the_first_request(tmp_path, caplog) -> None:
    from tests.gnn.scoring_fixtures import FEATURES, fast, market
    from tradegraph.api.scoring import artefact_score_function, warm_up

    missing = artefact_score_function(None, tmp_path / "no-models")
    with caplog.at_level("WARNING"):
        warm_up(missing)  # no model yet: said, not raised (requests answer 503 as before)
    assert "not available yet" in caplog.text

    from gnn.scoring import train_models

    frames = market()
    train_models(frames, frames.as_of, fast("trees_own"), feature_set=FEATURES,
                 models_dir=tmp_path / "models")  # fmt: skip
    function = artefact_score_function(None, tmp_path / "models")
    warm_up(function)
    import gnn.artefact

    loads = []
    real = gnn.artefact.load_artefact
    gnn.artefact.load_artefact = lambda *a, **k: loads.append(a) or real(*a, **k)  # type: ignore[assignment]
    try:
        assert function.warm().champion == "trees_own"  # type: ignore[attr-defined]
    finally:
        gnn.artefact.load_artefact = real
    assert loads == []  # loaded once, at warm-up: the first request does not load it again


def test_model_state_says_loading_then_ready_or_unavailable(tmp_path) -> None:
    from tests.gnn.scoring_fixtures import FEATURES, fast, market
    from tradegraph.api.scoring import artefact_score_function

    missing = Scorer(driver=None, score_function=artefact_score_function(None, tmp_path / "none"))  # type: ignore[arg-type]
    missing.start_warm_up()
    missing._warming.join()  # type: ignore[union-attr]
    assert missing.model_state == "unavailable"

    from gnn.scoring import train_models

    frames = market()
    train_models(frames, frames.as_of, fast("trees_own"), feature_set=FEATURES,
                 models_dir=tmp_path / "models")  # fmt: skip
    gate = threading.Event()
    function = artefact_score_function(None, tmp_path / "models")
    real_warm = function.warm  # type: ignore[attr-defined]
    function.warm = lambda: gate.wait(30) and real_warm()  # type: ignore[attr-defined]
    scorer = Scorer(driver=None, score_function=function)  # type: ignore[arg-type]
    scorer.start_warm_up()
    assert scorer.model_state == "loading"
    gate.set()
    scorer._warming.join()  # type: ignore[union-attr]
    assert scorer.model_state == "ready"


def test_on_the_fly_requests_prepare_the_population_once_per_snapshot(
    tmp_path, monkeypatch
) -> None:
    import gnn.scoring
    from gnn.scoring import score, train_models
    from tests.gnn.scoring_fixtures import FEATURES, fast, market
    from tradegraph.api.scoring import artefact_score_function

    frames = market()
    train_models(frames, frames.as_of, fast("graphsage"), feature_set=FEATURES,
                 models_dir=tmp_path / "models")  # fmt: skip
    real = gnn.scoring.prepare_scores
    calls: list[object] = []

    def counted(artefact, snapshot, as_of, **kw):  # type: ignore[no-untyped-def]
        calls.append(snapshot)
        return real(artefact, snapshot, as_of, feature_set=FEATURES)

    function = artefact_score_function(None, tmp_path / "models")
    model = function.warm()  # type: ignore[attr-defined]
    full = score(model, frames, frames.as_of, feature_set=FEATURES).set_index("business_id")
    monkeypatch.setattr(gnn.scoring, "prepare_scores", counted)
    ids = sorted(frames.businesses["business_id"].astype(str))[:3]
    answers = [function(frames, frames.as_of, [i]) for i in ids]
    assert len(calls) == 1  # three requests, one population
    assert sum(len(a) for a in answers) >= 2
    for i, answer in zip(ids, answers, strict=True):
        if len(answer):  # an id the model does not score (not an SME) answers no row
            assert answer["pd"].iloc[0] == pytest.approx(full.loc[i, "pd"], abs=1e-6)
    newer = type(frames)(*(getattr(frames, f) for f in ("businesses", "identifiers", "orders",
                                                       "outcomes", "as_of")))  # fmt: skip
    function(newer, frames.as_of, ids[:1])
    assert len(calls) == 2  # a new snapshot of the date is prepared again


def test_ids_in_the_latest_runs_store_are_scored_from_their_neighbourhood_alone(
    tmp_path, reads
) -> None:
    """For the store's score date, a business the full run scored is answered from its
    neighbourhood (the full run's PD) without reading a snapshot; another date, or a
    business the store does not hold, goes through the snapshot as before."""
    from gnn.neighbourhood import NeighbourhoodStore
    from gnn.scoring import prepare_scores, score_prepared, train_models
    from tests.gnn.scoring_fixtures import FEATURES, fast, market
    from tradegraph.api.scoring import artefact_score_function

    frames = market()
    train_models(frames, frames.as_of, fast("graphsage"), feature_set=FEATURES,
                 models_dir=tmp_path / "models")  # fmt: skip
    function = artefact_score_function(None, tmp_path / "models", tmp_path / "serving")
    model = function.warm()  # type: ignore[attr-defined]
    prepared = prepare_scores(model, frames, frames.as_of, feature_set=FEATURES)
    full = score_prepared(prepared).set_index("business_id")
    NeighbourhoodStore.write(prepared, tmp_path / "serving")
    scorer = Scorer(driver=None, score_function=function)  # type: ignore[arg-type]
    ids = list(full.index[:2])
    answer = scorer.on_the_fly(ids, frames.as_of)
    assert reads == []  # no snapshot was read
    assert list(answer.index) == sorted(ids, key=lambda i: -full.loc[i, "pd"])
    for i in ids:
        assert answer.loc[i, "pd"] == pytest.approx(full.loc[i, "pd"], abs=1e-6)
        assert answer.loc[i, "reasons"] == full.loc[i, "reasons"]
    with pytest.raises(AttributeError):  # the stand-in snapshot cannot be scored ...
        scorer.on_the_fly(ids, frames.as_of + pd.Timedelta(days=1))
    assert reads == [frames.as_of + pd.Timedelta(days=1)]  # ... but it was read for that date
    with pytest.raises(AttributeError):
        scorer.on_the_fly(["not-in-the-store"], frames.as_of)
    assert reads[-1] == frames.as_of
