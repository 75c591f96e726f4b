"""Fast unit tests of the graph layer against a driver that records Cypher and parameters
(``tests/fake_neo4j.py``); the same behaviour is tested end to end on the real server in the
neighbouring modules."""

from __future__ import annotations

import neo4j
import pandas as pd
import pytest

from graph import cypher
from graph.clusters import run_detector
from graph.query_library import QueryRefusedError, load_library, run_query
from graph.score_runs import ScoreRunIncompleteError
from graph.scores import write_scores
from tests.fake_neo4j import RecordingDriver

#: Every statement the graph layer may send: the constants of graph.cypher.
KNOWN_STATEMENTS = {v for k, v in vars(cypher).items() if k.isupper() and isinstance(v, str)}
AS_OF = pd.Timestamp("2025-01-01", tz="UTC")


def _scores(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "business_id": [f"B{i}" for i in range(n)],
            "pd": [0.01 * (i + 1) for i in range(n)],
            "score": [700 - i for i in range(n)],
            "grade": ["C"] * n,
            "reasons": [["Sales fell by 38%"]] * n,
            "reason_codes": [["SALES_TREND"]] * n,
            "reason_details": [["Sales fell by 38% (+0.41 to the log-odds)"]] * n,
        }
    )


def test_write_scores_sends_library_statements_with_rows_as_parameters() -> None:
    driver = RecordingDriver(answers=[("RETURN count(id) AS unknown", [{"unknown": 0}])])
    result = write_scores(driver, _scores(5), AS_OF, "m1", batch_size=2)  # type: ignore[arg-type]
    assert result.written == 5
    assert all(call.text in KNOWN_STATEMENTS for call in driver.calls)
    batches = driver.statements(cypher.WRITE_SCORES)  # written concurrently, in any order
    assert sorted(len(c.params["rows"]) for c in batches) == [1, 2, 2]
    assert all(c.mode == "write" for c in batches)
    row = next(c for c in batches if c.params["rows"][0]["business_id"] == "B0").params["rows"][0]
    assert row["reason_codes"] == ["SALES_TREND"] and row["reasons"] == ["Sales fell by 38%"]
    assert "B0" not in cypher.WRITE_SCORES  # values travel as parameters, never in the text
    # the run is started, advanced in each batch's own write transaction in batch order,
    # then completed
    order = [c.text for c in driver.calls]
    assert order.index(cypher.START_SCORE_RUN) < order.index(cypher.WRITE_SCORES)
    advances = driver.statements(cypher.ADVANCE_SCORE_RUN)
    assert [c.params["ids"] for c in advances] == [["B0", "B1"], ["B2", "B3"], ["B4"]]
    assert driver.calls[-1].text == cypher.FINISH_SCORE_RUN
    assert driver.calls[-1].params["status"] == "complete"


def test_a_failed_batch_marks_the_run_failed_and_says_how_far_it_got() -> None:
    driver = RecordingDriver(answers=[("RETURN count(id) AS unknown", [{"unknown": 0}])])
    write_scores(driver, _scores(2), AS_OF, "m1", batch_size=2)  # type: ignore[arg-type]
    driver.calls.clear()

    def second_batch_fails(params):
        if params["rows"][0]["business_id"] == "B2":
            raise neo4j.exceptions.ServiceUnavailable("gone")
        return []

    driver.answers.insert(0, (cypher.WRITE_SCORES, second_batch_fails))
    with pytest.raises(ScoreRunIncompleteError, match="2 of 5"):
        write_scores(driver, _scores(5), AS_OF, "m1", batch_size=2)  # type: ignore[arg-type]
    last = driver.calls[-1]
    assert last.text == cypher.FINISH_SCORE_RUN and last.params["status"] == "failed"
    # the batch after the failed one was rolled back before it counted itself in
    advances = driver.statements(cypher.ADVANCE_SCORE_RUN)
    assert [c.params["ids"] for c in advances] == [["B0", "B1"]]


def test_write_scores_refuses_a_business_named_twice_before_writing() -> None:
    driver = RecordingDriver()
    scores = pd.concat([_scores(3), _scores(1)], ignore_index=True)
    with pytest.raises(ValueError, match="names 1 businesses more than once .first: B0"):
        write_scores(driver, scores, AS_OF, "m1")  # type: ignore[arg-type]
    assert driver.calls == []


def test_library_queries_run_their_file_text_with_bound_parameters_after_a_read_plan() -> None:
    query = load_library()["wash_trading"]
    driver = RecordingDriver()
    run_query(driver, query, {"limit": "7"})  # type: ignore[arg-type]
    explain, real = driver.calls
    assert explain.text == "EXPLAIN " + query.text and real.text == query.text
    assert explain.mode == real.mode == "read"
    assert real.params == query.bind({"limit": 7}) and real.params["limit"] == 7


def test_a_query_the_server_plans_as_a_write_is_refused_before_it_runs() -> None:
    driver = RecordingDriver(plan="rw")
    with pytest.raises(QueryRefusedError, match="refused a write"):
        run_query(driver, load_library()["wash_trading"])  # type: ignore[arg-type]
    assert [c.text.startswith("EXPLAIN") for c in driver.calls] == [True]


def test_a_detector_past_its_budget_is_retried_on_its_narrow_scope_then_skipped() -> None:
    query = load_library()["circular_trading"]

    def timeout() -> neo4j.exceptions.Neo4jError:
        return neo4j.exceptions.Neo4jError._hydrate_neo4j(
            code="Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
            message="timed out",
        )

    driver = RecordingDriver()
    driver.failures = {"EXPLAIN": timeout()}
    rows, run = run_detector(driver, query, None, budget_s=5.0)  # type: ignore[arg-type]
    assert run.status == "narrowed" and rows == []
    narrowed = driver.calls[-1].params
    assert all(narrowed[name] == value for name, value in query.narrow)
    assert all(c.text.endswith(query.text) for c in driver.calls)  # parameters only

    always = RecordingDriver(answers=[("EXPLAIN", lambda p: (_ for _ in ()).throw(timeout()))])
    rows, run = run_detector(always, query, None, budget_s=5.0)  # type: ignore[arg-type]
    assert run.status == "skipped" and rows == [] and "missing" in run.detail
