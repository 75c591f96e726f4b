"""Epoch microseconds <-> Neo4j DATETIME (``cypher._dt`` / ``cypher._us``) on the real server.

Probe that failed: ``_dt`` divided towards zero, so ``1969-12-31T23:59:59.5Z`` (-500000 µs)
became ``nanosecond: -500000000`` and every load holding it failed with "Invalid value for
Nanosecond". The validator now rejects timestamps before 1970, but the conversion itself must
be exact on both sides of the epoch.
"""

from __future__ import annotations

import neo4j
import pandas as pd
import pytest

from graph import cypher
from graph.load import load_frames
from graph.session import read_frame
from tests.graph.frames import make_frames

pytestmark = pytest.mark.neo4j

MICROS = [
    -500_000,  # 1969-12-31T23:59:59.5Z, the probe
    -1,
    -1_000_000,
    -1_000_001,
    -86_400_000_000 * 365 + 123_457,
    0,
    1,
    999_999,
    1_700_000_000_123_456,
]


def test_microseconds_before_and_after_the_epoch_round_trip_exactly(
    neo4j_driver: neo4j.Driver,
) -> None:
    query = (
        f"UNWIND $values AS x WITH x, {cypher._dt('x')} AS d "
        f"RETURN x, toString(d) AS text, {cypher._us('d')} AS back"
    )
    rows = neo4j_driver.execute_query(query, values=MICROS).records
    for row in rows:
        expected = pd.Timestamp(row["x"], unit="us", tz="UTC")
        assert row["back"] == row["x"]
        assert pd.Timestamp(row["text"]) == expected, row["text"]
    null = neo4j_driver.execute_query(f"RETURN {cypher._dt('$x')} AS d", x=None).records[0]
    assert null["d"] is None


def test_an_order_half_a_second_before_1970_loads_and_reads_back(
    neo4j_driver: neo4j.Driver,
) -> None:
    frames = make_frames(n_businesses=4, n_orders=3, seed=1)
    orders = frames.orders.copy()
    early = pd.Timestamp("1969-12-31T23:59:59.5Z")
    orders.loc[0, "ts"] = early
    orders.loc[0, "status_at"] = early
    result = load_frames(
        neo4j_driver,
        frames.businesses,
        frames.identifiers,
        [orders],
        None,
        key_fingerprint="fp",
    )
    assert result.tables["orders"].inserted == 3
    stored = read_frame(
        neo4j_driver,
        f"MATCH ()-[r:SOLD_TO {{txn_id: $txn}}]->() RETURN {cypher._us('r.ts')} AS ts",
        txn=orders.loc[0, "txn_id"],
    )
    assert stored["ts"].tolist() == [-500_000]
    again = load_frames(
        neo4j_driver,
        frames.businesses,
        frames.identifiers,
        [orders],
        None,
        key_fingerprint="fp",
    )
    assert again.tables["orders"].unchanged == 3  # read back exactly: nothing seen as changed
