// name: wash_trading
// title: Wash trading: a pair trading the same amounts back and forth
// finds: Pairs of businesses that sell to each other in both directions where orders are
//   answered by an order the other way of near-identical amount (within $amount_tolerance)
//   within $max_gap_days, at least $min_repeats times. Reports how many orders are matched
//   and what share of the pair's GMV they make up. Cancelled orders are ignored.
// param min_repeats: int = 3 [1..100000] | fewest matched orders in each direction
// param amount_tolerance: float = 0.05 [0..1] | largest relative difference between an order and its answer
// param max_gap_days: int = 30 [0..3650] | longest time between an order and its answer
// param min_matched_share: float = 0.5 [0..1] | smallest share of the pair's GMV in matched orders
// param limit: int = 1000 [1..1000000] | most pairs returned
// hit: Two businesses paying each other the same sums over and over create turnover without
//   trade: inflated history for credit, fake reviews or laundering.
// seconds: 20
// narrow: max_gap_days=7, limit=200
MATCH (a:Business)-[ab:TRADES_WITH]->(b:Business)-[ba:TRADES_WITH]->(a)
WHERE a.business_id < b.business_id AND ab.orders >= $min_repeats AND ba.orders >= $min_repeats
CALL (a, b) {
  MATCH (a)-[o1:SOLD_TO]->(b), (b)-[o2:SOLD_TO]->(a)
  WHERE o1.status <> 'cancelled' AND o2.status <> 'cancelled'
    AND abs(o1.amount_base - o2.amount_base)
        <= $amount_tolerance * CASE WHEN o1.amount_base > o2.amount_base
                                    THEN o1.amount_base ELSE o2.amount_base END
    AND abs(duration.inSeconds(o1.ts, o2.ts).seconds) <= $max_gap_days * 86400
  WITH collect(DISTINCT o1) AS forward, collect(DISTINCT o2) AS backward
  RETURN size(forward) AS matched_a_to_b, size(backward) AS matched_b_to_a,
         reduce(s = 0.0, o IN forward + backward | s + o.amount_base) AS matched_gmv
}
WITH a, b, ab, ba, matched_a_to_b, matched_b_to_a, matched_gmv,
     coalesce(ab.gmv, 0) + coalesce(ba.gmv, 0) AS pair_gmv
WHERE matched_a_to_b >= $min_repeats AND matched_b_to_a >= $min_repeats
  AND pair_gmv > 0 AND matched_gmv / pair_gmv >= $min_matched_share
RETURN a.business_id AS business_a,
       b.business_id AS business_b,
       matched_a_to_b,
       matched_b_to_a,
       ab.orders + ba.orders AS pair_orders,
       matched_gmv,
       pair_gmv,
       round(matched_gmv / pair_gmv, 4) AS matched_share,
       a.risk_score AS risk_score_a,
       b.risk_score AS risk_score_b
ORDER BY matched_share DESC, matched_gmv DESC
LIMIT $limit
