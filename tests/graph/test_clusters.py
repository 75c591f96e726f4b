"""Clusters as graph objects: found from the library, replaced cleanly, verdicts that label."""

from __future__ import annotations

import datetime as dt

import neo4j
import pandas as pd
import pytest
from fraud_fixture import RING, build_fraud_fixture, day

from graph.clusters import (
    ClusterError,
    cluster_id_for,
    find_clusters,
    latest_cluster_run,
    list_clusters,
    mark,
    refresh_clusters,
    run_detector,
)
from graph.history import load_credit_events
from graph.query_library import load_library
from graph.snapshot import read_snapshot
from loaders.features import compute_features

VERDICT_AT = dt.datetime(2024, 7, 1, 15, 30, tzinfo=dt.UTC)


def count(driver: neo4j.Driver, query: str) -> int:
    with driver.session() as session:
        return int(session.run(query).single()[0])


def test_cluster_id_depends_on_kind_and_membership_only() -> None:
    assert cluster_id_for("wash_trading", ["B", "A"]) == cluster_id_for("wash_trading", ["A", "B"])
    assert cluster_id_for("wash_trading", ["A", "B"]) != cluster_id_for("wash_trading", ["A", "C"])


@pytest.mark.neo4j
def test_clusters_found_on_the_fixture_and_scored(neo4j_driver: neo4j.Driver) -> None:
    build_fraud_fixture(neo4j_driver)
    found = {(c.kind, c.members): c for c in find_clusters(neo4j_driver)}
    # one case per group: the ring's loop folds into the ring, the wash pair into its loops
    assert set(found) == {
        ("identifier_ring", tuple(RING)),
        ("circular_trading", ("W1", "W2")),
        ("circular_trading", ("M1", "M2")),
        ("bust_out", ("U", "V1")),
    }
    assert all(0.0 < c.suspicion <= 1.0 and c.reasons for c in found.values())
    ring = found[("identifier_ring", tuple(RING))]
    assert ring.suspicion == max(c.suspicion for c in found.values())
    assert any("mean risk_pd 0.50" in r for r in ring.reasons)
    assert any("overlaps circular_trading" in r for r in ring.reasons)
    assert any(r.startswith("also found as circular_trading") for r in ring.reasons)
    wash = found[("circular_trading", ("W1", "W2"))]
    assert any(r.startswith("also found as wash_trading") for r in wash.reasons)

    # without GNN scores the same ring is less suspicious
    with neo4j_driver.session() as session:
        session.run("MATCH (b:Business) REMOVE b.risk_pd, b.risk_score").consume()
    unscored = {(c.kind, c.members): c for c in find_clusters(neo4j_driver)}
    assert unscored[("identifier_ring", tuple(RING))].suspicion < ring.suspicion


@pytest.mark.neo4j
def test_suspicion_reads_only_what_was_known_before_the_clusters_date(
    neo4j_driver: neo4j.Driver,
) -> None:
    build_fraud_fixture(neo4j_driver)
    confirmed = pd.DataFrame({
        "business_id": ["R1"], "event": ["fraud_confirmed"],
        "at": pd.to_datetime(["2024-07-01T09:00:00"], utc=True),
    })  # fmt: skip
    load_credit_events(neo4j_driver, confirmed, lambda *_: None, batch_size=10)

    def ring_at(when: dt.datetime) -> tuple[float, str]:
        found = find_clusters(neo4j_driver, known_before=when)
        ring = next(c for c in found if c.kind == "identifier_ring")
        return ring.suspicion, " | ".join(ring.reasons)

    # Before the scores' date and before any default or fraud was known: neither counts.
    early, why = ring_at(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert "risk_pd" not in why and "default or fraud" not in why
    # After the fraud event; R2's default outcome (window to 2025-01-01) is not known yet.
    middle, why = ring_at(dt.datetime(2024, 8, 1, tzinfo=dt.UTC))
    assert "mean risk_pd 0.50" in why and "1 member(s) with a default or fraud" in why
    late, why = ring_at(dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
    assert "2 member(s) with a default or fraud" in why
    assert early < middle < late


@pytest.mark.neo4j
def test_rerun_replaces_the_previous_result_cleanly(neo4j_driver: neo4j.Driver) -> None:
    build_fraud_fixture(neo4j_driver)
    first = refresh_clusters(neo4j_driver)
    clusters = count(neo4j_driver, "MATCH (c:Cluster) RETURN count(c)")
    links = count(neo4j_driver, "MATCH ()-[r:IN_CLUSTER]->() RETURN count(r)")
    assert clusters == len(first.clusters) == 4
    recorded = latest_cluster_run(neo4j_driver)
    assert recorded is not None and recorded["partial"] is False and recorded["clusters"] == 4
    assert links == sum(len(c.members) for c in first.clusters)
    second = refresh_clusters(neo4j_driver)
    assert second.replaced == 4
    assert count(neo4j_driver, "MATCH (c:Cluster) RETURN count(c)") == clusters
    assert count(neo4j_driver, "MATCH ()-[r:IN_CLUSTER]->() RETURN count(r)") == links
    listed = list_clusters(neo4j_driver)
    assert {r["cluster_id"] for r in listed} == {c.cluster_id for c in second.clusters}
    assert all(r["found_at"] == listed[0]["found_at"] for r in listed)


def _features(driver: neo4j.Driver, as_of: str) -> pd.DataFrame:
    snap = read_snapshot(driver, as_of)
    return compute_features(
        snap.businesses, snap.orders, snap.as_of, identifiers=snap.identifiers,
        credit_events=snap.credit_events,
    )  # fmt: skip


@pytest.mark.neo4j
def test_a_confirmed_cluster_becomes_fraud_events_that_never_reach_its_own_cohort(
    neo4j_driver: neo4j.Driver,
) -> None:
    build_fraud_fixture(neo4j_driver)
    # The lender's book: R1, R3 and R4 have credit (R2 does not); the record runs to 2025-09.
    book = pd.DataFrame({
        "business_id": ["R1", "R3", "R4", "X1"], "event": ["credit_opened"] * 4,
        "at": pd.to_datetime(["2023-06-01"] * 3 + ["2025-09-01"], utc=True),
    })  # fmt: skip
    load_credit_events(neo4j_driver, book, lambda *_: None, batch_size=10)
    # The cohort whose scores raised the cluster: scored at midnight before the verdict.
    scored_at = "2024-07-01"
    features_before = _features(neo4j_driver, scored_at)
    run = refresh_clusters(neo4j_driver)
    ring = next(c for c in run.clusters if c.kind == "identifier_ring")
    result = mark(neo4j_driver, ring.cluster_id, "confirmed", "same owner", "alice", at=VERDICT_AT)
    assert result.members == tuple(RING) and result.events_written == 4
    assert result.event_at == VERDICT_AT

    decided = list_clusters(neo4j_driver, include_decided=True, kind="identifier_ring")[0]
    assert decided["verdict"] == "confirmed"
    with neo4j_driver.session() as session:
        record = session.run(
            "MATCH (c:Cluster {cluster_id: $id}) RETURN c.verdict_by AS by, c.verdict_note AS note,"
            " c.verdict_at AS at",
            id=ring.cluster_id,
        ).single()
        events = session.run(
            "MATCH (b:Business)-[:HAD_EVENT]->(e:CreditEvent {source: 'analyst'}) "
            "RETURN b.business_id AS id, e.event AS event, e.at AS at, e.cluster_id AS cluster "
            "ORDER BY id"
        ).data()
    assert (record["by"], record["note"]) == ("alice", "same owner")
    assert record["at"].to_native() == VERDICT_AT
    assert [e["id"] for e in events] == RING
    assert {(e["event"], e["at"].to_native(), e["cluster"]) for e in events} == {
        ("fraud_confirmed", VERDICT_AT, ring.cluster_id)
    }

    # The cohort that produced the cluster: the same features as before the verdict.
    pd.testing.assert_frame_equal(_features(neo4j_driver, scored_at), features_before)
    # A later cohort knows the fact...
    later = _features(neo4j_driver, "2024-07-02")
    assert later.loc[RING, "known_fraud_365d"].tolist() == [1, 1, 1, 1]
    assert features_before.loc[RING, "known_fraud_365d"].tolist() == [0, 0, 0, 0]
    # ...and the cohorts whose window holds the verdict carry it as labels, for the members
    # with credit open then (R2 keeps its own outcome row: defaulted, no fraud label).
    labels = read_snapshot(neo4j_driver, "2024-01-01").outcomes.set_index("business_id")
    assert labels.loc[["R1", "R3", "R4"], "fraud"].tolist() == [1, 1, 1]
    assert labels.loc["R2", "defaulted"] == 1 and pd.isna(labels.loc["R2", "fraud"])
    assert sorted(labels.index) == ["H1", "H2", "R1", "R2", "R3", "R4"]
    after = read_snapshot(neo4j_driver, "2024-07-02").outcomes.set_index("business_id")
    assert after.loc[["R1", "R3", "R4"], "fraud"].tolist() == [0, 0, 0]


@pytest.mark.neo4j
def test_dismissed_clusters_stay_quiet_until_their_membership_changes(
    neo4j_driver: neo4j.Driver,
) -> None:
    build_fraud_fixture(neo4j_driver)
    run = refresh_clusters(neo4j_driver)
    wash = next(c for c in run.clusters if c.members == ("W1", "W2"))  # loops and wash
    dismissed = mark(neo4j_driver, wash.cluster_id, "dismissed", "netting agreement", "bob")
    assert dismissed.events_written == 0 and dismissed.event_at is None
    assert count(neo4j_driver, "MATCH (e:CreditEvent {source: 'analyst'}) RETURN count(e)") == 0

    again = refresh_clusters(neo4j_driver)
    assert wash.cluster_id not in {c.cluster_id for c in again.clusters}
    assert again.skipped_decided == 1
    assert count(neo4j_driver, "MATCH (c:Cluster {verdict: 'dismissed'}) RETURN count(c)") == 1

    # W3 joins the back-and-forth with W2: a different group, raised again
    with neo4j_driver.session() as session:
        session.run(
            """MATCH (w2:Business {business_id: 'W2'})
            CREATE (w3:Business {business_id: 'W3', registered_at: $reg})
            WITH w2, w3 UNWIND range(0, 3) AS k
            CREATE (w3)-[:SOLD_TO {txn_id: 'W3-' + k, ts: $start + duration({days: 7 * k}),
                amount_base: 4000.0, status: 'completed'}]->(w2)
            CREATE (w2)-[:SOLD_TO {txn_id: 'W2-' + k, ts: $start + duration({days: 7 * k + 1}),
                amount_base: 4020.0, status: 'completed'}]->(w3)""",
            reg=day("2020-01-01", 0),
            start=day("2023-06-01"),
        ).consume()
        session.run(
            """MATCH (a:Business)-[o:SOLD_TO]->(b:Business) WHERE 'W3' IN
                 [a.business_id, b.business_id]
            WITH a, b, count(o) AS n, sum(o.amount_base) AS gmv
            CREATE (a)-[:TRADES_WITH {orders: n, gmv: gmv}]->(b)"""
        ).consume()
    changed = refresh_clusters(neo4j_driver)
    washes = [c.members for c in changed.clusters if "W2" in c.members]
    assert washes == [("W1", "W2", "W3")]


@pytest.mark.neo4j
def test_verdict_errors_say_what_to_do(neo4j_driver: neo4j.Driver) -> None:
    build_fraud_fixture(neo4j_driver)
    run = refresh_clusters(neo4j_driver)
    target = run.clusters[0].cluster_id
    with pytest.raises(ClusterError, match="No cluster 'nope'"):
        mark(neo4j_driver, "nope", "confirmed", "n", "alice")
    with pytest.raises(ClusterError, match="must be one of confirmed, dismissed"):
        mark(neo4j_driver, target, "maybe", "n", "alice")
    mark(neo4j_driver, target, "dismissed", "n", "alice")
    with pytest.raises(ClusterError, match="already dismissed by alice"):
        mark(neo4j_driver, target, "confirmed", "n", "bob")


def _timeout() -> neo4j.exceptions.Neo4jError:
    """The error the server sends when a transaction runs past its timeout."""
    return neo4j.exceptions.Neo4jError._hydrate_neo4j(
        code="Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
        message="The transaction has been terminated (timed out)",
    )


@pytest.mark.neo4j
def test_a_detector_past_its_budget_is_narrowed_or_skipped_and_the_rest_written(
    neo4j_driver: neo4j.Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timeouts injected where the server would raise them: pass-through runs past its budget
    only on its full scope (narrowed); the batched circular- and wash-trading searches get no
    time at all (skipped); the other detectors' clusters are still found, scored and
    written."""
    import graph.clusters as clusters_module

    build_fraud_fixture(neo4j_driver)
    real_run = clusters_module.run_query
    calls: list[tuple[str, dict]] = []

    def slow_detectors(driver, query, params=None, **options):
        calls.append((query.name, dict(params or {})))
        narrowed = bool(params) and dict(query.narrow).items() <= dict(params).items()
        if query.name == "pass_through" and not narrowed:
            raise _timeout()
        return real_run(driver, query, params, **options)

    monkeypatch.setattr(clusters_module, "run_query", slow_detectors)
    run = refresh_clusters(neo4j_driver, budgets={"wash_trading": -1.0, "circular_trading": -1.0})
    status = {d.name: d.status for d in run.detectors}
    assert status["circular_trading"] == status["wash_trading"] == "skipped"
    assert status["pass_through"] == "narrowed"
    for name in ("wash_trading", "circular_trading"):
        assert "in batches" in next(d for d in run.detectors if d.name == name).detail
    assert status["identifier_rings"] == status["bust_out"] == "complete"
    assert run.partial
    kinds = {c.kind for c in run.clusters}
    assert not {"circular_trading", "wash_trading"} & kinds
    assert {"identifier_ring", "bust_out"} <= kinds
    assert count(neo4j_driver, "MATCH (c:Cluster) RETURN count(c)") == len(run.clusters)
    # the narrowed retry ran on the scope its header states
    retried = [p for name, p in calls if name == "pass_through"][-1]
    assert dict(load_library()["pass_through"].narrow).items() <= retried.items()
    skipped = next(d for d in run.detectors if d.name == "circular_trading")
    assert "missing" in skipped.describe()
    recorded = latest_cluster_run(neo4j_driver)
    assert recorded is not None and recorded["partial"] is True
    assert any(line.startswith("circular_trading: skipped") for line in recorded["detectors"])
    assert recorded["clusters"] == len(run.clusters)


@pytest.mark.neo4j
def test_a_batched_detector_past_its_budget_is_rerun_on_the_narrower_scope(
    neo4j_driver: neo4j.Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batched cycle search runs out of time on its full scope only: it is re-run on the
    scope of the library query's ``// narrow:`` header and its narrowed rows are kept."""
    import graph.clusters as clusters_module
    from graph import cycles

    build_fraud_fixture(neo4j_driver)
    query = load_library()["circular_trading"]
    narrow = dict(query.narrow)
    scopes: list[dict] = []

    def slow_on_full_scope(driver, params=None, **options):
        scopes.append(dict(params or {}))
        if not narrow.items() <= (params or {}).items():
            raise cycles.CycleBudgetError("circular_trading ran past its budget")
        return cycles.circular_trading(driver, params, **options)

    monkeypatch.setitem(clusters_module.BATCHED, "circular_trading", slow_on_full_scope)
    rows, run = clusters_module.run_batched(neo4j_driver, query, None, budget_s=60.0)
    assert run.status == "narrowed" and "narrower scope" in run.detail
    assert len(scopes) == 2 and narrow.items() <= scopes[1].items()
    assert rows == cycles.circular_trading(neo4j_driver, narrow)


def test_errors_other_than_timeouts_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import graph.clusters as clusters_module

    def refused(*_args, **_kwargs):
        raise neo4j.exceptions.Neo4jError._hydrate_neo4j(
            code="Neo.ClientError.Statement.SyntaxError", message="bad"
        )

    monkeypatch.setattr(clusters_module, "run_query", refused)
    with pytest.raises(neo4j.exceptions.ClientError):
        run_detector(None, load_library()["wash_trading"], None, budget_s=1.0)  # type: ignore[arg-type]


def test_one_group_caught_by_several_detectors_is_one_case() -> None:
    """Clusters sharing half of the smaller one's members fold into the more suspicious one
    (members joined, its evidence kept as a reason); a disjoint cluster stays its own case."""
    from graph.clusters import Cluster, consolidate

    ring = Cluster("identifier_ring-a", "identifier_ring", ("A", "B", "C", "D"), 0.95, ("ids",))
    loop = Cluster("circular_trading-b", "circular_trading", ("A", "B", "E"), 0.9, ("loops",))
    pair = Cluster("wash_trading-c", "wash_trading", ("C", "D"), 0.8, ("wash",))
    other = Cluster("bust_out-d", "bust_out", ("X", "Y", "A"), 0.7, ("bust",))
    cases = consolidate([ring, loop, pair, other])
    assert [c.members for c in cases] == [("A", "B", "C", "D", "E"), ("A", "X", "Y")]
    first = cases[0]
    assert first.kind == "identifier_ring" and first.suspicion == 0.95
    assert first.reasons[0] == "ids"
    assert any("also found as circular_trading" in r and "loops" in r for r in first.reasons)
    assert any("also found as wash_trading" in r for r in first.reasons)
    assert first.cluster_id == cluster_id_for("identifier_ring", first.members)
    assert cases[1].reasons == ("bust",)
