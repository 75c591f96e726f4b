// name: identifier_rings
// title: Rings of businesses joined by shared identifiers (hubs left out)
// finds: Groups of businesses linked, directly or through a chain, by a shared phone, device,
//   bank account, owner or address. Identifiers flagged as hubs (a marketplace warehouse, a
//   payment aggregator) or shared by more than $max_sharing businesses are ignored. For each
//   ring: its members, size, the identifiers that join them, how much of the members' trade
//   stays inside the ring, their mean risk score and how many have defaulted or been flagged.
// param min_size: int = 3 [2..1000] | smallest ring reported
// param max_sharing: int = 20 [2..100000] | identifiers shared by more businesses than this are treated as hubs
// param id_types: list[str] = ["phone", "device_id", "bank_account", "owner_id", "address"] | identifier types that may join a ring
// param min_internal_share: float = 0.3 [0..1] | smallest share of the members' GMV traded among themselves
// param limit: int = 500 [1..100000] | most rings returned
// hit: Several businesses behind the same phones, devices or accounts that mostly trade with
//   each other: a likely fraud ring (fake counterparties inflating each other's history).
//   Innocent families usually trade outside the group; a low internal share argues against.
// seconds: 10
// narrow: max_sharing=8, limit=100
MATCH (seed:Business)-[:HAS_IDENTIFIER]->(shared:Identifier)
WHERE NOT coalesce(shared.hub, false) AND shared.type IN $id_types
  AND COUNT { (shared)<-[:HAS_IDENTIFIER]-(:Business) } >= 2
  AND COUNT { (shared)<-[:HAS_IDENTIFIER]-(:Business) } <= $max_sharing
WITH DISTINCT seed
CALL (seed) {
  MATCH ANY SHORTEST (seed)
    ((:Business)-[:HAS_IDENTIFIER]->(link:Identifier
        WHERE NOT coalesce(link.hub, false) AND link.type IN $id_types
          AND COUNT { (link)<-[:HAS_IDENTIFIER]-(:Business) } <= $max_sharing)
     <-[:HAS_IDENTIFIER]-(:Business))+
    (other:Business)
  WHERE other <> seed
  RETURN collect(DISTINCT other) AS others
}
WITH seed, others + [seed] AS members
WITH seed, members, reduce(m = seed.business_id, x IN members |
       CASE WHEN x.business_id < m THEN x.business_id ELSE m END) AS ring_id
WHERE seed.business_id = ring_id AND size(members) >= $min_size
CALL (members) {
  UNWIND members AS b
  OPTIONAL MATCH (b)-[t:TRADES_WITH]-(c:Business)
  WITH t, c IN members AS internal
  WITH DISTINCT t, internal
  RETURN sum(CASE WHEN internal THEN t.gmv ELSE 0 END) AS internal_gmv,
         sum(coalesce(t.gmv, 0)) AS total_gmv
}
CALL (members) {
  UNWIND members AS b
  MATCH (b)-[:HAS_IDENTIFIER]->(i:Identifier)<-[:HAS_IDENTIFIER]-(c:Business)
  WHERE c IN members AND NOT coalesce(i.hub, false) AND i.type IN $id_types
    AND COUNT { (i)<-[:HAS_IDENTIFIER]-(:Business) } <= $max_sharing
  RETURN count(DISTINCT i) AS shared_identifiers, collect(DISTINCT i.type) AS identifier_types
}
CALL (members) {
  UNWIND members AS b
  OPTIONAL MATCH (b)-[:HAS_OUTCOME]->(o:Outcome)
  WITH b, max(o.defaulted) AS defaulted, max(o.fraud) AS fraud
  RETURN count(CASE WHEN defaulted = 1 THEN 1 END) AS defaults,
         count(CASE WHEN fraud = 1 THEN 1 END) AS fraud_labels,
         avg(b.risk_score) AS mean_risk_score,
         avg(b.risk_pd) AS mean_risk_pd,
         count(b.risk_score) AS scored
}
WITH ring_id, members, internal_gmv, total_gmv, shared_identifiers, identifier_types,
     defaults, fraud_labels, mean_risk_score, mean_risk_pd, scored,
     CASE WHEN total_gmv > 0 THEN toFloat(internal_gmv) / total_gmv ELSE 0.0 END AS internal_share
WHERE internal_share >= $min_internal_share
RETURN ring_id,
       size(members) AS size,
       COLLECT { UNWIND members AS m RETURN m.business_id ORDER BY m.business_id } AS members,
       shared_identifiers,
       identifier_types,
       round(internal_share, 4) AS internal_trade_share,
       internal_gmv,
       total_gmv,
       mean_risk_score,
       mean_risk_pd,
       scored,
       defaults,
       fraud_labels
ORDER BY internal_trade_share DESC, size DESC, ring_id
LIMIT $limit
