"""The lake path end to end, without Neo4j: `validate --lake`, then `snapshot`, `train` and
`score --no-write` reading that lake, on an export whose only labels are its credit events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from loaders.synthetic import SyntheticConfig, generate_marketplace
from loaders.synthetic.export import write_export
from tradegraph.cli.main import app
from tradegraph.settings import get_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")  # nothing listens: Neo4j is not used
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_validate_to_lake_then_snapshot_train_and_score_from_it(home: Path) -> None:
    export, lake = home / "export", home / "lake"
    write_export(generate_marketplace(SyntheticConfig(n_businesses=1200, seed=12)), export)
    (export / "outcomes.csv").unlink()  # a lender's export: labels come from credit events
    runner = CliRunner()
    validated = runner.invoke(
        app, ["validate", str(export), "--demo", "--rejects", str(home / "r"), "--lake", str(lake)]
    )
    assert validated.exit_code == 0, validated.output
    assert (lake / "_lake.json").exists() and any((lake / "orders").iterdir())

    out = home / "snap"
    snap = runner.invoke(app, ["snapshot", "--lake", str(lake), "--as-of", "2024-01-01",
                               "--out", str(out), "--stack-months", "1"])  # fmt: skip
    assert snap.exit_code == 0, snap.output
    assert sorted(p.name for p in out.iterdir()) == ["as_of=2023-12-01", "as_of=2024-01-01"]
    features = pd.read_parquet(out / "as_of=2024-01-01" / "features.parquet")
    businesses = pd.read_parquet(out / "as_of=2024-01-01" / "businesses.parquet")
    assert sorted(features["business_id"]) == sorted(businesses["business_id"])
    about = json.loads((out / "as_of=2024-01-01" / "about.json").read_text())
    assert about["rows"]["features"] == len(features) and about["source"].startswith("lake")
    assert set(about["own_features"] + about["counterparty_features"]) < set(features.columns)

    models = home / "models"
    # A mid-month date: no outcomes row could label it, the credit events do.
    trained = runner.invoke(app, ["train", "--lake", str(lake), "--as-of", "2023-12-15",
                                  "--models-dir", str(models), "--folds", "2",
                                  "--champion", "trees_own_cp"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    card = json.loads(next(models.rglob("meta.json")).read_text())
    assert card["trained_as_of"].startswith("2023-12-15"), card
    scores = home / "scores.csv"
    scored = runner.invoke(app, ["score", "--lake", str(lake), "--as-of", "2024-07-01",
                                 "--models-dir", str(models), "--no-write",
                                 "--out", str(scores)])  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert len(pd.read_csv(scores)) > 100


def test_a_folder_that_is_not_a_lake_is_a_clear_usage_error(home: Path) -> None:
    result = CliRunner().invoke(
        app, ["snapshot", "--lake", str(home), "--as-of", "2024-01-01", "--out", str(home / "o")]
    )
    assert result.exit_code == 2
    assert "not a tradegraph lake" in " ".join(result.output.split())
