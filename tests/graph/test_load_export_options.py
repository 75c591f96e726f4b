"""load_export hands the base currency and the phone country code to the validator."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from graph.load import graph_counts, load_export
from loaders.options import ExportOptions
from tests.loaders.export_fixture import KEY, raw_businesses, raw_transactions, write_export

pytestmark = pytest.mark.neo4j


def _eth_export(folder: Path) -> Path:
    """Every order in ETH, no fx_rates file: valid only with base currency ETH."""
    orders = raw_transactions()
    orders["currency"] = "ETH"
    return write_export(folder, {"businesses": raw_businesses(), "transactions": orders})


def test_base_currency_reaches_the_validator(neo4j_driver, tmp_path: Path) -> None:
    export = _eth_export(tmp_path / "export")
    refused = load_export(neo4j_driver, export, KEY, rejects_dir=tmp_path / "rejects-usd")
    assert refused.tables["orders"].rejected == len(raw_transactions())
    assert graph_counts(neo4j_driver)["orders"] == 0
    rejects = pd.read_csv(next((tmp_path / "rejects-usd").glob("transactions*")))
    assert set(rejects["reason"]) == {"no_fx_rate"}
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (r:LoadRun {run_id: $run_id}) RETURN r.orders_read AS read, "
        "r.orders_rejected AS rejected, r.status AS status",
        run_id=refused.run_id,
    )
    assert dict(records[0]) == {
        "read": len(raw_transactions()),
        "rejected": len(raw_transactions()),
        "status": "completed",
    }

    loaded = load_export(neo4j_driver, export, KEY, options=ExportOptions(base_currency="ETH"))
    assert loaded.tables["orders"].rejected == 0
    assert graph_counts(neo4j_driver)["orders"] == len(raw_transactions())


def test_phone_country_code_joins_national_and_international_numbers(
    neo4j_driver, tmp_path: Path
) -> None:
    businesses = raw_businesses()
    businesses.loc[0, "phone"] = "020 7946 0000"
    businesses.loc[1, "phone"] = "+44 20 7946 0000"
    export = write_export(
        tmp_path / "export", {"businesses": businesses, "transactions": raw_transactions()}
    )
    load_export(neo4j_driver, export, KEY, options=ExportOptions(phone_country_code="44"))
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a:Business {business_id: $a})-[:HAS_IDENTIFIER]->(i:Identifier {type: 'phone'})"
        "<-[:HAS_IDENTIFIER]-(b:Business {business_id: $b}) RETURN count(i) AS shared",
        a=businesses.loc[0, "business_id"],
        b=businesses.loc[1, "business_id"],
    )
    assert records[0]["shared"] == 1
