"""A small hand-built trade graph whose fraud answers are known by construction.

Who is who (all ids are strings; everyone registered 2020-01-01 unless said otherwise):

- ring R1..R4 (registered 2021): R1, R2, R3 share a device, R3 and R4 a phone (a chain);
  R1 also shares the hub warehouse address. They trade mostly among themselves, and
  R1->R2->R3->R1 is one time-ordered cycle passing on 90-95 % per hop. R2 has defaulted.
- family F1..F3: one owner id, but they trade only with outsiders (X1, X2).
- hub H1..H6 (+ R1): one warehouse address flagged ``hub``; H1..H6 trade among themselves.
- wash pair W1/W2: four times, W1 sells 5000 and W2 sells 5050 back a day later.
- near-wash M1/M2: the same twice only. Noise pair N1/N2: 1000 one way, 7000 the other.
- loop E1->E2->E3->E1 over 45 days (outside a 30-day window);
  loop D1->D2->D3->D1 whose orders run backwards in time (never a cycle).
- pass-through P: buys 2100 from each of S1..S5, sells 10000 to B1.
  Control Q: buys 2000 from each of T1..T5, sells 4000 to each of K1..K5 (balance 0.5).
- bust-out U (registered 2024-03-01): 1000 in April, then 30000 from V1 (shares U's phone)
  and 5000 from V2 in late June. Y: the same pattern, young, no shared identifier.
  O: the same pattern with V4 (shares O's phone) but registered 2015.
- communities: 1 = R1..R4 (risk_pd 0.5), 2 = F1..F3, X1, X2 (risk_pd 0.05),
  3 = H1..H3 (H1, H2 defaulted, unscored); 4 = W1, W2 (too small).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import neo4j

UTC = dt.UTC
RING = ["R1", "R2", "R3", "R4"]
FAMILY = ["F1", "F2", "F3"]
HUB_TENANTS = [f"H{i}" for i in range(1, 7)]
#: The score date of the fixture's stored scores (``risk_pd``).
SCORED_AS_OF = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def day(text: str, hour: int = 12) -> dt.datetime:
    """A UTC datetime at ``hour`` on ISO date ``text``."""
    return dt.datetime.fromisoformat(text).replace(hour=hour, tzinfo=UTC)


class FixtureBuilder:
    """Collects businesses, identifiers, orders and outcomes, then writes them in one go."""

    def __init__(self) -> None:
        self.businesses: dict[str, dict[str, Any]] = {}
        self.identifiers: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []

    def business(self, business_id: str, registered: str = "2020-01-01", **props: Any) -> None:
        self.businesses[business_id] = {
            "business_id": business_id,
            "kind": "sme",
            "registered_at": day(registered, 0),
            **props,
        }

    def identifier(self, id_type: str, value: str, members: list[str], hub: bool = False) -> None:
        for member in members:
            self.identifiers.append(
                {"business_id": member, "type": id_type, "hash": value, "hub": hub}
            )

    def order(
        self, seller: str, buyer: str, ts: dt.datetime, amount: float, status: str = "completed"
    ) -> None:
        for party in (seller, buyer):
            if party not in self.businesses:
                self.business(party)
        self.orders.append(
            {
                "txn_id": f"T{len(self.orders) + 1:04d}",
                "seller": seller,
                "buyer": buyer,
                "ts": ts,
                "amount": float(amount),
                "status": status,
            }
        )

    def write(self, driver: neo4j.Driver) -> None:
        with driver.session() as session:
            session.run(
                "UNWIND $rows AS row CREATE (b:Business) SET b = row",
                rows=list(self.businesses.values()),
            ).consume()
            session.run(
                """UNWIND $rows AS row
                MATCH (b:Business {business_id: row.business_id})
                MERGE (i:Identifier {type: row.type, hash: row.hash})
                SET i.hub = row.hub
                MERGE (b)-[:HAS_IDENTIFIER]->(i)""",
                rows=self.identifiers,
            ).consume()
            session.run(
                """MATCH (i:Identifier)
                SET i.degree = COUNT { (i)<-[:HAS_IDENTIFIER]-() }""",
            ).consume()
            session.run(
                """UNWIND $rows AS row
                MATCH (s:Business {business_id: row.seller}), (b:Business {business_id: row.buyer})
                CREATE (s)-[:SOLD_TO {txn_id: row.txn_id, ts: row.ts, amount: row.amount,
                    currency: 'USD', amount_base: row.amount, status: row.status,
                    status_at: row.ts, category: 'goods'}]->(b)""",
                rows=self.orders,
            ).consume()
            session.run(
                """MATCH (s:Business)-[o:SOLD_TO]->(b:Business)
                WITH s, b, count(o) AS orders,
                     sum(CASE WHEN o.status <> 'cancelled' THEN o.amount_base ELSE 0 END) AS gmv,
                     count(CASE WHEN o.status = 'refunded' THEN 1 END) AS refunded,
                     count(CASE WHEN o.status = 'disputed' THEN 1 END) AS disputed,
                     count(CASE WHEN o.status = 'cancelled' THEN 1 END) AS cancelled,
                     min(o.ts) AS first_ts, max(o.ts) AS last_ts
                CREATE (s)-[:TRADES_WITH {orders: orders, gmv: toFloat(gmv), refunded: refunded,
                    disputed: disputed, cancelled: cancelled, first_ts: first_ts,
                    last_ts: last_ts}]->(b)""",
            ).consume()
            session.run(
                """UNWIND $rows AS row
                MATCH (b:Business {business_id: row.business_id})
                CREATE (b)-[:HAS_OUTCOME]->(:Outcome {business_id: row.business_id,
                    as_of: row.as_of, defaulted: row.defaulted, fraud: row.fraud,
                    source: 'fixture'})""",
                rows=self.outcomes,
            ).consume()


def build_fraud_fixture(driver: neo4j.Driver) -> FixtureBuilder:
    """Write the graph described in the module docstring and return what was written."""
    g = FixtureBuilder()
    for r in RING:
        g.business(r, "2021-01-01", risk_pd=0.5, risk_score=0.7, risk_grade="E", community=1,
                   risk_as_of=SCORED_AS_OF)  # fmt: skip
    for f in [*FAMILY, "X1", "X2"]:
        g.business(f, risk_pd=0.05, risk_score=0.1, risk_grade="A", community=2,
                   risk_as_of=SCORED_AS_OF)  # fmt: skip
    for i, h in enumerate(HUB_TENANTS):
        g.business(h, community=3 if i < 3 else 5)
    g.business("W1", community=4)
    g.business("W2", community=4)
    g.business("U", "2024-03-01")
    g.business("Y", "2024-03-01")
    g.business("O", "2015-01-01")

    # ring: chain of identifiers; one clean 3-cycle; a little trade outside
    g.identifier("device_id", "dev-ring", ["R1", "R2", "R3"])
    g.identifier("phone", "phone-ring", ["R3", "R4"])
    g.order("R1", "R2", day("2024-02-01"), 10_000)
    g.order("R2", "R3", day("2024-02-03"), 9_500)
    g.order("R3", "R1", day("2024-02-05"), 9_000)
    g.order("R3", "R4", day("2024-02-06"), 8_000)
    g.order("R4", "R1", day("2024-02-07"), 3_000)
    g.order("R1", "X1", day("2024-02-10"), 1_000)
    g.outcomes.append(
        {"business_id": "R2", "as_of": day("2024-01-01", 0), "defaulted": 1, "fraud": None}
    )

    # family: shared owner, trade only with outsiders
    g.identifier("owner_id", "owner-fam", FAMILY)
    g.order("F1", "X1", day("2024-03-01"), 4_000)
    g.order("F2", "X2", day("2024-03-02"), 6_000)
    g.order("X2", "F3", day("2024-03-03"), 5_000)

    # hub warehouse: tenants trade among themselves, R1 is a tenant too
    g.identifier("address", "warehouse", [*HUB_TENANTS, "R1"], hub=True)
    for a, b in itertools.pairwise(HUB_TENANTS):
        g.order(a, b, day("2023-05-01"), 700)
    g.outcomes += [
        {"business_id": h, "as_of": day("2024-01-01", 0), "defaulted": 1, "fraud": None}
        for h in ("H1", "H2")
    ]

    # wash pair, near-wash pair (too few repeats), noise pair (amounts differ)
    for k in range(4):
        start = day("2023-06-01") + dt.timedelta(days=7 * k)
        g.order("W1", "W2", start, 5_000)
        g.order("W2", "W1", start + dt.timedelta(days=1), 5_050)
        g.order("N1", "N2", start, 1_000)
        g.order("N2", "N1", start + dt.timedelta(days=1), 7_000)
    for k in range(2):
        start = day("2023-09-01") + dt.timedelta(days=7 * k)
        g.order("M1", "M2", start, 5_000)
        g.order("M2", "M1", start + dt.timedelta(days=1), 5_000)

    # a slow loop (45 days) and a loop running backwards in time
    g.order("E1", "E2", day("2023-01-01"), 10_000)
    g.order("E2", "E3", day("2023-01-21"), 9_500)
    g.order("E3", "E1", day("2023-02-15"), 9_000)
    g.order("D1", "D2", day("2023-03-20"), 10_000)
    g.order("D2", "D3", day("2023-03-10"), 10_000)
    g.order("D3", "D1", day("2023-03-01"), 10_000)

    # pass-through P and a normal wholesaler Q
    for i in range(1, 6):
        g.order(f"S{i}", "P", day("2023-07-01") + dt.timedelta(days=i), 2_100)
        g.order(f"T{i}", "Q", day("2023-07-01") + dt.timedelta(days=i), 2_000)
        g.order("Q", f"K{i}", day("2023-07-10") + dt.timedelta(days=i), 4_000)
    g.order("P", "B1", day("2023-07-10"), 10_000)

    # bust-out U, young but unlinked Y, linked but old O
    g.identifier("phone", "phone-u", ["U", "V1"])
    g.identifier("phone", "phone-o", ["O", "V4"])
    for buyer, main_seller in (("U", "V1"), ("Y", "V3"), ("O", "V4")):
        g.order(main_seller, buyer, day("2024-04-10"), 1_000)
        g.order(main_seller, buyer, day("2024-06-20"), 30_000)
        g.order("V2", buyer, day("2024-06-25"), 5_000)
    g.write(driver)
    return g
