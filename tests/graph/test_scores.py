"""Score write-back against a real Neo4j: idempotent per run, history across runs, latest values."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

import graph.scores
from graph.load import load_frames
from graph.score_runs import ScoreRunIncompleteError, latest_run
from graph.scores import (
    grade_counts,
    read_latest_score,
    riskiest,
    score_history,
    write_scores,
)
from graph.session import read_frame
from tests.graph.frames import make_frames

pytestmark = pytest.mark.neo4j

D1 = pd.Timestamp("2025-01-01", tz="UTC")
D2 = pd.Timestamp("2025-07-01", tz="UTC")


def _load(driver) -> list[str]:
    f = make_frames(n_businesses=12, n_orders=40)
    load_frames(driver, f.businesses, f.identifiers, [f.orders], f.outcomes,
                key_fingerprint="fp", batch_size=100)  # fmt: skip
    return f.businesses["business_id"].tolist()


def _scores(ids: list[str], shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "business_id": ids,
            "pd": [0.01 + shift + i / 1000 for i in range(len(ids))],
            "score": [800 - i for i in range(len(ids))],
            "grade": ["B" if i % 2 else "C" for i in range(len(ids))],
            "reasons": [[f"reason {i}", "second"] for i in range(len(ids))],
        }
    )


def _count(driver, query: str) -> int:
    return int(read_frame(driver, query).iloc[0, 0])


def test_rewriting_the_same_run_is_idempotent(neo4j_driver) -> None:
    ids = _load(neo4j_driver)
    first = write_scores(neo4j_driver, _scores(ids), D1, "m1", batch_size=5)
    again = write_scores(neo4j_driver, _scores(ids, shift=0.1), D1, "m1", batch_size=5)
    assert first.written == again.written == len(ids)
    assert _count(neo4j_driver, "MATCH (:Score) RETURN count(*)") == len(ids)
    assert _count(neo4j_driver, "MATCH ()-[r:SCORED]->() RETURN count(r)") == len(ids)
    latest = read_latest_score(neo4j_driver, ids[0])
    assert latest is not None and latest["pd"] == pytest.approx(0.11)  # the rewrite's values


def test_two_runs_give_history_and_latest_values_on_the_business(neo4j_driver) -> None:
    ids = _load(neo4j_driver)
    write_scores(neo4j_driver, _scores(ids), D1, "m1")
    write_scores(neo4j_driver, _scores(ids, shift=0.2), D2, "m2")
    history = score_history(neo4j_driver, ids[3])
    assert history["as_of"].tolist() == [D1, D2]
    assert history["model_version"].tolist() == ["m1", "m2"]
    assert history["pd"].tolist() == pytest.approx([0.013, 0.213])
    assert history["reasons"].iloc[0] == ["reason 3", "second"]
    latest = read_latest_score(neo4j_driver, ids[3])
    assert latest is not None
    assert latest["as_of"] == D2 and latest["model_version"] == "m2"
    assert latest["grade"] == "B" and latest["score"] == 797
    assert latest["reasons"] == ["reason 3", "second"]
    counts = grade_counts(neo4j_driver)
    assert dict(zip(counts["grade"], counts["businesses"], strict=True)) == {
        "B": len(ids) // 2,
        "C": len(ids) - len(ids) // 2,
    }


def test_backfilling_an_older_date_keeps_the_newer_latest_values(neo4j_driver) -> None:
    ids = _load(neo4j_driver)
    write_scores(neo4j_driver, _scores(ids, shift=0.2), D2, "m2")
    write_scores(neo4j_driver, _scores(ids), D1, "m1")
    latest = read_latest_score(neo4j_driver, ids[0])
    assert latest is not None and latest["as_of"] == D2
    assert len(score_history(neo4j_driver, ids[0])) == 2


def test_unknown_businesses_are_counted_and_never_scored_is_none(neo4j_driver) -> None:
    ids = _load(neo4j_driver)
    result = write_scores(neo4j_driver, _scores([ids[0], "NOT-THERE"]), D1, "m1")
    assert (result.written, result.unknown) == (1, 1)
    assert read_latest_score(neo4j_driver, ids[1]) is None
    assert score_history(neo4j_driver, ids[1]).empty


def test_reason_codes_and_analyst_details_travel_with_the_score(neo4j_driver) -> None:
    ids = _load(neo4j_driver)
    scores = _scores(ids).assign(
        reason_codes=[["SALES_TREND", "BUYERS_CREDIT"] for _ in ids],
        reason_details=[[f"detail {i}", f"{ids[0]}, 40% of its sales: defaulted"] for i in
                        range(len(ids))],
    )  # fmt: skip
    write_scores(neo4j_driver, scores, D1, "m1")
    latest = read_latest_score(neo4j_driver, ids[2])
    assert latest is not None
    assert latest["reason_codes"] == ["SALES_TREND", "BUYERS_CREDIT"]
    assert latest["reason_details"] == ["detail 2", f"{ids[0]}, 40% of its sales: defaulted"]
    history = score_history(neo4j_driver, ids[2])
    assert history["reason_codes"].iloc[0] == ["SALES_TREND", "BUYERS_CREDIT"]
    top = riskiest(neo4j_driver, limit=3)
    assert top["business_id"].tolist() == ids[::-1][:3]  # highest PD first
    assert top["reason_codes"].iloc[0] == ["SALES_TREND", "BUYERS_CREDIT"]


def test_texts_live_once_on_the_score_and_reads_take_the_latest_ones(neo4j_driver) -> None:
    ids = _load(neo4j_driver)
    newer = _scores(ids, shift=0.2).assign(reasons=[[f"newer {i}"] for i in range(len(ids))])
    write_scores(neo4j_driver, newer, D2, "m2")
    write_scores(neo4j_driver, _scores(ids), D1, "m1")  # a backfill: not the latest
    on_business = _count(
        neo4j_driver,
        "MATCH (b:Business) WHERE b.risk_reasons IS NOT NULL "
        "OR b.risk_reason_details IS NOT NULL RETURN count(b)",
    )
    assert on_business == 0
    latest = read_latest_score(neo4j_driver, ids[4])
    assert latest is not None and latest["reasons"] == ["newer 4"]
    top = riskiest(neo4j_driver, limit=2)
    assert top["reasons"].tolist() == [[f"newer {len(ids) - 1}"], [f"newer {len(ids) - 2}"]]


def test_texts_an_earlier_release_kept_on_the_business_are_read_then_cleared(
    neo4j_driver,
) -> None:
    ids = _load(neo4j_driver)
    neo4j_driver.execute_query(
        "MATCH (b:Business {business_id: $id}) SET b.risk_pd = 0.5, b.risk_score = 500, "
        "b.risk_grade = 'E', b.risk_reasons = ['kept on the business'], "
        "b.risk_reason_details = ['detail kept'], b.model_version = 'old'",
        id=ids[0],
    )
    legacy = read_latest_score(neo4j_driver, ids[0])
    assert legacy is not None and legacy["reasons"] == ["kept on the business"]
    assert riskiest(neo4j_driver, limit=1)["reason_details"].iloc[0] == ["detail kept"]
    write_scores(neo4j_driver, _scores(ids), D1, "m1")
    latest = read_latest_score(neo4j_driver, ids[0])
    assert latest is not None and latest["reasons"] == ["reason 0", "second"]
    assert latest["model_version"] == "m1"


def test_scores_without_codes_are_written_with_empty_ones(neo4j_driver) -> None:
    ids = _load(neo4j_driver)
    write_scores(neo4j_driver, _scores(ids), D1, "m1")
    latest = read_latest_score(neo4j_driver, ids[0])
    assert latest is not None and latest["reason_codes"] == [] and latest["reasons"]


def test_concurrent_batches_commit_in_order_so_a_failure_keeps_only_earlier_ones(
    neo4j_driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are written by concurrent transactions; when the first one fails after the
    second has finished writing, the second must still not commit."""
    ids = _load(neo4j_driver)
    real = graph.scores.write_batch
    second_written = threading.Event()

    def writer(tx, batch, params) -> None:
        real(tx, batch, params)
        if batch[0]["business_id"] == ids[4]:
            second_written.set()
        elif batch[0]["business_id"] == ids[0]:
            assert second_written.wait(10), "the batches were not written concurrently"
            raise ConnectionResetError("connection to Neo4j lost mid-batch")

    monkeypatch.setattr(graph.scores, "write_batch", writer)
    with pytest.raises(ScoreRunIncompleteError, match="0 of 12") as failure:
        write_scores(neo4j_driver, _scores(ids), D1, "m1", batch_size=4, writers=2)
    assert isinstance(failure.value.__cause__, ConnectionResetError)  # not a timed-out wait
    assert _count(neo4j_driver, "MATCH (s:Score) RETURN count(s)") == 0
    assert _count(neo4j_driver, "MATCH (b:Business) WHERE b.risk_pd IS NOT NULL "
                                "RETURN count(b)") == 0  # fmt: skip
    run = latest_run(neo4j_driver)
    assert run is not None and (run.status, run.written) == ("failed", 0)

    monkeypatch.undo()  # the same run with three writers completes, every batch counted once
    result = write_scores(neo4j_driver, _scores(ids), D1, "m1", batch_size=4, writers=3)
    assert result.written == len(ids)
    run = latest_run(neo4j_driver)
    assert run is not None and (run.status, run.written, run.total) == ("complete", 12, 12)
    assert _count(neo4j_driver, "MATCH (:Business)-[:SCORED]->(s:Score) RETURN count(s)") == 12
