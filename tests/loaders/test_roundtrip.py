"""The generator writes the contract the validator reads: a generated export has no rejects."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.synthetic import SyntheticConfig, generate_marketplace, write_export
from loaders.validate import validate_export
from tradegraph.settings import DEMO_HASH_KEY


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generated_export_validates_with_zero_rejects(tmp_path: Path, fmt: str) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=300, seed=3))
    write_export(market, tmp_path / "export", fmt)
    report = validate_export(
        tmp_path / "export", DEMO_HASH_KEY.encode(), rejects_dir=tmp_path / "rejects"
    )
    assert report.reconciles()
    counts = {name: (t.read, t.kept, t.rejected) for name, t in report.tables.items()}
    assert counts["businesses"] == (len(market.businesses), len(market.businesses), 0)
    assert counts["transactions"] == (len(market.transactions), len(market.transactions), 0)
    assert counts["outcomes"] == (len(market.outcomes), len(market.outcomes), 0)
    assert any("ground_truth" in name for name in report.ignored_files)
