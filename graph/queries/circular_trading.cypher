// name: circular_trading
// title: Circular trading: goods and money going round a loop of businesses
// finds: Time-ordered cycles of 2 to 6 orders A->B->...->A (SOLD_TO, seller to buyer), each
//   order placed after the previous one, the whole loop within $window_days, and each order
//   passing on most of the previous order's amount (next/previous amount between
//   $min_pass_ratio and $max_pass_ratio), through distinct businesses. Cancelled orders are
//   ignored. One row per cycle, starting at its earliest order. Businesses with more than
//   $max_partners trading partners (marketplace hubs: a loop through them is almost always
//   ordinary trade) are left out. (Two steps for speed: loops of trading pairs, TRADES_WITH,
//   whose trading periods lie within the window of each other, found once each from their
//   smallest business_id with a quantified path pattern; then only those loops are expanded
//   to their orders, from every starting point.)
// param window_days: int = 30 [1..3650] | longest time from the first to the last order of a cycle
// param min_pass_ratio: float = 0.8 [0..1] | smallest share of an order's amount the next order passes on
// param max_pass_ratio: float = 1.25 [1..100] | largest ratio of an order's amount to the previous one
// param min_amount: float = 1000.0 [0..1e12] | smallest amount (base currency) of the first order
// param max_partners: int = 30 [2..1000000] | businesses with more trading partners (in or out) are skipped
// param since: datetime = null | only cycles starting at or after this time (ISO; null = all)
// param limit: int = 1000 [1..1000000] | most cycles returned
// hit: The same value travelling round a closed loop in a short time is rarely real business:
//   it inflates turnover and trade history (to win credit limits) or launders money.
// seconds: 30
// narrow: max_partners=10, window_days=14, limit=200
// a degree above twice the limit means more partners than the limit: a cheap first cut
MATCH (s:Business)-[first:TRADES_WITH]->(n2:Business)
WHERE n2.business_id > s.business_id
  AND ($since IS NULL OR first.last_ts >= $since)
  AND COUNT { (s)-[:TRADES_WITH]-() } <= 2 * $max_partners
  AND COUNT { (n2)-[:TRADES_WITH]-() } <= 2 * $max_partners
WITH s, n2, s.business_id AS smallest,
     first.first_ts - duration({days: $window_days}) AS opens,
     first.last_ts + duration({days: $window_days}) AS closes
// pairs of one loop trade within the window of each other; the loop is found once, from its
// smallest business_id
MATCH (n2) ((a)-[t:TRADES_WITH]->(b)
         WHERE b.business_id >= smallest AND t.orders > coalesce(t.cancelled, 0)
           AND t.last_ts >= opens AND t.first_ts <= closes
           AND ($since IS NULL OR t.last_ts >= $since)
           AND COUNT { (b)-[:TRADES_WITH]-() } <= 2 * $max_partners){1,5} (s)
WITH [s, n2] + b[0..-1] AS loop
WHERE size(loop) = size(COLLECT { UNWIND loop AS x RETURN DISTINCT x })
  AND all(x IN loop WHERE COUNT { MATCH (x)-[:TRADES_WITH]-(p) RETURN DISTINCT p }
                           <= $max_partners)
CALL (loop) {
  UNWIND range(0, size(loop) - 1) AS i
  WITH i, loop[i] AS seller, loop[(i + 1) % size(loop)] AS buyer
  MATCH (seller)-[o:SOLD_TO]->(buyer)
  WHERE o.status <> 'cancelled'
  WITH i, o ORDER BY o.ts
  WITH i, collect(o) AS orders ORDER BY i
  RETURN collect(orders) AS legs
}
WITH loop, legs
WHERE size(legs) = size(loop)
UNWIND range(0, size(legs) - 1) AS start
WITH legs[start..] + legs[..start] AS legs
// grow chains of orders leg by leg; each step keeps only orders that come later, inside the
// window and passing on the previous amount
WITH reduce(
       chains = [o IN legs[0]
                 WHERE o.amount_base >= $min_amount AND ($since IS NULL OR o.ts >= $since)
                 | [o]],
       i IN range(1, size(legs) - 1) |
       reduce(grown = [], c IN chains | grown + [o IN legs[i]
         WHERE c[-1].ts < o.ts <= c[0].ts + duration({days: $window_days})
           AND $min_pass_ratio * c[-1].amount_base <= o.amount_base
           AND o.amount_base <= $max_pass_ratio * c[-1].amount_base
         | c + [o]])) AS cycles
UNWIND cycles AS hops
RETURN [h IN hops | startNode(h).business_id] AS businesses,
       size(hops) AS hops,
       [h IN hops | h.txn_id] AS txn_ids,
       [h IN hops | h.amount_base] AS amounts,
       hops[0].ts AS started_at,
       hops[-1].ts AS closed_at,
       duration.inSeconds(hops[0].ts, hops[-1].ts).seconds / 86400.0 AS days,
       round(toFloat(hops[-1].amount_base) / hops[0].amount_base, 4) AS returned_share
ORDER BY started_at, businesses
LIMIT $limit
