"""A dataset's own train/test split travels from the outcomes to Outcome nodes and snapshots,
so ``evaluate --split given`` works on data read back from Neo4j."""

from __future__ import annotations

import numpy as np
import pytest

from graph.load import load_frames
from graph.snapshot import read_snapshot
from tests.graph.frames import make_frames

pytestmark = pytest.mark.neo4j


def _load(driver, frames, outcomes):
    return load_frames(
        driver,
        frames.businesses,
        frames.identifiers,
        [frames.orders],
        outcomes,
        key_fingerprint="test-fingerprint",
    )


def test_split_is_stored_read_back_and_updated(neo4j_driver) -> None:
    frames = make_frames()
    as_of = frames.outcomes["as_of"].min()
    outcomes = frames.outcomes.copy()
    outcomes["split"] = np.where(np.arange(len(outcomes)) % 3 == 0, "test", "train")
    _load(neo4j_driver, frames, outcomes)

    snapshot = read_snapshot(neo4j_driver, as_of)
    expected = outcomes[outcomes["as_of"] == as_of].set_index("business_id")["split"]
    got = snapshot.outcomes.set_index("business_id")["split"]
    assert got.sort_index().tolist() == expected.loc[got.index].sort_index().tolist()

    again = _load(neo4j_driver, frames, outcomes)
    assert again.tables["outcomes"].unchanged == len(outcomes)
    flipped = outcomes.assign(split=np.where(outcomes["split"] == "test", "train", "test"))
    changed = _load(neo4j_driver, frames, flipped)
    assert changed.tables["outcomes"].updated == len(outcomes)
    assert set(read_snapshot(neo4j_driver, as_of).outcomes["split"]) == {"train", "test"}


def test_snapshot_has_no_split_column_when_the_data_has_none(neo4j_driver) -> None:
    frames = make_frames()
    _load(neo4j_driver, frames, frames.outcomes)
    snapshot = read_snapshot(neo4j_driver, frames.outcomes["as_of"].min())
    assert "split" not in snapshot.outcomes.columns
    assert len(snapshot.outcomes)
