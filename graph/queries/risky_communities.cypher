// name: risky_communities
// title: Risky communities: trade communities with many high risk scores or defaults
// finds: Louvain communities (the `louvain_community` property written by the graph
//   analytics; `community` is read when that is missing) of at least $min_size businesses where at least $min_high_risk_share of the scored members
//   have a probability of default (risk_pd) of $high_pd or more, or at least
//   $min_default_share of members have a default or fraud outcome.
// param high_pd: float = 0.2 [0..1] | risk_pd from which a business counts as high risk
// param min_size: int = 3 [1..1000000] | smallest community reported
// param min_high_risk_share: float = 0.3 [0..1] | smallest share of scored members at high risk
// param min_default_share: float = 0.2 [0..1] | smallest share of members with a default or fraud outcome
// param limit: int = 200 [1..1000000] | most communities returned
// hit: Risk that clusters in one part of the trade network spreads through it (unpaid
//   suppliers default in turn); a community like this calls for exposure limits on the whole
//   group and a look at who links it together.
// seconds: 10
MATCH (b:Business)
WITH b, coalesce(b.louvain_community, b.community) AS community
WHERE community IS NOT NULL
OPTIONAL MATCH (b)-[:HAS_OUTCOME]->(o:Outcome)
WITH b, community, max(o.defaulted) AS defaulted, max(o.fraud) AS fraud
WITH community,
     count(b) AS size,
     count(b.risk_pd) AS scored,
     count(CASE WHEN b.risk_pd >= $high_pd THEN 1 END) AS high_risk,
     avg(b.risk_score) AS mean_risk_score,
     avg(b.risk_pd) AS mean_risk_pd,
     count(CASE WHEN defaulted = 1 THEN 1 END) AS defaults,
     count(CASE WHEN fraud = 1 THEN 1 END) AS fraud_labels,
     count(CASE WHEN defaulted = 1 OR fraud = 1 THEN 1 END) AS bad,
     collect(b) AS members
WHERE size >= $min_size
WITH community, size, scored, high_risk, mean_risk_score, mean_risk_pd, defaults,
     fraud_labels, members,
     CASE WHEN scored > 0 THEN toFloat(high_risk) / scored ELSE 0.0 END AS high_risk_share,
     toFloat(bad) / size AS bad_share
WHERE high_risk_share >= $min_high_risk_share OR bad_share >= $min_default_share
RETURN community,
       size,
       scored,
       high_risk,
       round(high_risk_share, 4) AS high_risk_share,
       mean_risk_score,
       mean_risk_pd,
       defaults,
       fraud_labels,
       round(bad_share, 4) AS bad_share,
       COLLECT { UNWIND members AS m RETURN m.business_id
                 ORDER BY coalesce(m.risk_pd, -1.0) DESC LIMIT 10 } AS riskiest_members
ORDER BY high_risk_share DESC, bad_share DESC, size DESC
LIMIT $limit
