// name: bust_out
// title: Bust-out signals: young businesses ramping up fast with a few linked counterparties
// finds: Businesses at most $max_age_days old at their reference time (their last order, or
//   $as_of when given) whose GMV over the last $recent_days is at least $min_growth times the
//   $recent_days before (or who had nothing before and at least $min_recent_gmv now), with at
//   least $min_concentration of their GMV on their $top_k largest counterparties, of which at
//   least $min_linked share a non-hub identifier with them. Both buying and selling count.
//   Defaults: up to two years old and +50 % over two months, as bust-outs ramp up steadily
//   for 7-18 months; the shared identifier is what keeps innocent growth out.
// param max_age_days: int = 730 [1..36500] | oldest business (days since registration) considered
// param recent_days: int = 60 [1..3650] | length of the recent window and of the window before it
// param min_growth: float = 1.5 [1..1e6] | smallest recent / previous GMV
// param min_recent_gmv: float = 10000.0 [0..1e15] | smallest recent GMV (base currency)
// param top_k: int = 3 [1..100] | how many top counterparties the concentration is measured on
// param min_concentration: float = 0.6 [0..1] | smallest share of GMV on the top counterparties
// param min_linked: int = 1 [0..100] | fewest top counterparties sharing a non-hub identifier
// param as_of: datetime = null | reference time for every business (null = each one's last order)
// param limit: int = 500 [1..1000000] | most businesses returned
// hit: A new account that quickly runs up volume with a handful of counterparties it is tied
//   to (same phone, device, owner) is the classic set-up of a bust-out: build trust, draw
//   credit, disappear. Check credit exposure first.
// seconds: 15
// narrow: max_age_days=365, limit=100
MATCH (b:Business)
WHERE b.registered_at IS NOT NULL
  AND ($as_of IS NULL OR (b.registered_at < $as_of
       AND b.registered_at >= $as_of - duration({days: $max_age_days})))
CALL (b) {
  MATCH (b)-[t:TRADES_WITH]-(:Business)
  RETURN max(t.last_ts) AS last_ts
}
WITH b, coalesce($as_of, last_ts) AS ref
WHERE ref IS NOT NULL AND duration.inDays(b.registered_at, ref).days <= $max_age_days
WITH b, ref, ref - duration({days: $recent_days}) AS cut,
     ref - duration({days: 2 * $recent_days}) AS earliest
CALL (b, ref, cut, earliest) {
  MATCH (b)-[o:SOLD_TO]-(c:Business)
  WHERE o.status <> 'cancelled' AND o.ts <= ref AND c <> b
  WITH c,
       sum(o.amount_base) AS gmv,
       sum(CASE WHEN o.ts > cut THEN o.amount_base ELSE 0 END) AS recent,
       sum(CASE WHEN earliest < o.ts <= cut THEN o.amount_base ELSE 0 END) AS previous
  ORDER BY gmv DESC
  WITH collect({c: c, gmv: gmv}) AS ranked, sum(gmv) AS total_gmv,
       sum(recent) AS recent_gmv, sum(previous) AS previous_gmv
  RETURN ranked[0..$top_k] AS top, total_gmv, recent_gmv, previous_gmv
}
WITH b, ref, top, total_gmv, recent_gmv, previous_gmv,
     reduce(s = 0.0, x IN top | s + x.gmv) AS top_gmv
WHERE total_gmv > 0 AND recent_gmv >= $min_recent_gmv
  AND (previous_gmv = 0 OR recent_gmv >= $min_growth * previous_gmv)
  AND top_gmv / total_gmv >= $min_concentration
WITH b, ref, top, total_gmv, recent_gmv, previous_gmv, top_gmv,
     [x IN top WHERE EXISTS {
        MATCH (b)-[:HAS_IDENTIFIER]->(i:Identifier)<-[:HAS_IDENTIFIER]-(c:Business)
        WHERE c = x.c AND NOT coalesce(i.hub, false) } | x.c.business_id] AS linked
WHERE size(linked) >= $min_linked
RETURN b.business_id AS business_id,
       b.registered_at AS registered_at,
       ref AS reference_time,
       duration.inDays(b.registered_at, ref).days AS age_days,
       recent_gmv,
       previous_gmv,
       CASE WHEN previous_gmv > 0 THEN round(recent_gmv / previous_gmv, 2) END AS growth,
       round(top_gmv / total_gmv, 4) AS concentration,
       [x IN top | x.c.business_id] AS top_counterparties,
       linked AS linked_counterparties,
       b.risk_score AS risk_score,
       b.risk_pd AS risk_pd
ORDER BY size(linked) DESC, recent_gmv DESC
LIMIT $limit
