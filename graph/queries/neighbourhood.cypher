// name: neighbourhood
// title: One business's neighbourhood: counterparties up to k hops, their scores and orders
// finds: The business $business_id (distance 0) and every business within $hops trade hops
//   of it (TRADES_WITH in either direction, shortest distance), each with its risk score,
//   grade and outcomes, the business it is reached through, the trade on that link (orders,
//   GMV, refunds, disputes, first and last order), its latest $orders_per_link orders, and
//   whether it shares a non-hub identifier with $business_id.
// param business_id: str = required | the business to look at
// param hops: int = 2 [1..3] | how many trade hops out to go
// param orders_per_link: int = 5 [0..1000] | latest orders shown per link
// param limit: int = 200 [1..100000] | most neighbours returned (nearest and riskiest first)
// hit: What an analyst opens first on an alert: who the business trades with, how risky they
//   are, and whether the same people sit behind both sides.
// seconds: 5
MATCH (centre:Business {business_id: $business_id})
CALL (centre) {
  RETURN centre AS n, 0 AS distance, null AS via
  UNION
  MATCH p = ANY SHORTEST (centre)-[:TRADES_WITH]-{1,3}(n:Business)
  WHERE n <> centre AND length(p) <= $hops
  RETURN n, length(p) AS distance, nodes(p)[-2] AS via
}
WITH centre, n, distance, via
ORDER BY distance, coalesce(n.risk_pd, -1.0) DESC, n.business_id
LIMIT $limit
OPTIONAL MATCH (via)-[link:TRADES_WITH]-(n)
WITH centre, n, distance, via,
     sum(link.orders) AS link_orders, sum(link.gmv) AS link_gmv,
     sum(link.refunded) AS link_refunded, sum(link.disputed) AS link_disputed,
     min(link.first_ts) AS link_first_ts, max(link.last_ts) AS link_last_ts
RETURN n.business_id AS business_id,
       distance,
       via.business_id AS via,
       n.kind AS kind,
       n.industry AS industry,
       n.registered_at AS registered_at,
       n.risk_score AS risk_score,
       n.risk_pd AS risk_pd,
       n.risk_grade AS risk_grade,
       COLLECT { MATCH (n)-[:HAS_OUTCOME]->(o:Outcome)
                 RETURN {as_of: o.as_of, defaulted: o.defaulted, fraud: o.fraud} } AS outcomes,
       link_orders,
       link_gmv,
       link_refunded,
       link_disputed,
       link_first_ts,
       link_last_ts,
       COLLECT { MATCH (via)-[o:SOLD_TO]-(n)
                 RETURN {txn_id: o.txn_id, seller: startNode(o).business_id, ts: o.ts,
                         amount_base: o.amount_base, status: o.status}
                 ORDER BY o.ts DESC LIMIT $orders_per_link } AS latest_orders,
       n <> centre AND EXISTS {
         (centre)-[:HAS_IDENTIFIER]->(i:Identifier)<-[:HAS_IDENTIFIER]-(n)
         WHERE NOT coalesce(i.hub, false) } AS shares_identifier
ORDER BY distance, coalesce(risk_pd, -1.0) DESC, business_id
