"""Neo4j lost in the middle of a load: the load stops with the driver's error, what committed
is batch-consistent, and a re-run against the server finishes exactly."""

from __future__ import annotations

import neo4j
import pandas as pd
import pytest

from graph.connection import connect
from graph.load import graph_counts, load_frames, read_pairs
from graph.session import read_frame
from tests.adversarial.test_api_neo4j_down import Relay
from tests.graph.frames import expected_pairs, make_frames, normalise_pairs
from tests.graph.test_load import RECOMPUTED_FROM_SOLD_TO

pytestmark = pytest.mark.neo4j


def test_load_with_neo4j_gone_mid_load_resumes_exactly(neo4j_driver, neo4j_server) -> None:
    frames = make_frames(n_businesses=60, n_orders=3000, seed=5)
    host, port = neo4j_server.uri.rsplit("//", 1)[1].rsplit(":", 1)
    relay = Relay((host, int(port)))
    relay.start()
    through = connect(f"bolt://127.0.0.1:{relay.port}", neo4j_server.user, neo4j_server.password)
    batches = {"orders": 0}

    def cut_after_ten_order_batches(table: str, _rows: int) -> None:
        if table == "orders":
            batches["orders"] += 1
            if batches["orders"] == 10:
                relay.cut()  # the server is unreachable from here on, mid-load

    try:
        with pytest.raises((neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError)):
            load_frames(
                through, frames.businesses, frames.identifiers, [frames.orders],
                frames.outcomes, key_fingerprint="fp", batch_size=50,
                progress=cut_after_ten_order_batches,
            )  # fmt: skip
    finally:
        through.close()
        relay.cut()
    partial = graph_counts(neo4j_driver)["orders"]
    assert 0 < partial < len(frames.orders)
    pd.testing.assert_frame_equal(  # whatever committed is whole batches
        normalise_pairs(read_pairs(neo4j_driver)),
        normalise_pairs(read_frame(neo4j_driver, RECOMPUTED_FROM_SOLD_TO)),
        check_exact=False,
        rtol=1e-12,
    )
    result = load_frames(
        neo4j_driver, frames.businesses, frames.identifiers, [frames.orders], frames.outcomes,
        key_fingerprint="fp", batch_size=50,
    )  # fmt: skip
    assert result.reconciles
    assert result.tables["orders"].unchanged == partial
    assert graph_counts(neo4j_driver)["orders"] == len(frames.orders)
    pd.testing.assert_frame_equal(
        normalise_pairs(read_pairs(neo4j_driver)),
        expected_pairs(frames.orders),
        check_exact=False,
        rtol=1e-12,
    )
