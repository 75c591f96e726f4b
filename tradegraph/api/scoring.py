"""Scores for the API: stored ones read from Neo4j, and on-the-fly ones for businesses that have
none yet (including businesses that arrived after training), computed from the graph.

On-the-fly scoring reads the point-in-time snapshot as of the score date (GraphSAGE needs the
neighbourhood), prepares the population's features, graph and scores once per snapshot, and
explains the requested ids only. The snapshot is cached for ``ttl_s`` seconds per date, so a
burst of requests reads the graph once; a business that arrives later is seen once the cache
expires. The default score date is the next UTC midnight,
so everything known up to now is used. Only SMEs are scored (the data contract).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import neo4j
import pandas as pd

from graph import cypher
from graph.query_library import to_plain
from tradegraph.api.coalescing import ReadCoalescer
from tradegraph.api.liveness import Neo4jGate

#: (snapshot, as_of, business_ids) -> one row per scored id with ``business_id, pd, score,
#: grade, reasons, model_version`` (``gnn.scoring.score``'s output).
logger = logging.getLogger(__name__)

ScoreFunction = Callable[[Any, pd.Timestamp, list[str]], pd.DataFrame]
#: Where the on-the-fly model stands (``/health``).
ModelState = Literal["loading", "ready", "unavailable"]


class ScoringUnavailableError(RuntimeError):
    """No model to score with (nothing trained yet, or the model folder is broken)."""


def next_midnight(now: dt.datetime | None = None) -> pd.Timestamp:
    """The first UTC midnight after ``now``: the default score date of on-the-fly scores."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return pd.Timestamp(now.date(), tz="UTC") + pd.Timedelta(days=1)


def as_reasons(value: Any) -> list[str]:
    """Reasons as a list of texts, whether stored as a list, a JSON string or one text."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return [value]
        return as_reasons(parsed) if not isinstance(parsed, str) else [parsed]
    if isinstance(value, dict):
        return [str(value.get("text") or value.get("reason") or value)]
    if hasattr(value, "__iter__"):
        return [r for item in value for r in as_reasons(item)]
    return [str(value)]


def artefact_score_function(
    artefact_dir: Path | None, models_dir: Path, serving_dir: Path | None = None
) -> ScoreFunction:
    """A :data:`ScoreFunction` running ``gnn.scoring.score`` with the model in
    ``artefact_dir`` (default: the latest in ``models_dir``), loaded on first use. What the
    whole population needs (``gnn.scoring.prepare_scores``) is kept per score date while the
    snapshot it came from is the one passed in (the scorer's snapshot cache decides).

    With ``serving_dir`` (the latest full run's ``gnn.neighbourhood`` store), its
    ``neighbourhood(as_of, ids)`` scores the ids that store holds for that very date from
    their neighbourhoods alone, with no snapshot (None when the store cannot serve)."""
    loaded: dict[str, Any] = {}
    lock = threading.Lock()

    def artefact() -> Any:
        with lock:
            if "artefact" not in loaded:
                from gnn.artefact import ArtefactError, latest_artefact, load_artefact

                try:
                    folder = artefact_dir or latest_artefact(models_dir)
                except ArtefactError as err:
                    raise ScoringUnavailableError(str(err)) from err
                try:
                    loaded["artefact"] = load_artefact(Path(folder))
                except (ArtefactError, RuntimeError, OSError, KeyError, ValueError) as err:
                    raise ScoringUnavailableError(
                        f"cannot load the model in {folder} ({err}); it may come from an "
                        "older version of tradegraph: retrain with `tradegraph train`"
                    ) from err
            return loaded["artefact"]

    # Per score date: the snapshot it was prepared from and the population's features, graph,
    # scores and explanation parts, so a request explains its businesses only.
    prepared: dict[pd.Timestamp, tuple[Any, Any]] = {}
    date_locks: dict[pd.Timestamp, threading.Lock] = {}

    def prepare(snapshot: Any, as_of: pd.Timestamp) -> Any:
        from gnn.scoring import prepare_scores

        model = artefact()
        with lock:
            date_lock = date_locks.setdefault(as_of, threading.Lock())
        with date_lock:
            kept = prepared.get(as_of)
            if kept is not None and kept[0] is snapshot and kept[1].artefact is model:
                return kept[1]
            ready = prepare_scores(model, snapshot, as_of)
            with lock:
                prepared[as_of] = (snapshot, ready)
                while len(prepared) > CACHED_DATES:
                    del prepared[next(iter(prepared))]  # the oldest prepared date
            return ready

    def score(snapshot: Any, as_of: pd.Timestamp, business_ids: list[str]) -> pd.DataFrame:
        from gnn.scoring import score_prepared

        return score_prepared(prepare(snapshot, as_of), business_ids=business_ids)

    def neighbourhood(as_of: pd.Timestamp, ids: list[str]) -> tuple[pd.DataFrame, set[str]] | None:
        from gnn.neighbourhood import NeighbourhoodStore, prepare_neighbourhood
        from gnn.scoring import score_prepared

        store = None if serving_dir is None else NeighbourhoodStore.open(serving_dir)
        if store is None or store.as_of != as_of:
            return None
        near = prepare_neighbourhood(artefact(), store, ids)
        if near is None:
            return None
        return score_prepared(near, business_ids=ids), set(near.graph.business_ids) & set(ids)

    score.warm = artefact  # type: ignore[attr-defined]  # see warm_up()
    score.neighbourhood = neighbourhood  # type: ignore[attr-defined]  # Scorer.on_the_fly
    score.loaded = lambda: "artefact" in loaded  # type: ignore[attr-defined]  # model_state
    return score


def warm_up(score_function: ScoreFunction) -> None:
    """Load the model (and the libraries scoring imports) now, so the first on-the-fly request
    after the server starts does not pay for it; a score function without ``warm`` is left
    as it is. A model that cannot be loaded is logged: requests then answer 503 as before."""
    warm = getattr(score_function, "warm", None)
    if warm is None:
        return
    try:
        import gnn.scoring  # noqa: F401  # torch, LightGBM and the feature code

        warm()
    except ScoringUnavailableError as err:
        logger.warning("on-the-fly scoring is not available yet: %s", err)


@dataclass
class _Cached:
    at: float
    snapshot: Any


#: Score dates whose snapshots the API keeps at once.
CACHED_DATES = 4


@dataclass
class Scorer:
    """Stored and on-the-fly scores of a batch of business ids.

    On-the-fly scores read the snapshot of their score date (from Neo4j, or from ``lake``:
    seconds instead of a minute for a whole marketplace), cached for ``ttl_s`` seconds for
    up to :data:`CACHED_DATES` dates. Each date has its own lock: requests for one date share
    one snapshot read, requests for different dates run side by side."""

    driver: neo4j.Driver
    score_function: ScoreFunction
    ttl_s: float = 60.0
    database: str | None = None
    #: Bounds the stored-score reads and says when Neo4j cannot be reached (default: a gate
    #: of its own on ``driver``; the app passes the one its other routes use).
    gate: Neo4jGate | None = None
    #: Read snapshots from this Parquet lake (``loaders.lake``) instead of Neo4j.
    lake: Path | None = None
    _warming: threading.Thread | None = None
    _cache: dict[pd.Timestamp, _Cached] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _date_locks: dict[pd.Timestamp, threading.Lock] = field(default_factory=dict)
    _reads: ReadCoalescer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._reads = ReadCoalescer(self._read_stored)

    def start_warm_up(self) -> None:
        """Load the model in a thread of its own (:func:`warm_up`), beside the serving."""
        self._warming = threading.Thread(
            target=warm_up, args=(self.score_function,), daemon=True, name="model-warm-up"
        )
        self._warming.start()

    @property
    def model_state(self) -> ModelState:
        """``loading`` while the warm-up runs, then ``ready`` once the model is loaded (or the
        score function needs no loading) or ``unavailable`` (on-the-fly scores answer 503;
        the next one tries to load the model again)."""
        if self._warming is not None and self._warming.is_alive():
            return "loading"
        loaded = getattr(self.score_function, "loaded", None)
        return "ready" if loaded is None or loaded() else "unavailable"

    def stored(self, ids: list[str], as_of: pd.Timestamp | None) -> list[dict[str, Any]]:
        """One row per id, in order: ``known`` and the stored score fields (``pd`` is None
        when the business has no stored score for ``as_of``, or none at all). Concurrent
        calls share Neo4j round trips (:mod:`tradegraph.api.coalescing`)."""
        return self._reads.read(ids, as_of)

    def _read_stored(self, ids: list[str], as_of: pd.Timestamp | None) -> list[dict[str, Any]]:
        query, params = (
            (cypher.API_LATEST_SCORES, {"ids": ids})
            if as_of is None
            else (cypher.API_SCORES_AS_OF, {"ids": ids, "as_of": as_of.date()})
        )

        def work(s: neo4j.Session) -> list[dict[str, Any]]:
            # One auto-commit read: one round trip, and the gate's liveness check.
            return [{k: to_plain(v) for k, v in r.items()} for r in s.run(query, params)]

        if self.gate is None:
            self.gate = Neo4jGate(self.driver, self.database)
        return self.gate.read(work)

    def _date_lock(self, as_of: pd.Timestamp) -> threading.Lock:
        with self._lock:
            return self._date_locks.setdefault(as_of, threading.Lock())

    def snapshot(self, as_of: pd.Timestamp) -> Any:
        """The snapshot as of ``as_of``, read once per ``ttl_s`` seconds and date."""
        with self._date_lock(as_of):
            with self._lock:
                cached = self._cache.get(as_of)
            if cached is not None and time.monotonic() - cached.at < self.ttl_s:
                return cached.snapshot
            if self.lake is not None:
                from loaders.lake import read_lake_snapshot

                snapshot: Any = read_lake_snapshot(self.lake, as_of)
            else:
                from graph.snapshot import read_snapshot

                snapshot = read_snapshot(self.driver, as_of, database=self.database)
            if self.ttl_s > 0:
                with self._lock:
                    self._cache[as_of] = _Cached(time.monotonic(), snapshot)
                    while len(self._cache) > CACHED_DATES:  # drop the oldest read
                        oldest = min(self._cache, key=lambda d: self._cache[d].at)
                        del self._cache[oldest]
            return snapshot

    def on_the_fly(self, ids: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
        """Scores of ``ids`` from the graph as of ``as_of``, indexed by ``business_id``; ids
        the model does not score (not in the snapshot) are absent. Ids the latest full run's
        neighbourhood store holds for ``as_of`` are scored from their neighbourhoods; only
        the others need the snapshot."""
        near = getattr(self.score_function, "neighbourhood", None)
        served = near(as_of, ids) if near is not None else None
        if served is None:
            return self._from_snapshot(ids, as_of)
        frame, known = served
        rest = [i for i in ids if i not in known]
        if not rest:
            return _by_business(frame)
        return pd.concat([_by_business(frame), self._from_snapshot(rest, as_of)])

    def _from_snapshot(self, ids: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
        snapshot = self.snapshot(as_of)
        present = set(snapshot.businesses["business_id"].astype(str))
        wanted = [i for i in ids if i in present]
        if not wanted:
            return pd.DataFrame(
                columns=["pd", "score", "grade", "reasons", "reason_codes", "reason_details",
                         "model_version"],
                index=pd.Index([], name="business_id"),
            )  # fmt: skip
        return _by_business(self.score_function(snapshot, as_of, wanted))


def _by_business(frame: pd.DataFrame) -> pd.DataFrame:
    """A score function's rows indexed by ``business_id`` (as text)."""
    return frame.assign(business_id=frame["business_id"].astype(str)).set_index("business_id")
