"""Every internal Cypher statement of ``graph``, as parameterised constants.

Values always travel as ``$parameters``. The few statements whose label or property name
varies are built by :func:`with_name`, which only accepts names from :data:`ALLOWED_NAMES`.
Timestamps travel as integer microseconds since the epoch (cheap to pack, exact) and are
stored as Neo4j ``DATETIME`` in UTC; ``_DT`` converts, ``_US`` converts back.
"""

from __future__ import annotations

from typing import Final

#: Names that may be spliced into query text, by kind. Anything else is refused.
ALLOWED_NAMES: Final[dict[str, frozenset[str]]] = {
    "label": frozenset(
        {
            "Business",
            "Identifier",
            "Outcome",
            "LoadRun",
            "SchemaInfo",
            "Score",
            "Cluster",
            "BusinessVersion",
            "CreditEvent",
        }
    ),
    "rel_type": frozenset(
        {"SOLD_TO", "TRADES_WITH", "HAS_IDENTIFIER", "HAS_OUTCOME", "HAS_VERSION", "HAD_EVENT"}
    ),
    "business_property": frozenset(
        {
            "out_degree",
            "in_degree",
            "out_strength",
            "in_strength",
            "pagerank",
            "identifier_component",
            "identifier_component_size",
            "louvain_community",
        }
    ),
}


class UnknownNameError(ValueError):
    """A label or property name that is not on the allow-list reached query building."""


def checked_name(kind: str, name: str) -> str:
    """Return ``name`` if it is allowed for ``kind`` (see :data:`ALLOWED_NAMES`), else raise."""
    allowed = ALLOWED_NAMES.get(kind)
    if allowed is None:
        raise UnknownNameError(
            f"unknown name kind {kind!r}; expected one of {sorted(ALLOWED_NAMES)}"
        )
    if name not in allowed:
        raise UnknownNameError(f"{name!r} is not an allowed {kind}; allowed: {sorted(allowed)}")
    return name


def _dt(expr: str) -> str:
    """Cypher turning integer epoch microseconds (or null) into a UTC DATETIME.

    Floor division: Cypher's ``/`` and ``%`` truncate towards zero, so before 1970 a
    fractional second gives a negative remainder (``-500000`` µs for 23:59:59.5) that
    ``datetime()`` refuses. Seconds are rounded down and the remainder made non-negative.
    """
    return (
        f"CASE WHEN {expr} IS NULL THEN null ELSE datetime({{"
        f"epochSeconds: ({expr} - (({expr} % 1000000) + 1000000) % 1000000) / 1000000, "
        f"nanosecond: ((({expr} % 1000000) + 1000000) % 1000000) * 1000}}) END"
    )


def _us(expr: str) -> str:
    """Cypher turning a DATETIME (or null) into integer epoch microseconds.

    ``epochMillis`` rounds down, like :func:`_dt`; ``epochSeconds`` rounds towards zero
    (``0`` for 23:59:59.5 on 1969-12-31), so it cannot be combined with ``nanosecond``
    (which counts from the start of the second) before 1970.
    """
    return f"{expr}.epochMillis * 1000 + ({expr}.nanosecond / 1000) % 1000"


# --- schema -------------------------------------------------------------------------------

SCHEMA_STATEMENTS: Final[tuple[str, ...]] = (
    "CREATE CONSTRAINT business_id IF NOT EXISTS FOR (b:Business) REQUIRE b.business_id IS UNIQUE",
    "CREATE CONSTRAINT identifier_key IF NOT EXISTS "
    "FOR (i:Identifier) REQUIRE (i.type, i.hash) IS UNIQUE",
    "CREATE CONSTRAINT outcome_key IF NOT EXISTS "
    "FOR (o:Outcome) REQUIRE (o.business_id, o.as_of) IS UNIQUE",
    "CREATE CONSTRAINT sold_to_txn_id IF NOT EXISTS "
    "FOR ()-[r:SOLD_TO]-() REQUIRE r.txn_id IS UNIQUE",
    "CREATE CONSTRAINT load_run_id IF NOT EXISTS FOR (r:LoadRun) REQUIRE r.run_id IS UNIQUE",
    "CREATE INDEX sold_to_ts IF NOT EXISTS FOR ()-[r:SOLD_TO]-() ON (r.ts)",
    "CREATE INDEX business_registered_at IF NOT EXISTS FOR (b:Business) ON (b.registered_at)",
    "CREATE INDEX identifier_hub IF NOT EXISTS FOR (i:Identifier) ON (i.hub)",
    "CREATE INDEX outcome_as_of IF NOT EXISTS FOR (o:Outcome) ON (o.as_of)",
)

AWAIT_INDEXES: Final = "CALL db.awaitIndexes(300)"

GET_SCHEMA_INFO: Final = (
    "MATCH (s:SchemaInfo) RETURN s.version AS version, s.key_fingerprint AS key_fingerprint"
)

SET_SCHEMA_INFO: Final = (
    "MERGE (s:SchemaInfo) SET s.version = $version, s.key_fingerprint = $key_fingerprint"
)

# --- businesses ---------------------------------------------------------------------------

EXISTING_BUSINESSES: Final = f"""
UNWIND $ids AS id
MATCH (b:Business {{business_id: id}}) USING INDEX SEEK b:Business(business_id)
RETURN b.business_id AS business_id, b.kind AS kind,
       {_us("b.registered_at")} AS registered_at, b.region AS region, b.industry AS industry,
       b.employees AS employees, b.declared_revenue AS declared_revenue
"""

UPSERT_BUSINESSES: Final = f"""
UNWIND $rows AS row
MERGE (b:Business {{business_id: row.business_id}})
SET b.kind = row.kind, b.registered_at = {_dt("row.registered_at")}, b.region = row.region,
    b.industry = row.industry, b.employees = row.employees,
    b.declared_revenue = row.declared_revenue
"""

# --- identifiers --------------------------------------------------------------------------

EXISTING_IDENTIFIER_LINKS: Final = """
UNWIND $ids AS id
MATCH (b:Business {business_id: id})-[:HAS_IDENTIFIER]->(i:Identifier)
USING INDEX SEEK b:Business(business_id)
RETURN b.business_id AS business_id, i.type AS id_type, i.hash AS id_hash
"""

LINK_IDENTIFIERS: Final = """
UNWIND $rows AS row
MATCH (b:Business {business_id: row.business_id}) USING INDEX SEEK b:Business(business_id)
MERGE (i:Identifier {type: row.id_type, hash: row.id_hash})
MERGE (b)-[:HAS_IDENTIFIER]->(i)
RETURN count(*) AS linked
"""

MARK_IDENTIFIER_HUBS: Final = """
MATCH (i:Identifier)
CALL (i) {
  WITH i, COUNT { (i)<-[:HAS_IDENTIFIER]-(:Business) } AS degree
  SET i.degree = degree, i.hub = degree > $hub_threshold
} IN TRANSACTIONS OF 10000 ROWS
"""

# --- orders -------------------------------------------------------------------------------
# Every lookup by key carries ``USING INDEX SEEK``: plans are cached, and the replan that
# follows the first committed batches (statistics jump from 0) chose an index *scan* plus
# filter for the txn_id lookup, O(stored x batch) - 190 s instead of 0.2 s per 20k batch.

EXISTING_ORDERS: Final = f"""
UNWIND $ids AS id
MATCH (s)-[r:SOLD_TO {{txn_id: id}}]->(b) USING INDEX SEEK r:SOLD_TO(txn_id)
RETURN r.txn_id AS txn_id, s.business_id AS seller_id, b.business_id AS buyer_id,
       {_us("r.ts")} AS ts, r.amount AS amount, r.currency AS currency,
       r.amount_base AS amount_base, r.status AS status,
       {_us("r.status_at")} AS status_at, r.category AS category
"""

CREATE_ORDERS: Final = f"""
UNWIND $rows AS row
MATCH (s:Business {{business_id: row.seller_id}}) USING INDEX SEEK s:Business(business_id)
MATCH (b:Business {{business_id: row.buyer_id}}) USING INDEX SEEK b:Business(business_id)
CREATE (s)-[:SOLD_TO {{txn_id: row.txn_id, ts: {_dt("row.ts")}, amount: row.amount,
                      currency: row.currency, amount_base: row.amount_base,
                      status: row.status, status_at: {_dt("row.status_at")},
                      category: row.category}}]->(b)
RETURN count(*) AS created
"""

UPDATE_ORDERS: Final = f"""
UNWIND $rows AS row
MATCH ()-[r:SOLD_TO {{txn_id: row.txn_id}}]->() USING INDEX SEEK r:SOLD_TO(txn_id)
SET r.ts = {_dt("row.ts")}, r.amount = row.amount, r.currency = row.currency,
    r.amount_base = row.amount_base, r.status = row.status,
    r.status_at = {_dt("row.status_at")}, r.category = row.category
RETURN count(*) AS updated
"""

#: Adds per-pair deltas (summed in pandas over the batch's new orders) to TRADES_WITH.
ADD_PAIR_DELTAS: Final = f"""
UNWIND $pairs AS p
MATCH (s:Business {{business_id: p.seller_id}}) USING INDEX SEEK s:Business(business_id)
MATCH (b:Business {{business_id: p.buyer_id}}) USING INDEX SEEK b:Business(business_id)
MERGE (s)-[t:TRADES_WITH]->(b)
  ON CREATE SET t.orders = 0, t.gmv = 0.0, t.refunded = 0, t.disputed = 0, t.cancelled = 0
WITH t, p, {_dt("p.first_ts")} AS first_ts, {_dt("p.last_ts")} AS last_ts
SET t.orders = t.orders + p.orders, t.gmv = t.gmv + p.gmv,
    t.refunded = t.refunded + p.refunded, t.disputed = t.disputed + p.disputed,
    t.cancelled = t.cancelled + p.cancelled,
    t.first_ts = CASE WHEN t.first_ts IS NULL OR first_ts < t.first_ts
                      THEN first_ts ELSE t.first_ts END,
    t.last_ts = CASE WHEN t.last_ts IS NULL OR last_ts > t.last_ts
                     THEN last_ts ELSE t.last_ts END
RETURN count(*) AS pairs
"""

#: Rebuilds TRADES_WITH for the given pairs from their SOLD_TO orders (after updates).
RECOMPUTE_PAIRS: Final = """
UNWIND $pairs AS p
MATCH (s:Business {business_id: p.seller_id}) USING INDEX SEEK s:Business(business_id)
MATCH (b:Business {business_id: p.buyer_id}) USING INDEX SEEK b:Business(business_id)
CALL (s, b) {
  MATCH (s)-[r:SOLD_TO]->(b)
  RETURN count(r) AS orders,
         sum(CASE WHEN r.status <> 'cancelled' THEN r.amount_base ELSE 0.0 END) AS gmv,
         sum(CASE WHEN r.status = 'refunded' THEN 1 ELSE 0 END) AS refunded,
         sum(CASE WHEN r.status = 'disputed' THEN 1 ELSE 0 END) AS disputed,
         sum(CASE WHEN r.status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
         min(r.ts) AS first_ts, max(r.ts) AS last_ts
}
MERGE (s)-[t:TRADES_WITH]->(b)
SET t.orders = orders, t.gmv = toFloat(gmv), t.refunded = refunded, t.disputed = disputed,
    t.cancelled = cancelled, t.first_ts = first_ts, t.last_ts = last_ts
RETURN count(*) AS pairs
"""

# --- outcomes -----------------------------------------------------------------------------

EXISTING_OUTCOMES: Final = f"""
UNWIND $ids AS id
MATCH (o:Outcome {{business_id: id}})
RETURN o.business_id AS business_id, {_us("o.as_of")} AS as_of,
       o.defaulted AS defaulted, o.fraud AS fraud, o.split AS split
"""

UPSERT_OUTCOMES: Final = f"""
UNWIND $rows AS row
MATCH (b:Business {{business_id: row.business_id}}) USING INDEX SEEK b:Business(business_id)
MERGE (o:Outcome {{business_id: row.business_id, as_of: {_dt("row.as_of")}}})
SET o.defaulted = row.defaulted, o.fraud = row.fraud, o.split = row.split, o.source = $source
MERGE (b)-[:HAS_OUTCOME]->(o)
RETURN count(*) AS written
"""

# --- load runs ----------------------------------------------------------------------------

START_LOAD_RUN: Final = """
CREATE (r:LoadRun {run_id: $run_id, export: $export, started_at: datetime(), status: 'running'})
"""

FINISH_LOAD_RUN: Final = """
MATCH (r:LoadRun {run_id: $run_id})
SET r += $counts, r.finished_at = datetime(), r.status = $status
"""

# --- checks and analysts' totals ------------------------------------------------------------

COUNT_GRAPH: Final = """
RETURN COUNT { (:Business) } AS businesses, COUNT { (:Identifier) } AS identifiers,
       COUNT { (:Outcome) } AS outcomes, COUNT { ()-[:SOLD_TO]->() } AS orders,
       COUNT { ()-[:TRADES_WITH]->() } AS pairs,
       COUNT { ()-[:HAS_IDENTIFIER]->() } AS identifier_links,
       COUNT { ()-[:HAS_OUTCOME]->() } AS outcome_links
"""

ALL_PAIRS: Final = f"""
MATCH (s:Business)-[t:TRADES_WITH]->(b:Business)
RETURN s.business_id AS seller_id, b.business_id AS buyer_id, t.orders AS orders,
       t.gmv AS gmv, t.refunded AS refunded, t.disputed AS disputed, t.cancelled AS cancelled,
       {_us("t.first_ts")} AS first_ts, {_us("t.last_ts")} AS last_ts
"""

# --- snapshots (never read TRADES_WITH, analytics, scores or clusters) ----------------------

SNAPSHOT_BUSINESSES: Final = f"""
MATCH (b:Business) WHERE b.registered_at < {_dt("$as_of")} AND b.versioned IS NULL
RETURN b.business_id AS business_id, b.kind AS kind,
       {_us("b.registered_at")} AS registered_at, b.region AS region, b.industry AS industry,
       b.employees AS employees, b.declared_revenue AS declared_revenue
"""

SNAPSHOT_IDENTIFIERS: Final = f"""
MATCH (b:Business)-[:HAS_IDENTIFIER]->(i:Identifier)
WHERE b.registered_at < {_dt("$as_of")} AND b.versioned IS NULL
RETURN b.business_id AS business_id, i.type AS id_type, i.hash AS id_hash
"""

#: Fields of each order in :data:`SNAPSHOT_ORDERS`' ``orders`` lists, in their order.
SNAPSHOT_ORDER_FIELDS: Final = (
    "txn_id", "buyer_id", "ts", "amount", "currency", "amount_base", "status", "status_at",
    "category",
)  # fmt: skip

#: One record per seller with its orders before ``$as_of`` as a list of
#: :data:`SNAPSHOT_ORDER_FIELDS` lists (``graph.session.read_nested_frame`` flattens them). A
#: record per order cost the Python driver about 25 µs each, 21 s of the 25 s that reading
#: 837,000 orders took; one per seller reads them in about a third of the time.
SNAPSHOT_ORDERS: Final = f"""
MATCH (s:Business)
CALL (s) {{
  MATCH (s)-[r:SOLD_TO]->(b:Business)
  WHERE r.ts < {_dt("$as_of")}
  RETURN collect([r.txn_id, b.business_id, {_us("r.ts")}, r.amount, r.currency,
                  r.amount_base, r.status, {_us("r.status_at")}, r.category]) AS orders
}}
WITH s, orders WHERE size(orders) > 0
RETURN s.business_id AS seller_id, orders
"""

SNAPSHOT_OUTCOMES: Final = f"""
MATCH (o:Outcome) WHERE o.as_of = {_dt("$as_of")}
RETURN o.business_id AS business_id, {_us("o.as_of")} AS as_of,
       o.defaulted AS defaulted, o.fraud AS fraud, o.split AS split
"""

# --- analytics ----------------------------------------------------------------------------

GDS_VERSION: Final = "RETURN gds.version() AS gdsVersion"

DEGREE_AND_STRENGTH: Final = """
MATCH (b:Business)
CALL (b) {
  WITH b,
       [(b)-[t:TRADES_WITH]->() | t.gmv] AS out_gmv,
       [(b)<-[t:TRADES_WITH]-() | t.gmv] AS in_gmv
  SET b.out_degree = size(out_gmv), b.in_degree = size(in_gmv),
      b.out_strength = reduce(acc = 0.0, g IN out_gmv | acc + g),
      b.in_strength = reduce(acc = 0.0, g IN in_gmv | acc + g)
} IN TRANSACTIONS OF 10000 ROWS
"""

ALL_BUSINESS_IDS: Final = "MATCH (b:Business) RETURN b.business_id AS business_id"

TRADE_EDGES: Final = """
MATCH (s:Business)-[t:TRADES_WITH]->(b:Business)
RETURN s.business_id AS seller_id, b.business_id AS buyer_id, t.gmv AS gmv
"""

NON_HUB_IDENTIFIER_LINKS: Final = """
MATCH (b:Business)-[:HAS_IDENTIFIER]->(i:Identifier)
WHERE NOT coalesce(i.hub, false)
RETURN b.business_id AS business_id, i.type + ':' + i.hash AS identifier
"""

GDS_DROP_PROJECTION: Final = "CALL gds.graph.drop($name, false) YIELD graphName RETURN graphName"

GDS_PAGERANK: Final = """
CALL gds.graph.project('tradegraph_trades', 'Business', {TRADES_WITH: {properties: 'gmv'}})
YIELD graphName
CALL gds.pageRank.write('tradegraph_trades',
  {relationshipWeightProperty: 'gmv', writeProperty: 'pagerank', scaler: 'L1Norm'})
YIELD nodePropertiesWritten
CALL gds.graph.drop('tradegraph_trades') YIELD graphName AS dropped
RETURN nodePropertiesWritten
"""

GDS_PROJECT_UNDIRECTED_TRADES: Final = """
CALL gds.graph.project($name, 'Business',
  {TRADES_WITH: {orientation: 'UNDIRECTED', properties: 'gmv'}})
YIELD graphName
RETURN graphName
"""

#: Single-threaded, so the same graph gives the same communities on every run (idempotent).
GDS_LOUVAIN_STREAM: Final = """
CALL gds.louvain.stream($name, {relationshipWeightProperty: 'gmv', concurrency: 1})
YIELD nodeId, communityId
RETURN gds.util.asNode(nodeId).business_id AS business_id, communityId AS community
"""


def set_business_properties(*properties: str) -> str:
    """``UNWIND $rows`` statement setting the given (allow-listed) Business properties.

    Each row is ``{business_id, <property>: value, ...}``.
    """
    assignments = ", ".join(
        f"b.{checked_name('business_property', p)} = row.{checked_name('business_property', p)}"
        for p in properties
    )
    return (
        "UNWIND $rows AS row\n"
        "MATCH (b:Business {business_id: row.business_id})\n"
        f"SET {assignments}"
    )


def count_label(label: str) -> str:
    """``RETURN count`` of nodes with an allow-listed label."""
    return f"MATCH (n:{checked_name('label', label)}) RETURN count(n) AS n"


# --- clusters and analyst verdicts (owned by the analysts' toolkit, graph/clusters.py) -----
# Every statement touches only clusters tradegraph created, marked ``created_by:
# 'tradegraph'``: another application's ``:Cluster`` nodes in the same database are never
# listed, decided, labelled from or deleted.

#: What was known about each member strictly before $before (epoch µs), the cluster's date:
#: its score as of an earlier date, defaults and confirmed frauds dated before it (credit
#: events), and outcome rows whose window of $horizon_days had closed by then.
CLUSTER_MEMBER_FACTS: Final = f"""
UNWIND $ids AS id
MATCH (b:Business {{business_id: id}})
WITH b, {_dt("$before")} AS before
OPTIONAL MATCH (b)-[:HAS_OUTCOME]->(o:Outcome)
  WHERE o.as_of + duration({{days: $horizon_days}}) <= before
WITH b, before, max(o.defaulted) AS outcome_default, max(o.fraud) AS outcome_fraud
RETURN b.business_id AS business_id,
       CASE WHEN b.risk_as_of < before THEN b.risk_pd END AS risk_pd,
       CASE WHEN b.risk_as_of < before THEN b.risk_score END AS risk_score,
       CASE WHEN outcome_default = 1 OR EXISTS {{
         MATCH (b)-[:HAD_EVENT]->(e:CreditEvent {{event: 'defaulted'}}) WHERE e.at < before
       }} THEN 1 ELSE 0 END AS defaulted,
       CASE WHEN outcome_fraud = 1 OR EXISTS {{
         MATCH (b)-[:HAD_EVENT]->(e:CreditEvent {{event: 'fraud_confirmed'}}) WHERE e.at < before
       }} THEN 1 ELSE 0 END AS fraud
"""

DECIDED_CLUSTER_IDS: Final = """
MATCH (c:Cluster {created_by: 'tradegraph'}) WHERE c.verdict IS NOT NULL
RETURN c.cluster_id AS cluster_id, c.verdict AS verdict
"""

DELETE_UNDECIDED_CLUSTERS: Final = """
MATCH (c:Cluster {created_by: 'tradegraph'}) WHERE c.verdict IS NULL
DETACH DELETE c
RETURN count(*) AS deleted
"""

CREATE_CLUSTERS: Final = """
UNWIND $clusters AS row
CREATE (c:Cluster {cluster_id: row.cluster_id, kind: row.kind, size: size(row.members),
                   suspicion: row.suspicion, reasons: row.reasons, member_ids: row.members,
                   found_at: $found_at, created_by: 'tradegraph'})
WITH c, row
UNWIND row.members AS id
MATCH (b:Business {business_id: id})
CREATE (b)-[:IN_CLUSTER]->(c)
RETURN count(DISTINCT c) AS clusters, count(*) AS memberships
"""

#: One record per ``clusters`` run: when, whether it was partial and how each detector ran
#: ($detectors: list of "name: status after Ns (detail)" strings).
RECORD_CLUSTER_RUN: Final = """
CREATE (:ClusterRun {found_at: $found_at, partial: $partial, detectors: $detectors,
                     clusters: $clusters, created_by: 'tradegraph'})
"""

LATEST_CLUSTER_RUN: Final = f"""
MATCH (r:ClusterRun {{created_by: 'tradegraph'}})
RETURN {_us("r.found_at")} AS found_at, r.partial AS partial, r.detectors AS detectors,
       r.clusters AS clusters
ORDER BY r.found_at DESC LIMIT 1
"""

LIST_CLUSTERS: Final = """
MATCH (c:Cluster {created_by: 'tradegraph'})
WHERE ($kind IS NULL OR c.kind = $kind) AND ($include_decided OR c.verdict IS NULL)
RETURN c.cluster_id AS cluster_id, c.kind AS kind, c.size AS size, c.suspicion AS suspicion,
       c.reasons AS reasons, c.found_at AS found_at, c.verdict AS verdict,
       COLLECT { MATCH (b:Business)-[:IN_CLUSTER]->(c) RETURN b.business_id
                 ORDER BY b.business_id } AS members
ORDER BY c.suspicion DESC, c.cluster_id
LIMIT $limit
"""

GET_CLUSTER: Final = """
MATCH (c:Cluster {cluster_id: $cluster_id, created_by: 'tradegraph'})
RETURN c.verdict AS verdict, c.verdict_by AS verdict_by, c.verdict_at AS verdict_at,
       COLLECT { MATCH (b:Business)-[:IN_CLUSTER]->(c) RETURN b.business_id } AS members
"""

SET_CLUSTER_VERDICT: Final = """
MATCH (c:Cluster {cluster_id: $cluster_id, created_by: 'tradegraph'})
WHERE c.verdict IS NULL
SET c.verdict = $verdict, c.verdict_note = $note, c.verdict_by = $analyst,
    c.verdict_at = $at
RETURN c.cluster_id AS cluster_id
"""

#: One cluster for its picture (``clusters show``): what it is and the verdict, if any.
CLUSTER_PICTURE_INFO: Final = f"""
MATCH (c:Cluster {{cluster_id: $cluster_id, created_by: 'tradegraph'}})
RETURN c.kind AS kind, c.suspicion AS suspicion, c.reasons AS reasons,
       {_us("c.found_at")} AS found_at, c.verdict AS verdict, c.verdict_by AS verdict_by
"""

#: Its members with what the graph knows of them (latest score, registration).
CLUSTER_PICTURE_MEMBERS: Final = f"""
MATCH (c:Cluster {{cluster_id: $cluster_id, created_by: 'tradegraph'}})<-[:IN_CLUSTER]-(b:Business)
RETURN b.business_id AS business_id, b.kind AS kind,
       {_us("b.registered_at")} AS registered_at, b.risk_pd AS pd, b.risk_grade AS grade
ORDER BY business_id
"""

#: Identifiers held by two members or more, with how many businesses hold each in the graph.
CLUSTER_PICTURE_IDENTIFIERS: Final = """
MATCH (c:Cluster {cluster_id: $cluster_id, created_by: 'tradegraph'})<-[:IN_CLUSTER]-(b:Business)
MATCH (b)-[:HAS_IDENTIFIER]->(i:Identifier)
WITH i, b ORDER BY b.business_id
WITH i, collect(DISTINCT b.business_id) AS members
WHERE size(members) > 1
RETURN i.type AS id_type, i.hash AS id_hash, members,
       COUNT { (i)<-[:HAS_IDENTIFIER]-(:Business) } AS holders
ORDER BY size(members) DESC, id_type, id_hash
"""

#: Trade between members (all-time totals of each trading pair).
CLUSTER_PICTURE_TRADE: Final = f"""
MATCH (c:Cluster {{cluster_id: $cluster_id, created_by: 'tradegraph'}})<-[:IN_CLUSTER]-(s:Business)
MATCH (s)-[t:TRADES_WITH]->(b:Business)-[:IN_CLUSTER]->(c)
RETURN s.business_id AS seller_id, b.business_id AS buyer_id, t.orders AS orders,
       t.gmv AS gmv, t.refunded AS refunded, t.disputed AS disputed,
       t.cancelled AS cancelled, {_us("t.first_ts")} AS first_ts, {_us("t.last_ts")} AS last_ts
ORDER BY gmv DESC
"""

#: A confirmed cluster's members each get a ``fraud_confirmed`` credit event at the verdict
#: ($at: epoch microseconds), recorded as an analyst's label beside the lender's events.
FRAUD_EVENTS_FROM_CLUSTER: Final = f"""
MATCH (c:Cluster {{cluster_id: $cluster_id, created_by: 'tradegraph'}})<-[:IN_CLUSTER]-(b:Business)
MERGE (e:CreditEvent {{business_id: b.business_id, event: 'fraud_confirmed', at: {_dt("$at")}}})
ON CREATE SET e.source = 'analyst', e.cluster_id = $cluster_id
MERGE (b)-[:HAD_EVENT]->(e)
RETURN count(e) AS events
"""


# --- scoring API reads (tradegraph.api): stored scores for a batch of ids in one round trip,
# telling unknown ids from known businesses without a score.

#: The ``:Score`` ``s`` whose values business ``b`` holds as its latest (null when none).
_LATEST_TEXTS: Final = (
    "OPTIONAL MATCH (s:Score {business_id: b.business_id, as_of: b.risk_as_of, "
    "model_version: b.model_version})"
)
#: ``reasons`` and ``reason_details`` of that ``:Score``, or those an earlier release kept on
#: the business (:data:`WRITE_SCORES`).
_TEXT_COLUMNS: Final = (
    "coalesce(s.reasons, b.risk_reasons) AS reasons, "
    "coalesce(s.reason_details, b.risk_reason_details) AS reason_details"
)

#: Latest stored score of each id (the ``risk_*`` values on the business, the texts of the
#: ``:Score`` they came from: :data:`WRITE_SCORES`) with its score date (``risk_as_of``; for
#: values written without it, the newest ``:Score`` of the same model). ``known`` is false for
#: an id that is not in the graph. Parameters: ``ids`` (list of str).
API_LATEST_SCORES: Final = f"""
UNWIND $ids AS id
OPTIONAL MATCH (b:Business {{business_id: id}})
{_LATEST_TEXTS}
RETURN id AS business_id, b IS NOT NULL AS known, b.kind AS kind,
       b.registered_at AS registered_at,
       b.risk_pd AS pd, b.risk_score AS score, b.risk_grade AS grade,
       b.risk_reason_codes AS reason_codes, {_TEXT_COLUMNS},
       b.model_version AS model_version, b.scored_at AS scored_at,
       coalesce(b.risk_as_of, head(COLLECT {{
         MATCH (b)-[:SCORED]->(earlier:Score) WHERE earlier.model_version = b.model_version
         RETURN earlier.as_of ORDER BY earlier.as_of DESC LIMIT 1 }})) AS as_of
"""

#: The stored score of each id for one score date (the newest ``:Score`` of that date, any
#: model). Parameters: ``ids`` (list of str), ``as_of`` (date).
API_SCORES_AS_OF: Final = """
UNWIND $ids AS id
OPTIONAL MATCH (b:Business {business_id: id})
WITH id, b, head(COLLECT {
  MATCH (b)-[:SCORED]->(s:Score) WHERE date(s.as_of) = $as_of
  RETURN s ORDER BY s.scored_at DESC LIMIT 1 }) AS s
RETURN id AS business_id, b IS NOT NULL AS known, b.kind AS kind,
       b.registered_at AS registered_at,
       s.pd AS pd, s.score AS score, s.grade AS grade, s.reasons AS reasons,
       s.reason_codes AS reason_codes, s.reason_details AS reason_details,
       s.model_version AS model_version, s.scored_at AS scored_at, s.as_of AS as_of
"""

#: A cheap round trip for ``/health``.
PING: Final = "RETURN 1 AS ok"


# --- score write-back and read-back (graph.scores). A (:Score) is keyed by (business_id,
# as_of, model_version): writing the same run twice changes nothing but scored_at.

SCORE_CONSTRAINT: Final = (
    "CREATE CONSTRAINT score_key IF NOT EXISTS "
    "FOR (s:Score) REQUIRE (s.business_id, s.as_of, s.model_version) IS UNIQUE"
)

#: $rows: [{business_id, pd, score, grade, reasons, reason_codes, reason_details}], $as_of and
#: $scored_at (µs), $model_version. ``reasons`` are the applicant's sentences, ``reason_details``
#: the analyst's lines, aligned with ``reason_codes``. The business gets the latest numbers and
#: codes (what analysts filter on); the texts stay on its ``:Score`` alone, where the reads find
#: them by the business's ``risk_as_of`` and ``model_version`` (the ``score_key`` index): a
#: second copy of about 1 kB of text per business made the write-back a sixth slower. Texts an
#: earlier release kept on the business are cleared, and read while no ``:Score`` holds them.
#: The business's latest values move only forward in as_of (a back-fill keeps the newer ones).
WRITE_SCORES: Final = f"""
UNWIND $rows AS row
MATCH (b:Business {{business_id: row.business_id}})
MERGE (s:Score {{business_id: row.business_id, as_of: {_dt("$as_of")},
                 model_version: $model_version}})
SET s.pd = row.pd, s.score = row.score, s.grade = row.grade, s.reasons = row.reasons,
    s.reason_codes = row.reason_codes, s.reason_details = row.reason_details,
    s.scored_at = {_dt("$scored_at")}
MERGE (b)-[:SCORED]->(s)
WITH b, s
WHERE b.risk_as_of IS NULL OR b.risk_as_of <= s.as_of
SET b.risk_pd = s.pd, b.risk_score = s.score, b.risk_grade = s.grade,
    b.risk_reason_codes = s.reason_codes, b.risk_reasons = null, b.risk_reason_details = null,
    b.model_version = s.model_version, b.scored_at = s.scored_at, b.risk_as_of = s.as_of
RETURN count(*) AS latest
"""

# --- score runs (graph.score_runs): every write-back records itself, so a run that stopped
# part-way is visible and a re-run of the same (as_of, model_version) completes the same node.

SCORE_RUN_CONSTRAINT: Final = (
    "CREATE CONSTRAINT score_run_id IF NOT EXISTS FOR (r:ScoreRun) REQUIRE r.run_id IS UNIQUE"
)

#: $run_id, $as_of and $started_at (µs), $model_version, $total (scores the run will write).
START_SCORE_RUN: Final = f"""
MERGE (r:ScoreRun {{run_id: $run_id}})
ON CREATE SET r.attempts = 0
SET r.as_of = {_dt("$as_of")}, r.model_version = $model_version, r.status = 'running',
    r.started_at = {_dt("$started_at")}, r.finished_at = null, r.written = 0,
    r.total = $total, r.attempts = r.attempts + 1
"""

#: Counts the businesses of one written batch ($ids) into the run; runs in the batch's
#: transaction, so ``written`` never counts a batch that did not commit.
ADVANCE_SCORE_RUN: Final = """
MATCH (r:ScoreRun {run_id: $run_id})
SET r.written = r.written + COUNT { MATCH (b:Business) WHERE b.business_id IN $ids }
"""

#: $run_id, $status ('complete' or 'failed').
FINISH_SCORE_RUN: Final = """
MATCH (r:ScoreRun {run_id: $run_id})
SET r.status = $status, r.finished_at = datetime()
"""

#: Runs (only $run_id unless it is null), the newest score date (the one that sets businesses'
#: latest values) first, newest attempt first within a date; at most $limit.
SCORE_RUNS: Final = f"""
MATCH (r:ScoreRun) WHERE $run_id IS NULL OR r.run_id = $run_id
RETURN r.run_id AS run_id, {_us("r.as_of")} AS as_of, r.model_version AS model_version,
       r.status AS status, r.written AS written, r.total AS total, r.attempts AS attempts,
       {_us("r.started_at")} AS started_at, {_us("r.finished_at")} AS finished_at
ORDER BY r.as_of DESC, r.started_at DESC
LIMIT $limit
"""

COUNT_UNKNOWN: Final = """
UNWIND $ids AS id
OPTIONAL MATCH (b:Business {business_id: id})
WITH id, b WHERE b IS NULL
RETURN count(id) AS unknown
"""

READ_LATEST_SCORE: Final = f"""
MATCH (b:Business {{business_id: $business_id}})
WHERE b.risk_pd IS NOT NULL
{_LATEST_TEXTS}
RETURN b.business_id AS business_id, b.risk_pd AS pd, b.risk_score AS score,
       b.risk_grade AS grade, b.risk_reason_codes AS reason_codes, {_TEXT_COLUMNS},
       b.model_version AS model_version,
       {_us("b.risk_as_of")} AS as_of, {_us("b.scored_at")} AS scored_at
"""

SCORE_HISTORY: Final = f"""
MATCH (:Business {{business_id: $business_id}})-[:SCORED]->(s:Score)
RETURN s.business_id AS business_id, {_us("s.as_of")} AS as_of,
       s.model_version AS model_version, s.pd AS pd, s.score AS score, s.grade AS grade,
       s.reasons AS reasons, s.reason_codes AS reason_codes,
       s.reason_details AS reason_details, {_us("s.scored_at")} AS scored_at
ORDER BY as_of, scored_at, model_version
"""

#: The businesses with the highest latest PD and their reasons. Parameters: ``limit``.
RISKIEST_SCORES: Final = f"""
MATCH (b:Business) WHERE b.risk_pd IS NOT NULL
WITH b ORDER BY b.risk_pd DESC, b.business_id LIMIT $limit
{_LATEST_TEXTS}
RETURN b.business_id AS business_id, b.risk_pd AS pd, b.risk_score AS score,
       b.risk_grade AS grade, b.risk_reason_codes AS reason_codes, {_TEXT_COLUMNS},
       {_us("b.risk_as_of")} AS as_of
ORDER BY pd DESC, business_id
"""

GRADE_COUNTS: Final = """
MATCH (b:Business) WHERE b.risk_grade IS NOT NULL
RETURN b.risk_grade AS grade, count(*) AS businesses ORDER BY grade
"""


# --- history (contract v2): business versions and the lender's credit events (graph.load,
# graph.snapshot). A business with more than one version has ``versioned = true`` and one
# (:BusinessVersion) per version, in force from ``valid_from`` (inclusive) until ``valid_to``
# (exclusive; null for the latest), with the identifiers that version carried as parallel
# lists ``id_types``/``id_hashes``. Its node keeps the latest version's values, and each
# HAS_IDENTIFIER link the hull of its holding: ``valid_from`` (first held), ``valid_to``
# (null while the latest version carries it). Businesses with one version have none of this.

HISTORY_SCHEMA_STATEMENTS: Final[tuple[str, ...]] = (
    "CREATE CONSTRAINT business_version_key IF NOT EXISTS "
    "FOR (v:BusinessVersion) REQUIRE (v.business_id, v.updated_at) IS UNIQUE",
    "CREATE CONSTRAINT credit_event_key IF NOT EXISTS "
    "FOR (e:CreditEvent) REQUIRE (e.business_id, e.event, e.at) IS UNIQUE",
    "CREATE INDEX credit_event_at IF NOT EXISTS FOR (e:CreditEvent) ON (e.at)",
    # Lookups by business alone (EXISTING_OUTCOMES, EXISTING_CREDIT_EVENTS): the composite
    # keys do not serve them, and without these a load of monthly cohorts scans every
    # stored row per business.
    "CREATE INDEX outcome_business IF NOT EXISTS FOR (o:Outcome) ON (o.business_id)",
    "CREATE INDEX credit_event_business IF NOT EXISTS FOR (e:CreditEvent) ON (e.business_id)",
    "CREATE INDEX business_versioned IF NOT EXISTS FOR (b:Business) ON (b.versioned)",
)

#: Stored ``updated_at`` of businesses (``registered_at`` where none was recorded: the
#: contract's default) and whether they already have versions.
STORED_UPDATED_AT: Final = f"""
UNWIND $ids AS id
MATCH (b:Business {{business_id: id}}) USING INDEX SEEK b:Business(business_id)
RETURN b.business_id AS business_id, coalesce(b.versioned, false) AS versioned,
       {_us("coalesce(b.updated_at, b.registered_at)")} AS updated_at
"""

SET_UPDATED_AT: Final = f"""
UNWIND $rows AS row
MATCH (b:Business {{business_id: row.business_id}}) USING INDEX SEEK b:Business(business_id)
SET b.updated_at = {_dt("row.updated_at")}
"""

#: Everything stored about the given businesses' versions: the versions of versioned ones,
#: the node and its links for the rest (their one implicit version).
STORED_VERSIONS: Final = f"""
UNWIND $ids AS id
MATCH (b:Business {{business_id: id}}) USING INDEX SEEK b:Business(business_id)
RETURN b.business_id AS business_id, coalesce(b.versioned, false) AS versioned,
       {_us("coalesce(b.updated_at, b.registered_at)")} AS updated_at, b.kind AS kind,
       {_us("b.registered_at")} AS registered_at, b.region AS region, b.industry AS industry,
       b.employees AS employees, b.declared_revenue AS declared_revenue,
       [(b)-[:HAS_IDENTIFIER]->(i:Identifier) | i.type + '|' + i.hash] AS identifiers,
       [(b)-[:HAS_VERSION]->(v:BusinessVersion) | {{
           updated_at: {_us("v.updated_at")}, kind: v.kind,
           registered_at: {_us("v.registered_at")}, region: v.region, industry: v.industry,
           employees: v.employees, declared_revenue: v.declared_revenue,
           identifiers: [k IN range(0, size(v.id_types) - 1) |
                         v.id_types[k] + '|' + v.id_hashes[k]]}}] AS versions
"""

#: $rows: one per business: the latest version's values and every version of the chain.
WRITE_VERSIONS: Final = f"""
UNWIND $rows AS row
MERGE (b:Business {{business_id: row.business_id}})
SET b.kind = row.kind, b.registered_at = {_dt("row.registered_at")}, b.region = row.region,
    b.industry = row.industry, b.employees = row.employees,
    b.declared_revenue = row.declared_revenue, b.updated_at = {_dt("row.updated_at")},
    b.versioned = true
WITH b, row
UNWIND row.versions AS ver
MERGE (v:BusinessVersion {{business_id: row.business_id, updated_at: {_dt("ver.updated_at")}}})
SET v.kind = ver.kind, v.registered_at = {_dt("ver.registered_at")}, v.region = ver.region,
    v.industry = ver.industry, v.employees = ver.employees,
    v.declared_revenue = ver.declared_revenue, v.valid_from = {_dt("ver.valid_from")},
    v.valid_to = {_dt("ver.valid_to")}, v.id_types = ver.id_types, v.id_hashes = ver.id_hashes
MERGE (b)-[:HAS_VERSION]->(v)
RETURN count(*) AS written
"""

#: $rows: {business_id, id_type, id_hash, valid_from, valid_to} for versioned businesses.
LINK_VERSIONED_IDENTIFIERS: Final = f"""
UNWIND $rows AS row
MATCH (b:Business {{business_id: row.business_id}}) USING INDEX SEEK b:Business(business_id)
MERGE (i:Identifier {{type: row.id_type, hash: row.id_hash}})
MERGE (b)-[r:HAS_IDENTIFIER]->(i)
SET r.valid_from = {_dt("row.valid_from")}, r.valid_to = {_dt("row.valid_to")}
RETURN count(*) AS linked
"""

#: $rows: {business_id, keep: [type|hash]}: drops links no version carries any more.
UNLINK_STALE_IDENTIFIERS: Final = """
UNWIND $rows AS row
MATCH (b:Business {business_id: row.business_id})-[r:HAS_IDENTIFIER]->(i:Identifier)
USING INDEX SEEK b:Business(business_id)
WHERE NOT i.type + '|' + i.hash IN row.keep
DELETE r
"""

EXISTING_CREDIT_EVENTS: Final = f"""
UNWIND $ids AS id
MATCH (e:CreditEvent {{business_id: id}})
RETURN e.business_id AS business_id, e.event AS event, {_us("e.at")} AS at
"""

CREATE_CREDIT_EVENTS: Final = f"""
UNWIND $rows AS row
MATCH (b:Business {{business_id: row.business_id}}) USING INDEX SEEK b:Business(business_id)
MERGE (e:CreditEvent {{business_id: row.business_id, event: row.event, at: {_dt("row.at")}}})
MERGE (b)-[:HAD_EVENT]->(e)
RETURN count(*) AS written
"""

#: Versioned businesses as they stood strictly before $as_of: the version in force.
SNAPSHOT_VERSIONED_BUSINESSES: Final = f"""
MATCH (b:Business {{versioned: true}})-[:HAS_VERSION]->(v:BusinessVersion)
WHERE v.registered_at < {_dt("$as_of")} AND v.valid_from < {_dt("$as_of")}
  AND (v.valid_to IS NULL OR v.valid_to >= {_dt("$as_of")})
RETURN b.business_id AS business_id, v.kind AS kind,
       {_us("v.registered_at")} AS registered_at, v.region AS region, v.industry AS industry,
       v.employees AS employees, v.declared_revenue AS declared_revenue
"""

#: The identifiers the version in force strictly before $as_of carried.
SNAPSHOT_VERSIONED_IDENTIFIERS: Final = f"""
MATCH (b:Business {{versioned: true}})-[:HAS_VERSION]->(v:BusinessVersion)
WHERE v.registered_at < {_dt("$as_of")} AND v.valid_from < {_dt("$as_of")}
  AND (v.valid_to IS NULL OR v.valid_to >= {_dt("$as_of")})
UNWIND range(0, size(v.id_types) - 1) AS k
RETURN b.business_id AS business_id, v.id_types[k] AS id_type, v.id_hashes[k] AS id_hash
"""

#: Every credit event (labels for any score date; never features as such).
ALL_CREDIT_EVENTS: Final = f"""
MATCH (e:CreditEvent)
RETURN e.business_id AS business_id, e.event AS event, {_us("e.at")} AS at
"""

#: Outcome rows at the given score dates ($dates: epoch microseconds).
OUTCOMES_AT: Final = f"""
UNWIND $dates AS d
MATCH (o:Outcome) WHERE o.as_of = {_dt("d")}
RETURN o.business_id AS business_id, {_us("o.as_of")} AS as_of,
       o.defaulted AS defaulted, o.fraud AS fraud
"""

COUNT_HISTORY: Final = """
RETURN COUNT { (:BusinessVersion) } AS business_versions,
       COUNT { (:Business {versioned: true}) } AS versioned_businesses,
       COUNT { (:CreditEvent) } AS credit_events
"""


# --- batched detectors (graph/wash.py): the library's rules, with the pairwise work in numpy --

#: Reciprocal trading pairs with at least $min_repeats orders each way (a < b).
WASH_CANDIDATE_PAIRS: Final = """
MATCH (a:Business)-[ab:TRADES_WITH]->(b:Business)-[ba:TRADES_WITH]->(a)
WHERE a.business_id < b.business_id AND ab.orders >= $min_repeats AND ba.orders >= $min_repeats
RETURN a.business_id AS business_a, b.business_id AS business_b,
       ab.orders AS orders_ab, ba.orders AS orders_ba,
       coalesce(ab.gmv, 0) + coalesce(ba.gmv, 0) AS pair_gmv,
       a.risk_score AS risk_score_a, b.risk_score AS risk_score_b
"""

#: Orders that are not cancelled, both ways, of the given pairs ($pairs: [{a, b}]).
WASH_PAIR_ORDERS: Final = f"""
UNWIND $pairs AS p
MATCH (a:Business {{business_id: p.a}}) USING INDEX SEEK a:Business(business_id)
MATCH (b:Business {{business_id: p.b}}) USING INDEX SEEK b:Business(business_id)
CALL (a, b, p) {{
  MATCH (a)-[o:SOLD_TO]->(b) WHERE o.status <> 'cancelled'
  RETURN p.a AS seller, p.b AS buyer, o.txn_id AS txn_id, o.amount_base AS amount,
         {_us("o.ts")} AS ts
  UNION ALL
  MATCH (b)-[o:SOLD_TO]->(a) WHERE o.status <> 'cancelled'
  RETURN p.b AS seller, p.a AS buyer, o.txn_id AS txn_id, o.amount_base AS amount,
         {_us("o.ts")} AS ts
}}
RETURN seller, buyer, txn_id, amount, ts
"""

#: Trading pairs a circular-trading loop can use (graph/cycles.py): both businesses have at most
#: $max_partners distinct trading partners (the library query's hub rule, with its cheap
#: degree cut first), the pair has orders that were not cancelled, and it traded at or after
#: $since (epoch µs; null = all).
CYCLE_CANDIDATE_PAIRS: Final = f"""
MATCH (a:Business)
WHERE COUNT {{ (a)-[:TRADES_WITH]-() }} <= 2 * $max_partners
  AND COUNT {{ MATCH (a)-[:TRADES_WITH]-(p) RETURN DISTINCT p }} <= $max_partners
MATCH (a)-[t:TRADES_WITH]->(b:Business)
WHERE t.orders > coalesce(t.cancelled, 0)
  AND ($since IS NULL OR t.last_ts >= {_dt("$since")})
  AND COUNT {{ (b)-[:TRADES_WITH]-() }} <= 2 * $max_partners
  AND COUNT {{ MATCH (b)-[:TRADES_WITH]-(p) RETURN DISTINCT p }} <= $max_partners
RETURN a.business_id AS seller, b.business_id AS buyer
"""

#: Fields of each order in :data:`CYCLE_PAIR_ORDERS`' ``orders`` lists, in their order.
CYCLE_ORDER_FIELDS: Final = ("txn_id", "amount", "ts")

#: The orders that were not cancelled of the given pairs ($pairs: [[seller, buyer]]), placed at
#: or after $since (epoch µs; null = all), one row per pair with its orders as a list of
#: :data:`CYCLE_ORDER_FIELDS` lists (far fewer records to decode than a row per order;
#: ``graph.session.read_nested_frame`` flattens them).
CYCLE_PAIR_ORDERS: Final = f"""
UNWIND $pairs AS p
MATCH (a:Business {{business_id: p[0]}}) USING INDEX SEEK a:Business(business_id)
MATCH (b:Business {{business_id: p[1]}}) USING INDEX SEEK b:Business(business_id)
MATCH (a)-[o:SOLD_TO]->(b)
WHERE o.status <> 'cancelled' AND ($since IS NULL OR o.ts >= {_dt("$since")})
RETURN p[0] AS seller, p[1] AS buyer,
       collect([o.txn_id, o.amount_base, {_us("o.ts")}]) AS orders
"""
