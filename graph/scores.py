"""Write scores back to Neo4j with history, and read them back.

Each scoring run adds ``(:Business)-[:SCORED]->(:Score {business_id, as_of, model_version, pd,
score, grade, reasons, reason_codes, reason_details, scored_at})`` and sets the latest values on
the business (``risk_pd, risk_score, risk_grade, risk_reason_codes, model_version, scored_at,
risk_as_of``); the texts stay on the ``:Score`` alone, and the reads below fetch them from the
one the business's latest values came from. ``reasons`` are the applicant's sentences,
``reason_details`` the analyst's (they name counterparties), aligned with the codes of
:mod:`gnn.reason_codes`.
Writes go in batches and are idempotent per (business, as_of, model_version): rerunning a run
updates its ``Score`` nodes in place instead of adding more. Each write-back records a
``(:ScoreRun)`` (:mod:`graph.score_runs`), so a run that stopped part-way is visible.

A server runs one transaction on one core, so a write-back runs ``writers`` batches at once
(:func:`write_in_order`); their commits still go in batch order, so the businesses a stopped run
wrote are always its first batches and its ``written`` counts exactly those.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import neo4j
import pandas as pd

from graph import cypher, score_runs
from graph.session import epoch_micros, read_frame, run, session
from loaders.columns import as_utc

logger = logging.getLogger(__name__)

SCORE_FRAME_COLUMNS = ["business_id", "pd", "score", "grade", "reasons"]
#: Optional columns, written as empty lists when a frame lacks them.
REASON_COLUMNS = ["reason_codes", "reason_details"]
#: Transactions a write-back runs at once: two keep both cores of a small server busy.
WRITERS = 2
#: Most scores one write-back transaction holds.
BATCH_SIZE = 5_000


@dataclass(frozen=True)
class WriteResult:
    """How many scores were written, and how many named businesses Neo4j does not hold."""

    written: int
    unknown: int
    run_id: str = ""


def _from_micros(value: Any) -> pd.Timestamp | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(int(value), unit="us", tz="UTC")


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One parameter map per score, column by column (a per-row ``itertuples`` costs a third
    of a write-back of thousands of scores)."""
    n = len(frame)

    def texts(column: str) -> list[list[str]]:
        if column not in frame:
            return [[] for _ in range(n)]
        return [list(map(str, value)) for value in frame[column]]

    columns = zip(
        frame["business_id"].astype(str).tolist(),
        frame["pd"].astype(float).tolist(),
        frame["score"].astype(int).tolist(),
        frame["grade"].astype(str).tolist(),
        texts("reasons"),
        *(texts(c) for c in REASON_COLUMNS),
        strict=True,
    )
    keys = ("business_id", "pd", "score", "grade", "reasons", *REASON_COLUMNS)
    return [dict(zip(keys, values, strict=True)) for values in columns]


def write_scores(
    driver: neo4j.Driver,
    scores: pd.DataFrame,
    as_of: pd.Timestamp | str,
    model_version: str,
    *,
    scored_at: pd.Timestamp | None = None,
    batch_size: int = BATCH_SIZE,
    writers: int = WRITERS,
    database: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> WriteResult:
    """Write ``scores`` (columns ``business_id, pd, score, grade, reasons`` and, when present,
    ``reason_codes, reason_details``) for one run.

    Batches hold at most ``batch_size`` scores and are made small enough that each of the
    ``writers`` concurrent transactions gets one (:func:`write_in_order`). Businesses missing
    from Neo4j are counted in ``unknown`` and skipped. ``progress(n)`` is called after each
    batch commits with the rows it held. The run is recorded as a ``(:ScoreRun)`` (see
    :mod:`graph.score_runs`); when a batch fails, the run is left incomplete and
    :class:`~graph.score_runs.ScoreRunIncompleteError` says so.
    """
    missing = [c for c in SCORE_FRAME_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"scores frame lacks columns {missing}: pass the output of gnn.scoring")
    if writers < 1 or batch_size < 1:
        raise ValueError(f"writers ({writers}) and batch_size ({batch_size}) must be at least 1")
    repeated = scores["business_id"].astype(str).duplicated()
    if repeated.any():
        raise ValueError(
            f"scores frame names {int(repeated.sum())} businesses more than once (first: "
            f"{scores['business_id'][repeated].iloc[0]}): a run writes one score per business"
        )
    stamp = epoch_micros(as_utc(as_of))
    at = epoch_micros(as_utc(scored_at) if scored_at is not None else pd.Timestamp.now(tz="UTC"))
    run(driver, cypher.SCORE_CONSTRAINT, database)
    ids = scores["business_id"].astype(str).tolist()
    unknown = read_frame(driver, cypher.COUNT_UNKNOWN, database, ids=ids)
    n_unknown = int(unknown["unknown"].iloc[0]) if not unknown.empty else 0
    rows = _rows(scores)
    run_id = score_runs.start_run(
        driver, as_of=as_utc(as_of), model_version=model_version,
        total=len(rows) - n_unknown, database=database,
    )  # fmt: skip
    params = {"as_of": stamp, "scored_at": at, "model_version": model_version}
    size = max(1, min(batch_size, math.ceil(len(rows) / writers)))
    batches = [rows[start : start + size] for start in range(0, len(rows), size)]
    written = write_in_order(
        driver, batches, params, run_id, database=database, writers=writers, progress=progress
    )
    if written.error is not None:
        score_runs.fail_run(driver, run_id, database=database)
        if isinstance(written.error, Exception):
            raise score_runs.ScoreRunIncompleteError(
                run_id, written.rows, len(rows), written.error
            ) from written.error
        raise written.error
    score_runs.finish_run(driver, run_id, status="complete", database=database)
    logger.info("score run %s complete: %d written, %d unknown", run_id, len(rows) - n_unknown,
                n_unknown)  # fmt: skip
    return WriteResult(written=len(rows) - n_unknown, unknown=n_unknown, run_id=run_id)


def write_batch(
    tx: neo4j.ManagedTransaction, batch: list[dict[str, Any]], params: dict[str, Any]
) -> None:
    """Write one batch of scores inside ``tx``."""
    tx.run(cypher.WRITE_SCORES, rows=batch, **params).consume()


class _EarlierBatchFailed(Exception):
    """Rolls a batch back because a batch before it did not commit."""


@dataclass(frozen=True)
class OrderedWrite:
    """What :func:`write_in_order` committed: the first ``batches`` (``rows`` scores), and the
    error that stopped it (``None`` when every batch committed)."""

    batches: int
    rows: int
    error: BaseException | None


def write_in_order(
    driver: neo4j.Driver,
    batches: list[list[dict[str, Any]]],
    params: dict[str, Any],
    run_id: str,
    *,
    database: str | None = None,
    writers: int = WRITERS,
    progress: Callable[[int], None] | None = None,
) -> OrderedWrite:
    """Write ``batches`` in up to ``writers`` concurrent transactions, committing in order.

    Each transaction writes its batch at once, then waits for the batch before it to commit
    before it counts itself into the run (:func:`graph.score_runs.advance`) and commits. So
    the writes overlap but the commits keep batch order: once a batch fails, no later batch
    commits, and what a stopped run left in Neo4j is a prefix of its batches. Batches must
    name different businesses, or a later one could wait on locks an earlier one needs.
    """
    settled = [threading.Event() for _ in batches]
    committed = [False] * len(batches)
    stop = threading.Event()

    def write_one(index: int) -> None:
        batch = batches[index]

        def work(tx: neo4j.ManagedTransaction) -> None:
            if stop.is_set():
                raise _EarlierBatchFailed
            write_batch(tx, batch, params)
            if index:
                settled[index - 1].wait()
            if stop.is_set() or (index and not committed[index - 1]):
                raise _EarlierBatchFailed
            score_runs.advance(tx, run_id, [r["business_id"] for r in batch])

        try:
            with session(driver, database) as s:
                s.execute_write(work)
            committed[index] = True
        finally:
            settled[index].set()

    done, rows, error = 0, 0, None
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="score-writer") as pool:
        futures: list[Future[None]] = [pool.submit(write_one, i) for i in range(len(batches))]
        try:
            for future, batch in zip(futures, batches, strict=True):
                try:
                    future.result()
                except _EarlierBatchFailed:
                    continue
                except Exception as err:
                    stop.set()
                    error = error or err
                    continue
                if error is None:
                    done, rows = done + 1, rows + len(batch)
                    if progress is not None:
                        progress(len(batch))
        except BaseException as interrupt:  # Ctrl-C while waiting: let no later batch commit
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            done = committed.index(False) if False in committed else len(committed)
            rows = sum(len(b) for b in batches[:done])
            return OrderedWrite(done, rows, interrupt)
    return OrderedWrite(done, rows, error)


def read_latest_score(
    driver: neo4j.Driver, business_id: str, *, database: str | None = None
) -> dict[str, Any] | None:
    """The business's latest score as a dict (``business_id, pd, score, grade, reasons,
    reason_codes, reason_details, model_version, as_of, scored_at``), or ``None`` when it was
    never scored."""
    frame = read_frame(driver, cypher.READ_LATEST_SCORE, database, business_id=business_id)
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    for column in ("reasons", *REASON_COLUMNS):
        row[column] = list(row[column] or [])
    row["as_of"] = _from_micros(row["as_of"])
    row["scored_at"] = _from_micros(row["scored_at"])
    return row


def score_history(
    driver: neo4j.Driver, business_id: str, *, database: str | None = None
) -> pd.DataFrame:
    """Every score of the business, oldest first: ``business_id, as_of, model_version, pd,
    score, grade, reasons, reason_codes, reason_details, scored_at``."""
    frame = read_frame(driver, cypher.SCORE_HISTORY, database, business_id=business_id)
    columns = ["business_id", "as_of", "model_version", "pd", "score", "grade", "reasons",
               *REASON_COLUMNS, "scored_at"]  # fmt: skip
    frame = frame.reindex(columns=columns)
    for column in ("as_of", "scored_at"):
        frame[column] = pd.to_datetime(frame[column].astype("Int64"), unit="us", utc=True)
    return frame


def riskiest(driver: neo4j.Driver, *, limit: int = 20, database: str | None = None) -> pd.DataFrame:
    """The ``limit`` businesses with the highest latest PD: ``business_id, pd, score, grade,
    reason_codes, reasons, reason_details, as_of``."""
    frame = read_frame(driver, cypher.RISKIEST_SCORES, database, limit=int(limit))
    columns = ["business_id", "pd", "score", "grade", "reason_codes", "reasons",
               "reason_details", "as_of"]  # fmt: skip
    frame = frame.reindex(columns=columns)
    for column in ("reasons", *REASON_COLUMNS):
        frame[column] = [list(v) if isinstance(v, list) else [] for v in frame[column]]
    frame["as_of"] = pd.to_datetime(frame["as_of"].astype("Int64"), unit="us", utc=True)
    return frame


def grade_counts(driver: neo4j.Driver, *, database: str | None = None) -> pd.DataFrame:
    """Businesses per latest grade: ``grade, businesses``."""
    return read_frame(driver, cypher.GRADE_COUNTS, database)
