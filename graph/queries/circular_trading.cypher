// name: circular_trading
// title: Circular trading: goods and money going round a loop of businesses
// finds: Time-ordered cycles of 2 to 6 orders A->B->...->A (SOLD_TO, seller to buyer), each
//   order placed after the previous one, the whole loop within $window_days, and each order
//   passing on most of the previous order's amount (next/previous amount between
//   $min_pass_ratio and $max_pass_ratio). Cancelled orders are ignored. One row per cycle,
//   starting at its earliest order. (Written as one fixed-length pattern per cycle length so
//   the time and amount checks prune every hop as soon as it is matched.)
// param window_days: int = 30 [1..3650] | longest time from the first to the last order of a cycle
// param min_pass_ratio: float = 0.8 [0..1] | smallest share of an order's amount the next order passes on
// param max_pass_ratio: float = 1.25 [1..100] | largest ratio of an order's amount to the previous one
// param min_amount: float = 1000.0 [0..1e12] | smallest amount (base currency) of the first order
// param since: datetime = null | only cycles starting at or after this time (ISO; null = all)
// param limit: int = 1000 [1..1000000] | most cycles returned
// hit: The same value travelling round a closed loop in a short time is rarely real business:
//   it inflates turnover and trade history (to win credit limits) or launders money.
// seconds: 30
MATCH (s:Business)-[h1:SOLD_TO]->(n2:Business)
WHERE h1.status <> 'cancelled' AND h1.amount_base >= $min_amount AND s <> n2
  AND ($since IS NULL OR h1.ts >= $since)
WITH s, n2, h1, h1.ts + duration({days: $window_days}) AS deadline
CALL (s, n2, h1, deadline) {
  MATCH (n2)-[h2:SOLD_TO]->(s)
  WHERE h2.ts > h1.ts AND h2.ts <= deadline AND h2.status <> 'cancelled'
    AND $min_pass_ratio * h1.amount_base <= h2.amount_base <= $max_pass_ratio * h1.amount_base
  RETURN [h1, h2] AS hops
  UNION ALL
  MATCH (n2)-[h2:SOLD_TO]->(n3:Business)
  WHERE h2.ts > h1.ts AND h2.ts <= deadline AND h2.status <> 'cancelled'
    AND $min_pass_ratio * h1.amount_base <= h2.amount_base <= $max_pass_ratio * h1.amount_base
  MATCH (n3)-[h3:SOLD_TO]->(s)
  WHERE h3.ts > h2.ts AND h3.ts <= deadline AND h3.status <> 'cancelled'
    AND $min_pass_ratio * h2.amount_base <= h3.amount_base <= $max_pass_ratio * h2.amount_base
  RETURN [h1, h2, h3] AS hops
  UNION ALL
  MATCH (n2)-[h2:SOLD_TO]->(n3:Business)
  WHERE h2.ts > h1.ts AND h2.ts <= deadline AND h2.status <> 'cancelled'
    AND $min_pass_ratio * h1.amount_base <= h2.amount_base <= $max_pass_ratio * h1.amount_base
  MATCH (n3)-[h3:SOLD_TO]->(n4:Business)
  WHERE h3.ts > h2.ts AND h3.ts <= deadline AND h3.status <> 'cancelled'
    AND $min_pass_ratio * h2.amount_base <= h3.amount_base <= $max_pass_ratio * h2.amount_base
  MATCH (n4)-[h4:SOLD_TO]->(s)
  WHERE h4.ts > h3.ts AND h4.ts <= deadline AND h4.status <> 'cancelled'
    AND $min_pass_ratio * h3.amount_base <= h4.amount_base <= $max_pass_ratio * h3.amount_base
  RETURN [h1, h2, h3, h4] AS hops
  UNION ALL
  MATCH (n2)-[h2:SOLD_TO]->(n3:Business)
  WHERE h2.ts > h1.ts AND h2.ts <= deadline AND h2.status <> 'cancelled'
    AND $min_pass_ratio * h1.amount_base <= h2.amount_base <= $max_pass_ratio * h1.amount_base
  MATCH (n3)-[h3:SOLD_TO]->(n4:Business)
  WHERE h3.ts > h2.ts AND h3.ts <= deadline AND h3.status <> 'cancelled'
    AND $min_pass_ratio * h2.amount_base <= h3.amount_base <= $max_pass_ratio * h2.amount_base
  MATCH (n4)-[h4:SOLD_TO]->(n5:Business)
  WHERE h4.ts > h3.ts AND h4.ts <= deadline AND h4.status <> 'cancelled'
    AND $min_pass_ratio * h3.amount_base <= h4.amount_base <= $max_pass_ratio * h3.amount_base
  MATCH (n5)-[h5:SOLD_TO]->(s)
  WHERE h5.ts > h4.ts AND h5.ts <= deadline AND h5.status <> 'cancelled'
    AND $min_pass_ratio * h4.amount_base <= h5.amount_base <= $max_pass_ratio * h4.amount_base
  RETURN [h1, h2, h3, h4, h5] AS hops
  UNION ALL
  MATCH (n2)-[h2:SOLD_TO]->(n3:Business)
  WHERE h2.ts > h1.ts AND h2.ts <= deadline AND h2.status <> 'cancelled'
    AND $min_pass_ratio * h1.amount_base <= h2.amount_base <= $max_pass_ratio * h1.amount_base
  MATCH (n3)-[h3:SOLD_TO]->(n4:Business)
  WHERE h3.ts > h2.ts AND h3.ts <= deadline AND h3.status <> 'cancelled'
    AND $min_pass_ratio * h2.amount_base <= h3.amount_base <= $max_pass_ratio * h2.amount_base
  MATCH (n4)-[h4:SOLD_TO]->(n5:Business)
  WHERE h4.ts > h3.ts AND h4.ts <= deadline AND h4.status <> 'cancelled'
    AND $min_pass_ratio * h3.amount_base <= h4.amount_base <= $max_pass_ratio * h3.amount_base
  MATCH (n5)-[h5:SOLD_TO]->(n6:Business)
  WHERE h5.ts > h4.ts AND h5.ts <= deadline AND h5.status <> 'cancelled'
    AND $min_pass_ratio * h4.amount_base <= h5.amount_base <= $max_pass_ratio * h4.amount_base
  MATCH (n6)-[h6:SOLD_TO]->(s)
  WHERE h6.ts > h5.ts AND h6.ts <= deadline AND h6.status <> 'cancelled'
    AND $min_pass_ratio * h5.amount_base <= h6.amount_base <= $max_pass_ratio * h5.amount_base
  RETURN [h1, h2, h3, h4, h5, h6] AS hops
}
WITH hops, [h IN hops | startNode(h)] AS loop
WHERE size(loop) = size(COLLECT { UNWIND loop AS b RETURN DISTINCT b })
RETURN [b IN loop | b.business_id] AS businesses,
       size(hops) AS hops,
       [h IN hops | h.txn_id] AS txn_ids,
       [h IN hops | h.amount_base] AS amounts,
       hops[0].ts AS started_at,
       hops[-1].ts AS closed_at,
       duration.inSeconds(hops[0].ts, hops[-1].ts).seconds / 86400.0 AS days,
       round(toFloat(hops[-1].amount_base) / hops[0].amount_base, 4) AS returned_share
ORDER BY started_at, businesses
LIMIT $limit
