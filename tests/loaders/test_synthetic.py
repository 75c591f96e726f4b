"""The synthetic marketplace: determinism, contract shape, and the mechanisms it promises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loaders.columns import (
    BUSINESS_COLUMNS,
    BUSINESS_KINDS,
    IDENTIFIER_COLUMNS,
    ORDER_COLUMNS,
    ORDER_STATUSES,
    OUTCOME_COLUMNS,
)
from loaders.synthetic import (
    SyntheticConfig,
    SyntheticMarketplace,
    generate_marketplace,
    to_contract_frames,
    write_export,
)

KEY = "test-key"


@pytest.fixture(scope="module")
def market() -> SyntheticMarketplace:
    return generate_marketplace(SyntheticConfig(n_businesses=2_000, seed=7))


def test_same_seed_same_market_and_other_seed_differs(market: SyntheticMarketplace) -> None:
    again = generate_marketplace(SyntheticConfig(n_businesses=2_000, seed=7))
    for name in ("businesses", "transactions", "outcomes", "ground_truth", "fx_rates"):
        pd.testing.assert_frame_equal(getattr(market, name), getattr(again, name))
    other = generate_marketplace(SyntheticConfig(n_businesses=2_000, seed=8))
    assert not other.transactions["amount"].equals(market.transactions["amount"])


def test_contract_frames_have_the_fixed_columns(market: SyntheticMarketplace) -> None:
    businesses, identifiers, orders, outcomes = to_contract_frames(market, KEY)
    assert list(businesses.columns) == BUSINESS_COLUMNS
    assert list(identifiers.columns) == IDENTIFIER_COLUMNS
    assert list(orders.columns) == ORDER_COLUMNS
    assert list(outcomes.columns) == OUTCOME_COLUMNS
    assert businesses["business_id"].is_unique
    assert set(businesses["kind"]) <= set(BUSINESS_KINDS)
    assert orders["txn_id"].is_unique
    assert (orders["buyer_id"] != orders["seller_id"]).all()
    ids = set(businesses["business_id"])
    assert set(orders["buyer_id"]) <= ids and set(orders["seller_id"]) <= ids
    assert (orders["amount"] > 0).all() and (orders["amount_base"] > 0).all()
    assert set(orders["status"]) == set(ORDER_STATUSES)
    assert (orders["status_at"] >= orders["ts"]).all()
    assert str(orders["ts"].dt.tz) == "UTC"
    assert identifiers["id_hash"].str.fullmatch(r"[0-9a-f]{64}").all()
    registered = businesses.set_index("business_id")["registered_at"]
    assert (orders["ts"].to_numpy() > registered[orders["buyer_id"]].to_numpy()).all()


def test_foreign_currency_orders_convert_with_the_rates(market: SyntheticMarketplace) -> None:
    _, _, orders, _ = to_contract_frames(market, KEY)
    foreign = orders[orders["currency"] != market.base_currency]
    assert len(foreign) > 0
    assert set(foreign["currency"]) <= set(market.fx_rates["currency"])
    rates = market.fx_rates.set_index("currency")["rate_to_base"]
    expected = foreign["amount"] * foreign["currency"].map(rates).astype(float)
    np.testing.assert_allclose(foreign["amount_base"], expected)


def test_sizes_and_degrees_are_heavy_tailed(market: SyntheticMarketplace) -> None:
    tx = market.transactions
    degree = pd.concat([tx["seller_id"], tx["buyer_id"]]).value_counts()
    assert degree.max() > 10 * degree.median()
    assert degree.quantile(0.99) > 5 * degree.median()
    gmv = tx.groupby("seller_id")["amount"].sum()
    top = gmv.sort_values(ascending=False)
    assert top.iloc[: len(top) // 10].sum() > 0.4 * top.sum()  # top 10% sell > 40% of GMV


def test_rings_share_identifiers_and_bust_out_together(market: SyntheticMarketplace) -> None:
    truth = market.ground_truth.drop_duplicates("business_id").set_index("business_id")
    members = truth[truth["is_ring_member"] == 1]
    assert members["ring_id"].nunique() >= 2
    raw = market.businesses.set_index("business_id")
    for _ring, group in members.groupby("ring_id"):
        devices = raw.loc[group.index, "device_id"]
        assert devices.nunique() == 1 and devices.notna().all()
        busted = group[group["fail_reason"] == "bust_out"]["failed_at"]
        if len(busted) > 1:
            assert busted.max() - busted.min() < pd.Timedelta(days=31)
    tx = market.transactions
    ring_ids = set(members.index)
    internal = tx[tx["seller_id"].isin(ring_ids) & tx["buyer_id"].isin(ring_ids)]
    assert len(internal) > 0
    assert (internal["amount"] % 1000 == 0).mean() > 0.9  # round amounts


def test_warehouse_hub_and_families_share_innocently(market: SyntheticMarketplace) -> None:
    truth = market.ground_truth.drop_duplicates("business_id").set_index("business_id")
    _businesses, identifiers, _, _ = to_contract_frames(market, KEY)
    degree = identifiers.groupby(["id_type", "id_hash"]).size()
    assert degree.loc["address"].max() > 20  # a warehouse address above the hub threshold
    tenants = truth[truth["shared_warehouse"].notna()]
    assert (tenants["is_ring_member"] == 0).all()
    family = truth[truth["family_group"].notna()]
    owners = market.businesses.set_index("business_id").loc[family.index, "owner_id"]
    per_family = owners.groupby(family["family_group"]).nunique()
    assert (per_family <= 1).all()


def test_outcomes_two_dates_realistic_rates_and_orders_after_last(
    market: SyntheticMarketplace,
) -> None:
    outcomes = market.outcomes
    assert outcomes["as_of"].nunique() >= 2
    assert len(market.as_of_dates) >= 2
    kinds = market.businesses.set_index("business_id")["kind"]
    assert (kinds[outcomes["business_id"]] == "sme").all()
    rates = outcomes.groupby("as_of")["defaulted"].mean()
    assert ((rates > 0.02) & (rates < 0.2)).all()
    assert outcomes["fraud"].sum() > 0
    assert outcomes.groupby("as_of")["business_id"].apply(lambda s: s.is_unique).all()
    assert (market.transactions["ts"] >= max(market.as_of_dates)).mean() > 0.1


def test_statuses_change_after_orders_and_more_so_before_failure(
    market: SyntheticMarketplace,
) -> None:
    tx = market.transactions
    truth = market.ground_truth.drop_duplicates("business_id").set_index("business_id")
    failed_at = truth["failed_at"]
    late = tx["status_at"] > tx["ts"]
    assert late.mean() > 0.02
    buyer_fail = failed_at.reindex(tx["buyer_id"]).to_numpy()
    near = pd.notna(buyer_fail) & (tx["ts"].to_numpy() >= buyer_fail - pd.Timedelta(days=75))
    disputed = tx["status"] == "disputed"
    assert disputed[near].mean() > 3 * disputed[~near].mean()


def test_new_businesses_keep_arriving(market: SyntheticMarketplace) -> None:
    registered = market.businesses["registered_at"]
    for as_of in market.as_of_dates:
        thin = (registered < as_of) & (registered >= as_of - pd.Timedelta(days=90))
        assert thin.sum() > 0.02 * (registered < as_of).sum()


def test_write_export_csv_and_parquet_round_trip(market: SyntheticMarketplace,
                                                 tmp_path: Path) -> None:  # fmt: skip
    write_export(market, tmp_path / "csv", "csv")
    names = {p.name for p in (tmp_path / "csv").iterdir()}
    assert {"businesses.csv", "transactions.csv", "outcomes.csv", "fx_rates.csv",
            "ground_truth.csv"} <= names  # fmt: skip
    tx = pd.read_csv(tmp_path / "csv" / "transactions.csv")
    assert len(tx) == len(market.transactions)
    assert tx["ts"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    businesses = pd.read_csv(tmp_path / "csv" / "businesses.csv")
    assert {"phone", "device_id", "address", "bank_account", "owner_id"} <= set(businesses)
    write_export(market, tmp_path / "pq", "parquet")
    back = pd.read_parquet(tmp_path / "pq" / "outcomes.parquet")
    assert len(back) == len(market.outcomes)
    with pytest.raises(ValueError, match="unknown format"):
        write_export(market, tmp_path / "x", "xlsx")


def test_the_supply_mechanism_sends_distress_down_the_chain_instead_of_up() -> None:
    """Consumers only buy: owed nothing, they carry no exposure under ``receivables``; under
    ``supply`` they are exposed through the suppliers they depend on, and failures differ."""
    exposure = {}
    failed = {}
    for mechanism in ("receivables", "supply"):
        market = generate_marketplace(
            SyntheticConfig(n_businesses=1500, seed=5).with_mechanism(mechanism)
        )
        truth = market.ground_truth
        exposure[mechanism] = truth.loc[truth["kind"] == "consumer", "exposure_1hop"]
        failed[mechanism] = set(truth.loc[truth["fail_reason"] == "default", "business_id"])
    assert (exposure["receivables"] == 0).all()
    assert (exposure["supply"] > 0).mean() > 0.2
    assert failed["receivables"] != failed["supply"]
    with pytest.raises(ValueError, match="default_mechanism"):
        SyntheticConfig(n_businesses=300, default_mechanism="x")
    supply = SyntheticConfig().with_mechanism("supply")
    assert supply.contagion_1hop < SyntheticConfig().contagion_1hop
    assert supply.with_mechanism("receivables") == SyntheticConfig()
