"""Business versions (contract v2 ``updated_at``) in the real Neo4j: a snapshot reads each
business as it stood strictly before its date, and a later version changes no earlier one."""

from __future__ import annotations

import pandas as pd
import pytest

from graph.history import count_history
from graph.load import LoadResult, load_frames
from graph.session import read_frame
from graph.snapshot import Snapshot, read_snapshot
from loaders.columns import BUSINESS_COLUMNS, IDENTIFIER_COLUMNS
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tests.graph.frames import Frames, make_frames

pytestmark = pytest.mark.neo4j

EARLY = pd.Timestamp("2025-01-01", tz="UTC")
CHANGE = pd.Timestamp("2025-03-01T10:00:00", tz="UTC")
LATE = pd.Timestamp("2025-06-01", tz="UTC")
MOVER = "B0003"


def _versioned(frames: Frames) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames' businesses and identifiers as one version each, dated at registration."""
    businesses = frames.businesses.assign(updated_at=frames.businesses["registered_at"])
    dates = businesses.set_index("business_id")["updated_at"]
    identifiers = frames.identifiers.assign(
        updated_at=dates.loc[frames.identifiers["business_id"]].to_numpy()
    )
    return businesses, identifiers


def _new_version(
    businesses: pd.DataFrame, identifiers: pd.DataFrame, business_id: str, at: pd.Timestamp,
    *, region: str | None = None, phone: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """The rows of a later version of ``business_id``: the latest one with changes."""
    rows = businesses[businesses["business_id"] == business_id]
    row = rows[rows["updated_at"] == rows["updated_at"].max()].copy()
    carried = identifiers[
        (identifiers["business_id"] == business_id)
        & (identifiers["updated_at"] == row["updated_at"].iloc[0])
    ].copy()
    row["updated_at"] = at
    carried["updated_at"] = at
    if region is not None:
        row["region"] = region
    if phone is not None:
        carried.loc[carried["id_type"] == "phone", "id_hash"] = phone
    return row.reset_index(drop=True), carried.reset_index(drop=True)


def _load(driver, businesses, identifiers, orders=None, outcomes=None) -> LoadResult:
    empty = pd.DataFrame(columns=["business_id"])
    return load_frames(
        driver,
        businesses,
        identifiers,
        [orders] if orders is not None else [],
        outcomes if outcomes is not None else empty.iloc[0:0],
        key_fingerprint="fp",
        batch_size=7,
    )


def _assert_same(a: Snapshot, b: Snapshot) -> None:
    for name in ("businesses", "identifiers", "orders", "outcomes", "credit_events"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


def _ids_of(snapshot: Snapshot, business_id: str) -> set[tuple[str, str]]:
    ids = snapshot.identifiers[snapshot.identifiers["business_id"] == business_id]
    return set(zip(ids["id_type"], ids["id_hash"], strict=True))


def test_later_version_changes_no_earlier_snapshot(neo4j_driver) -> None:
    f = make_frames(n_orders=100)
    businesses, identifiers = _versioned(f)
    _load(neo4j_driver, businesses, identifiers, f.orders, f.outcomes)
    early, late = read_snapshot(neo4j_driver, EARLY), read_snapshot(neo4j_driver, LATE)
    at_change = read_snapshot(neo4j_driver, CHANGE)

    row, carried = _new_version(
        businesses, identifiers, MOVER, CHANGE, region="R9", phone="phone-new"
    )
    second = _load(neo4j_driver, row, carried)
    counts = second.tables
    assert (counts["businesses"].read, counts["businesses"].updated) == (1, 1)
    assert (counts["identifiers"].inserted, counts["identifiers"].unchanged) == (1, 2)

    # Before the new version (and exactly at its updated_at): nothing changed.
    _assert_same(read_snapshot(neo4j_driver, EARLY), early)
    _assert_same(read_snapshot(neo4j_driver, CHANGE), at_change)
    # After it: the new region and the new phone only, for that business only.
    after = read_snapshot(neo4j_driver, LATE)
    moved = after.businesses.set_index("business_id").loc[MOVER]
    assert moved["region"] == "R9"
    old_phone = ("phone", "phone0003")
    assert old_phone in _ids_of(late, MOVER)
    assert _ids_of(after, MOVER) == (_ids_of(late, MOVER) - {old_phone}) | {("phone", "phone-new")}
    others = after.businesses["business_id"] != MOVER
    pd.testing.assert_frame_equal(
        after.businesses[others], late.businesses[late.businesses["business_id"] != MOVER]
    )
    pd.testing.assert_frame_equal(after.orders, late.orders)
    just_after = read_snapshot(neo4j_driver, CHANGE + pd.Timedelta(microseconds=1))
    assert just_after.businesses.set_index("business_id").loc[MOVER, "region"] == "R9"

    # The node holds the latest values; the old phone link ends where the new one starts.
    links = read_frame(
        neo4j_driver,
        "MATCH (b:Business {business_id: $id})-[r:HAS_IDENTIFIER]->(i:Identifier {type: 'phone'}) "
        "RETURN i.hash AS hash, r.valid_from AS valid_from, r.valid_to AS valid_to, "
        "b.region AS region",
        None,
        id=MOVER,
    ).set_index("hash")
    assert set(links["region"]) == {"R9"}
    assert links.loc["phone0003", "valid_to"].to_native() == CHANGE.to_pydatetime()
    assert links.loc["phone-new", "valid_from"].to_native() == CHANGE.to_pydatetime()
    assert links.loc["phone-new", "valid_to"] is None
    assert count_history(neo4j_driver)["business_versions"] == 2

    # Loading the later export again changes nothing.
    again = _load(neo4j_driver, row, carried)
    assert again.tables["businesses"].unchanged == 1
    assert again.tables["identifiers"].unchanged == len(carried)
    _assert_same(read_snapshot(neo4j_driver, LATE), after)
    _assert_same(read_snapshot(neo4j_driver, EARLY), early)


def test_versions_in_one_export_load_idempotently(neo4j_driver) -> None:
    f = make_frames(n_businesses=12, n_orders=40)
    businesses, identifiers = _versioned(f)
    v2, i2 = _new_version(businesses, identifiers, "B0001", CHANGE, region="R7")
    v3, i3 = _new_version(
        pd.concat([businesses, v2]), pd.concat([identifiers, i2]), "B0001", LATE, phone="p3"
    )
    all_b = pd.concat([businesses, v2, v3], ignore_index=True)
    all_i = pd.concat([identifiers, i2, i3], ignore_index=True)
    first = _load(neo4j_driver, all_b, all_i, f.orders)
    assert first.tables["businesses"].inserted == len(all_b)
    assert first.reconciles
    snaps = {
        d: read_snapshot(neo4j_driver, d)
        for d in (EARLY, CHANGE, LATE, LATE + pd.Timedelta(days=1))
    }
    again = _load(neo4j_driver, all_b, all_i, f.orders)
    assert again.tables["businesses"].unchanged == len(all_b)
    assert again.tables["identifiers"].unchanged == len(all_i)
    for d, snap in snaps.items():
        _assert_same(read_snapshot(neo4j_driver, d), snap)
    regions = {
        d: s.businesses.set_index("business_id").loc["B0001", "region"] for d, s in snaps.items()
    }
    original = businesses.set_index("business_id").loc["B0001", "region"]
    assert list(regions.values()) == [original, original, "R7", "R7"]
    phones = [{h for t, h in _ids_of(s, "B0001") if t == "phone"} for s in snaps.values()]
    assert phones == [{"phone0001"}, {"phone0001"}, {"phone0001"}, {"p3"}]


def test_identifier_dropped_then_carried_again(neo4j_driver) -> None:
    f = make_frames(n_businesses=6, n_orders=10)
    businesses, identifiers = _versioned(f)
    _load(neo4j_driver, businesses, identifiers)
    v2, i2 = _new_version(businesses, identifiers, "B0002", CHANGE, phone="other")
    _load(neo4j_driver, v2, i2)
    v3, i3 = _new_version(businesses, identifiers, "B0002", LATE)  # the first phone again
    _load(neo4j_driver, v3, i3)
    phone = {
        d: {h for t, h in _ids_of(read_snapshot(neo4j_driver, d), "B0002") if t == "phone"}
        for d in (EARLY, LATE, LATE + pd.Timedelta(days=1))
    }
    assert phone == {
        EARLY: {"phone0002"},
        LATE: {"other"},
        LATE + pd.Timedelta(days=1): {"phone0002"},
    }


def test_identifiers_without_updated_at_belong_to_every_version(neo4j_driver) -> None:
    f = make_frames(n_businesses=6, n_orders=10)
    businesses, _ = _versioned(f)
    later = businesses[businesses["business_id"] == "B0004"].assign(updated_at=CHANGE, region="RX")
    _load(neo4j_driver, pd.concat([businesses, later], ignore_index=True), f.identifiers)
    before, after = read_snapshot(neo4j_driver, EARLY), read_snapshot(neo4j_driver, LATE)
    expected = set(
        zip(
            *[
                f.identifiers.loc[f.identifiers["business_id"] == "B0004", c]
                for c in ("id_type", "id_hash")
            ],
            strict=True,
        )
    )
    assert _ids_of(before, "B0004") == _ids_of(after, "B0004") == expected
    assert after.businesses.set_index("business_id").loc["B0004", "region"] == "RX"


def test_correcting_a_version_rewrites_it(neo4j_driver) -> None:
    f = make_frames(n_businesses=6, n_orders=10)
    businesses, identifiers = _versioned(f)
    v2, i2 = _new_version(businesses, identifiers, "B0005", CHANGE, region="R2")
    _load(neo4j_driver, pd.concat([businesses, v2]), pd.concat([identifiers, i2]))
    fixed = _load(neo4j_driver, v2.assign(region="R3"), i2)
    assert fixed.tables["businesses"].updated == 1
    assert (
        read_snapshot(neo4j_driver, LATE).businesses.set_index("business_id").loc["B0005", "region"]
        == "R3"
    )
    assert count_history(neo4j_driver)["business_versions"] == 2


def test_generated_versions_read_back_as_they_stood(neo4j_driver) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=200, seed=9, version_share=0.3))
    assert market.business_versions is not None and len(market.business_versions) > 20
    businesses, identifiers, _, _ = to_contract_frames(market, "k", versions=True)
    _load(neo4j_driver, businesses, identifiers)
    for as_of in (pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2025-06-01", tz="UTC")):
        live = businesses[businesses["updated_at"] < as_of].sort_values("updated_at")
        in_force = live.groupby("business_id").tail(1)
        carried = identifiers.merge(in_force[["business_id", "updated_at"]])
        snap = read_snapshot(neo4j_driver, as_of)
        expected = in_force[BUSINESS_COLUMNS].sort_values("business_id", ignore_index=True)
        pd.testing.assert_frame_equal(snap.businesses, expected, check_dtype=False)
        expected_ids = carried[IDENTIFIER_COLUMNS].sort_values(
            IDENTIFIER_COLUMNS, ignore_index=True
        )
        pd.testing.assert_frame_equal(snap.identifiers, expected_ids, check_dtype=False)
