// name: shared_devices
// title: Businesses that share a non-hub device with another business
// finds: Every business that uses a device (hashed device_id) also used by at least one other
//   business, leaving out hub devices (shared by more than the hub threshold, e.g. a
//   marketplace's own kiosk), with the businesses it shares one with.
// param limit: int = 100000 [1..1000000] | most businesses returned
// hit: Two businesses on one device are likely run by the same people: fine for a family
//   business, a red flag when they also trade with each other or bust out together.
// seconds: 5
MATCH (a:Business)-[:HAS_IDENTIFIER]->(i:Identifier {type: 'device_id'})<-[:HAS_IDENTIFIER]-(b:Business)
WHERE NOT coalesce(i.hub, false) AND a <> b
RETURN a.business_id AS business, collect(DISTINCT b.business_id) AS shares_device_with
ORDER BY business
LIMIT $limit
