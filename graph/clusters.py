"""Suspicious clusters as graph objects, and analysts' verdicts on them.

:func:`find_clusters` runs the library's group-finding queries (identifier rings, circular
trading, wash trading, bust-outs) at their default thresholds, merges overlapping hits of one
kind into groups, and scores each group's **suspicion** in [0, 1] as a noisy-OR of independent
evidence: the kind's own signal, members also caught by the other queries (pass-through,
bust-out, other kinds), the members' mean GNN ``risk_pd`` when scores exist, and defaults and
frauds already known - all as known before the clusters' date, never a later fact.
:func:`write_clusters` replaces every undecided ``(:Cluster)<-[:IN_CLUSTER]-(:Business)`` in
one transaction; clusters with a verdict stay.
Every cluster it writes carries ``created_by: 'tradegraph'``, and every cluster statement
matches on it: a ``:Cluster`` node another application keeps in the same database is never
listed, decided or deleted.

A cluster's id is its kind plus a hash of its sorted members, so a dismissed cluster is not
raised again until its membership changes. :func:`mark` records a verdict; a confirmed
cluster becomes a ``fraud_confirmed`` credit event for each member dated at the verdict
(contract v2, ``source: 'analyst'``). By the contract's label rule it labels the cohorts whose
window contains the verdict (members with credit open there), and features see it only for
score dates after it, so a verdict never reaches the cohort whose scores raised the cluster.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import neo4j

from graph import cycles, cypher, wash
from graph.query_library import LibraryQuery, load_library, run_query, to_plain
from graph.session import epoch_micros
from loaders.columns import HORIZON_DAYS

logger = logging.getLogger(__name__)

Verdict = Literal["confirmed", "dismissed"]
VERDICTS: tuple[str, ...] = ("confirmed", "dismissed")
#: Library queries whose hits become clusters, in the order they are run.
GROUP_QUERIES: tuple[str, ...] = (
    "identifier_rings",
    "circular_trading",
    "wash_trading",
    "bust_out",
)
#: Library queries that only add evidence about single businesses.
MEMBER_QUERIES: tuple[str, ...] = ("pass_through", "bust_out")


class ClusterError(ValueError):
    """A user-fixable problem with a cluster command (unknown id, verdict already given)."""


@dataclass(frozen=True)
class Cluster:
    """One suspicious group: ``members`` sorted, ``suspicion`` in [0, 1], reasons in words."""

    cluster_id: str
    kind: str
    members: tuple[str, ...]
    suspicion: float
    reasons: tuple[str, ...]


@dataclass
class ClusterRun:
    """What one :func:`refresh_clusters` did; ``detectors`` says how each query ran."""

    found_at: dt.datetime
    clusters: list[Cluster] = field(default_factory=list)
    replaced: int = 0
    skipped_decided: int = 0
    detectors: list[DetectorRun] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """True when a detector was narrowed or skipped: some clusters may be missing."""
        return any(d.status != "complete" for d in self.detectors)


@dataclass(frozen=True)
class DetectorRun:
    """How one detector query ran: ``complete``, ``narrowed`` (retried on the scope of its
    ``// narrow:`` header after running past its budget) or ``skipped`` (past its budget on
    every scope; its clusters are missing from the run)."""

    name: str
    status: Literal["complete", "narrowed", "skipped"]
    seconds: float
    budget_s: float
    detail: str = ""

    def describe(self) -> str:
        return f"{self.name}: {self.status} after {self.seconds:.1f}s ({self.detail})"


@dataclass(frozen=True)
class VerdictResult:
    cluster_id: str
    verdict: str
    members: tuple[str, ...]
    events_written: int
    event_at: dt.datetime | None


@dataclass
class _Group:
    kind: str
    members: set[str]
    evidence: float
    reasons: list[str]


def cluster_id_for(kind: str, members: Iterable[str]) -> str:
    """Stable id: ``kind-<12 hex of sha256(sorted members)>``."""
    digest = hashlib.sha256("|".join(sorted(members)).encode()).hexdigest()[:12]
    return f"{kind}-{digest}"


def _timed_out(error: Exception) -> bool:
    code = getattr(error, "code", "") or ""
    return "TransactionTimedOut" in code or "Terminated" in code


def run_detector(
    driver: neo4j.Driver,
    query: LibraryQuery,
    params: dict[str, Any] | None,
    *,
    budget_s: float,
    database: str | None = None,
) -> tuple[list[dict[str, Any]], DetectorRun]:
    """Run one detector within ``budget_s``; past it, once more on the query's narrower scope
    (its ``// narrow:`` header), and past that, skip it. Never raises on a timeout."""
    started = time.perf_counter()
    scopes = [dict(params or {})]
    if query.narrow:
        scopes.append({**(params or {}), **dict(query.narrow)})
    for attempt, scope in enumerate(scopes):
        try:
            result = run_query(driver, query, scope, database=database, timeout_s=budget_s)
        except (neo4j.exceptions.ClientError, neo4j.exceptions.TransientError) as error:
            if not _timed_out(error):
                raise
            logger.warning("%s ran past its %.0fs budget (scope %d)", query.name, budget_s, attempt)
            continue
        seconds = time.perf_counter() - started
        if attempt == 0:
            return result.rows, DetectorRun(query.name, "complete", seconds, budget_s)
        shown = ", ".join(f"{k}={v}" for k, v in query.narrow)
        detail = f"ran past its {budget_s:.0f}s budget; re-run on a narrower scope: {shown}"
        return result.rows, DetectorRun(query.name, "narrowed", seconds, budget_s, detail)
    seconds = time.perf_counter() - started
    tried = "on its narrower scope too" if query.narrow else "and has no narrower scope"
    detail = f"ran past its {budget_s:.0f}s budget {tried}; its clusters are missing"
    return [], DetectorRun(query.name, "skipped", seconds, budget_s, detail)


#: Detectors run through a batched path of their own (the library query's rule and rows, the
#: heavy work in numpy instead of the server's transaction memory), by query name.
BATCHED: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "wash_trading": wash.wash_trading,
    "circular_trading": cycles.circular_trading,
}


#: Where ``clusters`` reads more than a library query's default page: a batched search holds
#: every hit in memory anyway, and cutting circular trading at its first 1,000 cycles by start
#: time would drop every ring whose loops began later.
CLUSTER_SCOPE: dict[str, dict[str, Any]] = {
    "circular_trading": {"limit": 1_000_000},
    "wash_trading": {"limit": 1_000_000},
}


def run_batched(
    driver: neo4j.Driver,
    query: LibraryQuery,
    params: dict[str, Any] | None,
    *,
    budget_s: float,
    database: str | None = None,
) -> tuple[list[dict[str, Any]], DetectorRun]:
    """``query``'s rule through its :data:`BATCHED` path, within ``budget_s``; past it, once
    more on the query's narrower scope (its ``// narrow:`` header), and past that, skipped."""
    search = BATCHED[query.name]
    module = search.__module__
    started = time.perf_counter()
    scopes = [dict(params or {})]
    if query.narrow:
        scopes.append({**(params or {}), **dict(query.narrow)})
    for attempt, scope in enumerate(scopes):
        try:
            rows = search(driver, scope, budget_s=budget_s, database=database)
        except TimeoutError:  # wash.WashBudgetError, cycles.CycleBudgetError
            logger.warning("%s ran past its %.0fs budget (scope %d)", query.name, budget_s, attempt)
            continue
        seconds = time.perf_counter() - started
        if attempt == 0:
            return rows, DetectorRun(
                query.name, "complete", seconds, budget_s, f"batched ({module})"
            )
        shown = ", ".join(f"{k}={v}" for k, v in query.narrow)
        detail = (
            f"ran past its {budget_s:.0f}s budget in batches; re-run on a narrower scope: {shown}"
        )
        return rows, DetectorRun(query.name, "narrowed", seconds, budget_s, detail)
    seconds = time.perf_counter() - started
    tried = "on its narrower scope too" if query.narrow else "and has no narrower scope"
    detail = f"ran past its {budget_s:.0f}s budget in batches {tried}; its clusters are missing"
    return [], DetectorRun(query.name, "skipped", seconds, budget_s, detail)


def find_clusters(
    driver: neo4j.Driver,
    *,
    params: dict[str, dict[str, Any]] | None = None,
    database: str | None = None,
    on_query: Callable[[str], None] | None = None,
    budgets: dict[str, float] | None = None,
    report: list[DetectorRun] | None = None,
    known_before: dt.datetime | None = None,
    horizon_days: int = HORIZON_DAYS,
) -> list[Cluster]:
    """Run the library queries (``params`` overrides per query name) and return scored clusters,
    most suspicious first. Read-only. Each query runs within its budget (``budgets`` per name,
    else three times the ``seconds`` its header states); one that runs past it is narrowed or
    skipped (:func:`run_detector`) and the others still count. ``report`` collects a
    :class:`DetectorRun` per query. Suspicion reads only what was known before
    ``known_before`` (default: now), the clusters' date: scores of earlier dates, defaults and
    frauds dated before it, outcome rows whose ``horizon_days`` window had closed."""
    library = load_library()
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in dict.fromkeys(GROUP_QUERIES + MEMBER_QUERIES):
        if on_query:
            on_query(name)
        budget = (budgets or {}).get(name, max(library[name].seconds * 3, 10.0))
        detect = run_batched if name in BATCHED else run_detector
        rows[name], detector = detect(
            driver,
            library[name],
            {**CLUSTER_SCOPE.get(name, {}), **(params or {}).get(name, {})},
            budget_s=budget,
            database=database,
        )
        if report is not None:
            report.append(detector)
    groups = _groups(rows)
    flagged = {
        "pass-through": {r["business_id"] for r in rows["pass_through"]},
        "bust-out": {r["business_id"] for r in rows["bust_out"]},
    }
    everyone = sorted({m for g in groups for m in g.members})
    known = _read(
        driver, cypher.CLUSTER_MEMBER_FACTS, database, ids=everyone,
        before=epoch_micros(known_before or dt.datetime.now(dt.UTC)), horizon_days=horizon_days,
    )  # fmt: skip
    facts = {r["business_id"]: r for r in known}
    clusters = [_score(g, groups, flagged, facts) for g in groups]
    return consolidate(sorted(clusters, key=lambda c: (-c.suspicion, c.cluster_id)))


def consolidate(ranked: list[Cluster]) -> list[Cluster]:
    """One case per suspicious group: walking ``ranked`` (most suspicious first), a cluster
    that shares at least half of the smaller one's members with a cluster already kept is
    folded into it (members joined, its evidence added to the reasons, the kept cluster's kind
    and suspicion stay). Without it one ring caught by four detectors fills four places of an
    analyst's queue, and pushes other rings out of its top."""
    kept: list[tuple[Cluster, set[str], list[str]]] = []
    for cluster in ranked:
        members = set(cluster.members)
        home = next(
            (k for k in kept if 2 * len(k[1] & members) >= min(len(k[1]), len(members))), None
        )
        if home is None:
            kept.append((cluster, members, list(cluster.reasons)))
            continue
        home[1].update(members)
        also = f"also found as {cluster.kind} ({cluster.suspicion:.2f}): {cluster.reasons[0]}"
        home[2].append(also)
    return [
        Cluster(
            cluster_id_for(first.kind, members),
            first.kind,
            tuple(sorted(members)),
            first.suspicion,
            tuple(reasons),
        )
        for first, members, reasons in kept
    ]


def write_clusters(
    driver: neo4j.Driver,
    clusters: list[Cluster],
    *,
    found_at: dt.datetime | None = None,
    database: str | None = None,
    detectors: list[DetectorRun] | None = None,
) -> ClusterRun:
    """Replace every undecided cluster tradegraph wrote with ``clusters`` (one transaction);
    clusters whose id already carries a verdict are skipped, other applications' ``:Cluster``
    nodes are left alone. The run is recorded as a ``(:ClusterRun)`` in the same transaction,
    with how each detector ran (``detectors``), so a partial run is visible later."""
    found_at = found_at or dt.datetime.now(dt.UTC)
    decided = {r["cluster_id"] for r in _read(driver, cypher.DECIDED_CLUSTER_IDS, database)}
    fresh = [c for c in clusters if c.cluster_id not in decided]
    payload = [
        {
            "cluster_id": c.cluster_id,
            "kind": c.kind,
            "members": list(c.members),
            "suspicion": c.suspicion,
            "reasons": list(c.reasons),
        }
        for c in fresh
    ]

    ran = detectors or []

    def work(tx: neo4j.ManagedTransaction) -> int:
        deleted = tx.run(cypher.DELETE_UNDECIDED_CLUSTERS).single()
        tx.run(cypher.CREATE_CLUSTERS, clusters=payload, found_at=found_at).consume()
        tx.run(
            cypher.RECORD_CLUSTER_RUN,
            found_at=found_at,
            partial=any(d.status != "complete" for d in ran),
            detectors=[d.describe() for d in ran],
            clusters=len(fresh),
        ).consume()
        return int(deleted["deleted"]) if deleted else 0

    with _session(driver, database) as session:
        replaced = session.execute_write(work)
    return ClusterRun(found_at, fresh, replaced, len(clusters) - len(fresh), list(ran))


def refresh_clusters(
    driver: neo4j.Driver,
    *,
    params: dict[str, dict[str, Any]] | None = None,
    database: str | None = None,
    on_query: Callable[[str], None] | None = None,
    budgets: dict[str, float] | None = None,
    horizon_days: int = HORIZON_DAYS,
) -> ClusterRun:
    """:func:`find_clusters` then :func:`write_clusters`: what ``tradegraph clusters`` does.
    A detector that ran past its budget is named in the run's ``detectors`` (``partial``).
    Suspicion reads what was known before the run's ``found_at``."""
    detectors: list[DetectorRun] = []
    found_at = dt.datetime.now(dt.UTC)
    found = find_clusters(
        driver, params=params, database=database, on_query=on_query, budgets=budgets,
        report=detectors, known_before=found_at, horizon_days=horizon_days,
    )  # fmt: skip
    return write_clusters(driver, found, found_at=found_at, database=database, detectors=detectors)


def latest_cluster_run(
    driver: neo4j.Driver, *, database: str | None = None
) -> dict[str, Any] | None:
    """The latest ``clusters`` run: ``found_at`` (µs), ``partial``, ``detectors`` (one line
    each) and ``clusters`` written; ``None`` before the first run."""
    rows = _read(driver, cypher.LATEST_CLUSTER_RUN, database)
    return rows[0] if rows else None


def list_clusters(
    driver: neo4j.Driver,
    *,
    kind: str | None = None,
    include_decided: bool = False,
    limit: int = 50,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """Clusters in the graph, most suspicious first, with their members."""
    return _read(
        driver,
        cypher.LIST_CLUSTERS,
        database,
        kind=kind,
        include_decided=include_decided,
        limit=limit,
    )


@dataclass(frozen=True)
class ClusterPicture:
    """What an analyst looks at for one cluster: ``info`` (kind, suspicion, reasons,
    found_at µs, verdict), ``members`` (business_id, kind, registered_at µs, pd, grade),
    ``identifiers`` shared by two members or more (id_type, id_hash, members, holders in the
    whole graph) and ``trade`` between members (seller_id, buyer_id, orders, gmv, refunded,
    disputed, cancelled, first_ts/last_ts µs)."""

    cluster_id: str
    info: dict[str, Any]
    members: list[dict[str, Any]]
    identifiers: list[dict[str, Any]]
    trade: list[dict[str, Any]]


def cluster_picture(
    driver: neo4j.Driver, cluster_id: str, *, database: str | None = None
) -> ClusterPicture:
    """Read one cluster's picture; raises :class:`ClusterError` for an unknown id."""
    info = _read(driver, cypher.CLUSTER_PICTURE_INFO, database, cluster_id=cluster_id)
    if not info:
        raise ClusterError(f"No cluster {cluster_id!r}; list them with `tradegraph clusters list`.")
    return ClusterPicture(
        cluster_id,
        info[0],
        _read(driver, cypher.CLUSTER_PICTURE_MEMBERS, database, cluster_id=cluster_id),
        _read(driver, cypher.CLUSTER_PICTURE_IDENTIFIERS, database, cluster_id=cluster_id),
        _read(driver, cypher.CLUSTER_PICTURE_TRADE, database, cluster_id=cluster_id),
    )


def mark(
    driver: neo4j.Driver,
    cluster_id: str,
    verdict: str,
    note: str,
    analyst: str,
    *,
    at: dt.datetime | None = None,
    database: str | None = None,
) -> VerdictResult:
    """Record ``verdict`` (``confirmed`` or ``dismissed``) on a cluster, with who and when.

    Confirmed: every member gets a ``(:CreditEvent {event: 'fraud_confirmed', at: at,
    source: 'analyst'})``. A cluster takes one verdict only; raises :class:`ClusterError` for
    an unknown cluster or a second verdict.
    """
    if verdict not in VERDICTS:
        raise ClusterError(f"Verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}.")
    if not analyst.strip():
        raise ClusterError("Say who decides: give an analyst name (--analyst or $USER).")
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    micros = epoch_micros(at)

    def work(tx: neo4j.ManagedTransaction) -> tuple[list[str], int]:
        current = tx.run(cypher.GET_CLUSTER, cluster_id=cluster_id).single()
        if current is None:
            raise ClusterError(
                f"No cluster {cluster_id!r}; list them with `tradegraph clusters list`."
            )
        if current["verdict"] is not None:
            raise ClusterError(
                f"Cluster {cluster_id!r} was already {current['verdict']} by "
                f"{current['verdict_by']} at {current['verdict_at']}; verdicts are final."
            )
        tx.run(
            cypher.SET_CLUSTER_VERDICT,
            cluster_id=cluster_id,
            verdict=verdict,
            note=note,
            analyst=analyst,
            at=at,
        ).consume()
        events = 0
        if verdict == "confirmed":
            record = tx.run(
                cypher.FRAUD_EVENTS_FROM_CLUSTER, cluster_id=cluster_id, at=micros
            ).single()
            events = int(record["events"]) if record else 0
        return sorted(current["members"]), events

    with _session(driver, database) as session:
        members, events = session.execute_write(work)
    return VerdictResult(
        cluster_id, verdict, tuple(members), events, at if verdict == "confirmed" else None
    )


# --- grouping and scoring -------------------------------------------------------------------


def _groups(rows: dict[str, list[dict[str, Any]]]) -> list[_Group]:
    groups: list[_Group] = []
    for ring in rows["identifier_rings"]:
        share = float(ring["internal_trade_share"] or 0.0)
        groups.append(
            _Group(
                "identifier_ring",
                set(ring["members"]),
                0.4 + 0.5 * share,
                [
                    f"{ring['size']} businesses share {ring['shared_identifiers']} non-hub "
                    f"identifiers ({', '.join(sorted(ring['identifier_types']))}); "
                    f"{share:.0%} of their GMV is traded among themselves"
                ],
            )
        )
    for members, hits in _merge(r["businesses"] for r in rows["circular_trading"]):
        groups.append(
            _Group(
                "circular_trading",
                members,
                min(0.9, 0.5 + 0.1 * hits),
                [f"{hits} time-ordered trade cycles passing most of the amount on"],
            )
        )
    shares = {
        frozenset((r["business_a"], r["business_b"])): float(r["matched_share"])
        for r in rows["wash_trading"]
    }
    for members, hits in _merge([list(pair) for pair in shares]):
        best = max(v for k, v in shares.items() if k <= members)
        groups.append(
            _Group(
                "wash_trading",
                members,
                0.4 + 0.5 * best,
                [
                    f"{hits} pair(s) trading near-identical amounts back and forth "
                    f"({best:.0%} matched)"
                ],
            )
        )
    for hit in rows["bust_out"]:
        groups.append(
            _Group(
                "bust_out",
                {hit["business_id"], *hit["linked_counterparties"]},
                0.6,
                [
                    f"{hit['business_id']} is {hit['age_days']} days old, its recent GMV is "
                    f"{hit['recent_gmv']:,.0f}, {hit['concentration']:.0%} on counterparties "
                    f"it shares identifiers with"
                ],
            )
        )
    return groups


def _merge(member_lists: Iterable[list[str]]) -> list[tuple[set[str], int]]:
    """Union overlapping member lists; returns (members, how many lists merged) per group."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    lists = [list(m) for m in member_lists]
    for members in lists:
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    groups: dict[str, tuple[set[str], int]] = {}
    for members in lists:
        root = find(members[0])
        found, count = groups.get(root, (set(), 0))
        groups[root] = (found | set(members), count + 1)
    return list(groups.values())


def _score(
    group: _Group,
    groups: list[_Group],
    flagged: dict[str, set[str]],
    facts: dict[str, dict[str, Any]],
) -> Cluster:
    evidence = [group.evidence]
    reasons = list(group.reasons)
    size = len(group.members)
    for label, ids in flagged.items():
        caught = group.members & ids
        if caught and not (label == "bust-out" and group.kind == "bust_out"):
            evidence.append(0.5 * len(caught) / size)
            reasons.append(f"{len(caught)} member(s) flagged as {label}")
    other_kinds = {g.kind for g in groups if g.kind != group.kind and g.members & group.members}
    if other_kinds:
        evidence.append(0.3 * len(other_kinds))
        reasons.append(f"overlaps {', '.join(sorted(other_kinds))} clusters")
    member_facts = [facts[m] for m in group.members if m in facts]
    scored = [float(f["risk_pd"]) for f in member_facts if _present(f.get("risk_pd"))]
    if scored:
        mean_pd = sum(scored) / len(scored)
        evidence.append(mean_pd)
        reasons.append(f"mean risk_pd {mean_pd:.2f} over {len(scored)} scored member(s)")
    bad = [f for f in member_facts if f.get("defaulted") == 1 or f.get("fraud") == 1]
    if bad:
        evidence.append(0.5 * len(bad) / size)
        reasons.append(f"{len(bad)} member(s) with a default or fraud outcome")
    clean = 1.0
    for e in evidence:
        clean *= 1.0 - min(max(e, 0.0), 1.0)
    members = tuple(sorted(group.members))
    return Cluster(
        cluster_id_for(group.kind, members),
        group.kind,
        members,
        round(1.0 - clean, 4),
        tuple(reasons),
    )


def _present(value: Any) -> bool:
    return value is not None and value == value  # NaN-safe


def _read(
    driver: neo4j.Driver, query: str, database: str | None, **params: Any
) -> list[dict[str, Any]]:
    """Rows of a read statement as plain dicts (temporals as ISO strings, nulls as None)."""

    def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
        return [{k: to_plain(r[k]) for k in r.keys()} for r in tx.run(query, params)]  # noqa: SIM118

    with _session(driver, database) as session:
        return session.execute_read(work)


def _session(driver: neo4j.Driver, database: str | None) -> neo4j.Session:
    return driver.session(
        database=database, notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF
    )
