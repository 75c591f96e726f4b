// name: pass_through
// title: Pass-through businesses: money in about equal to money out, many counterparties
// finds: Businesses whose sales GMV (money in) and purchases GMV (money out) are within
//   $min_balance of each other, with at least $min_fan suppliers or $min_fan customers and at
//   least $min_gmv flowing through. GMV is all-time, from TRADES_WITH.
// param min_balance: float = 0.9 [0..1] | smallest min(in, out) / max(in, out)
// param min_fan: int = 5 [1..1000000] | fewest suppliers or customers (fan-in or fan-out)
// param min_gmv: float = 10000.0 [0..1e15] | smallest money in (base currency)
// param limit: int = 500 [1..1000000] | most businesses returned
// hit: A business that forwards almost everything it receives to many others (or collects
//   from many and pays one) behaves like a mule or a funnel account rather than a trader
//   that adds value; check what it actually sells.
// seconds: 10
// narrow: min_fan=10, limit=100
MATCH (b:Business)
WITH b,
     COUNT { (b)<-[:TRADES_WITH]-(:Business) } AS suppliers,
     COUNT { (b)-[:TRADES_WITH]->(:Business) } AS customers
WHERE suppliers >= 1 AND customers >= 1 AND (suppliers >= $min_fan OR customers >= $min_fan)
CALL (b) {
  MATCH (b)-[sale:TRADES_WITH]->(:Business)
  RETURN sum(sale.gmv) AS money_in
}
CALL (b) {
  MATCH (b)<-[purchase:TRADES_WITH]-(:Business)
  RETURN sum(purchase.gmv) AS money_out
}
WITH b, suppliers, customers, money_in, money_out
WHERE money_in >= $min_gmv AND money_out > 0
WITH b, suppliers, customers, money_in, money_out,
     CASE WHEN money_in < money_out THEN money_in / money_out ELSE money_out / money_in END
       AS balance
WHERE balance >= $min_balance
RETURN b.business_id AS business_id,
       money_in,
       money_out,
       round(balance, 4) AS balance,
       suppliers,
       customers,
       b.risk_score AS risk_score,
       b.risk_pd AS risk_pd
ORDER BY balance DESC, money_in DESC
LIMIT $limit
