"""Score runs: every score write-back records itself as a ``(:ScoreRun)`` node.

``(:ScoreRun {run_id, as_of, model_version, status, started_at, finished_at, written, total,
attempts})`` is ``running`` while batches are written, ``complete`` when every batch committed
and ``failed`` when the writer stopped with an error it could still report. A run whose process
or database died stays ``running``: either way the latest run reads as incomplete, so a book
with some businesses on the new date and others on the old one is visible. The run id is the
score date and model version, so re-running the same score completes the same node.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import neo4j
import pandas as pd

from graph import cypher
from graph.session import epoch_micros, read_frame, run, session, write

logger = logging.getLogger(__name__)

STATUSES = ("running", "complete", "failed")
#: Seconds a best-effort statement after a failure may wait for a connection.
QUICK_S = 3.0


class ScoreRunIncompleteError(RuntimeError):
    """A score write-back stopped part-way; its run is recorded as incomplete."""

    def __init__(self, run_id: str, done: int, total: int, cause: BaseException) -> None:
        super().__init__(
            f"writing scores stopped ({type(cause).__name__}) and score run {run_id} is "
            f"incomplete ({done} of {total} scores committed); fix the cause, then re-run the "
            "same `tradegraph score` to complete it"
        )
        self.run_id = run_id
        self.done = done
        self.total = total


@dataclass(frozen=True)
class ScoreRun:
    """One recorded score run."""

    run_id: str
    as_of: pd.Timestamp
    model_version: str
    status: str
    written: int
    total: int
    attempts: int
    started_at: pd.Timestamp | None
    finished_at: pd.Timestamp | None

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def describe(self) -> str:
        """One sentence for a person: which run, its state and how far it got."""
        state = "complete" if self.complete else f"incomplete ({self.status})"
        return (
            f"score run as of {self.as_of.date()} with model {self.model_version} is {state}: "
            f"{self.written} of {self.total} scores written"
        )


def run_id_for(as_of: pd.Timestamp, model_version: str) -> str:
    """The id of the run scoring as of ``as_of`` with ``model_version``."""
    return f"{pd.Timestamp(as_of).date().isoformat()}/{model_version}"


def _stamp(value: Any) -> pd.Timestamp | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(int(value), unit="us", tz="UTC")


def start_run(
    driver: neo4j.Driver,
    *,
    as_of: pd.Timestamp,
    model_version: str,
    total: int,
    database: str | None = None,
) -> str:
    """Record (or restart) the run as ``running`` with ``total`` scores to write; its id."""
    run(driver, cypher.SCORE_RUN_CONSTRAINT, database)
    run_id = run_id_for(as_of, model_version)
    write(
        driver,
        cypher.START_SCORE_RUN,
        database,
        run_id=run_id,
        as_of=epoch_micros(as_of),
        model_version=model_version,
        started_at=epoch_micros(pd.Timestamp.now(tz="UTC")),
        total=total,
    )
    return run_id


def advance(tx: neo4j.ManagedTransaction, run_id: str, ids: list[str]) -> None:
    """Count one batch's businesses into the run, inside the batch's own transaction."""
    tx.run(cypher.ADVANCE_SCORE_RUN, run_id=run_id, ids=ids).consume()


def finish_run(
    driver: neo4j.Driver, run_id: str, *, status: str, database: str | None = None
) -> None:
    """Mark the run ``complete`` or ``failed``."""
    if status not in STATUSES[1:]:
        raise ValueError(f"a run finishes as complete or failed, not {status!r}")
    write(driver, cypher.FINISH_SCORE_RUN, database, run_id=run_id, status=status)


def fail_run(driver: neo4j.Driver, run_id: str, *, database: str | None = None) -> None:
    """Best effort, without retries: mark the run ``failed``. When Neo4j itself is gone the
    run stays ``running``, which reads as incomplete just the same."""
    try:
        with session(driver, database, max_retry_s=0.0, acquire_timeout_s=QUICK_S) as s:
            s.execute_write(
                lambda tx: tx.run(cypher.FINISH_SCORE_RUN, run_id=run_id, status="failed").consume()
            )
    except Exception as err:  # the original failure matters more than this one
        logger.warning("could not mark score run %s failed (%s)", run_id, type(err).__name__)


def score_runs(
    driver: neo4j.Driver,
    *,
    limit: int = 10,
    run_id: str | None = None,
    database: str | None = None,
) -> list[ScoreRun]:
    """Recorded runs (only ``run_id`` when given), newest score date first (newest attempt
    first within a date)."""
    frame = read_frame(driver, cypher.SCORE_RUNS, database, limit=limit, run_id=run_id)
    return _runs(frame)


def _runs(frame: pd.DataFrame) -> list[ScoreRun]:
    return [
        ScoreRun(
            run_id=str(r["run_id"]),
            as_of=_stamp(r["as_of"]) or pd.Timestamp(0, tz="UTC"),
            model_version=str(r["model_version"]),
            status=str(r["status"]),
            written=int(r["written"] or 0),
            total=int(r["total"] or 0),
            attempts=int(r["attempts"] or 0),
            started_at=_stamp(r["started_at"]),
            finished_at=_stamp(r["finished_at"]),
        )
        for r in frame.to_dict("records")
    ]


def get_run(driver: neo4j.Driver, run_id: str, *, database: str | None = None) -> ScoreRun | None:
    """The run ``run_id``, or ``None``."""
    runs = score_runs(driver, limit=1, run_id=run_id, database=database)
    return runs[0] if runs else None


def latest_run(driver: neo4j.Driver, *, database: str | None = None) -> ScoreRun | None:
    """The run of the newest score date (the one the businesses' latest values come from),
    or ``None`` before any recorded run."""
    runs = score_runs(driver, limit=1, database=database)
    return runs[0] if runs else None


def latest_run_in(session: neo4j.Session) -> ScoreRun | None:
    """:func:`latest_run` as one auto-commit read in ``session``: for a caller that bounds
    its own sessions (the API's liveness gate)."""
    result = session.run(cypher.SCORE_RUNS, limit=1, run_id=None)
    runs = _runs(pd.DataFrame(result.values(), columns=list(result.keys())))
    return runs[0] if runs else None
