"""The HTML report renders from data built here: every chart it references exists, the tables
say what the data says, and (where Debian's chromium is installed) the page draws."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from gnn.metrics import all_metrics
from tradegraph.report import ReportData, from_evaluation_json, render_report
from tradegraph.report.markdown import render as render_markdown

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MODEL_CARD = """# Model card: graphsage-test

Trained on **synthetic** data as of `2024-01-01`.

## Calibration

| decile | mean PD | observed |
| --- | --- | --- |
| 1 | 0.010 | 0.012 |
| 10 | 0.300 | 0.280 |

## Known limits
- thin-file businesses have wide intervals
- not for <script>alert(1)</script> use
"""


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes["src"] or "")
        if tag == "link" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if tag == "script":
            self.scripts += 1


def _report_data(seed: int = 0) -> ReportData:
    rng = np.random.default_rng(seed)
    n = 600
    y = (rng.random(n) < 0.15).astype(int)
    signal = {"graphsage": 1.6, "trees_own": 0.8, "trees_own_cp": 1.1}
    predictions = pd.concat(
        [
            pd.DataFrame(
                {"model": m, "y_true": y, "pd": 1 / (1 + np.exp(-(s * y + rng.normal(size=n) - 2)))}
            )
            for m, s in signal.items()
        ],
        ignore_index=True,
    )
    metrics = pd.DataFrame(
        [
            {"model": m, "slice": "all"}
            | {f"{k}_mean": v for k, v in all_metrics(rows["y_true"], rows["pd"]).items()}
            | {f"{k}_std": 0.01 for k in all_metrics(rows["y_true"], rows["pd"])}
            for m, rows in predictions.groupby("model")
        ]
    )
    champion_pd = predictions.loc[predictions["model"] == "graphsage", "pd"].to_numpy()
    score = 600 - 50 * np.log2(champion_pd / (1 - champion_pd))
    grade = pd.cut(score, [-np.inf, 600, 650, 700, np.inf], labels=["D", "C", "B", "A"]).astype(str)
    scores = pd.DataFrame({"score": score, "grade": grade, "pd": champion_pd, "y_true": y})
    train_features = pd.DataFrame(
        {
            "orders_90d": rng.poisson(5, n),
            "gmv_90d": rng.gamma(2, 100, n),
            "age_days": rng.integers(1, 900, n),
        }
    )
    test_features = pd.DataFrame(
        {
            "orders_90d": rng.poisson(5, n),
            "gmv_90d": rng.gamma(2, 180, n),
            "age_days": rng.integers(1, 900, n),
        }
    )
    clusters = [
        {
            "cluster_id": "identifier_ring-abc123",
            "kind": "identifier_ring",
            "size": 12,
            "suspicion": 0.91,
            "reasons": ["12 businesses share 3 devices", "80% of their trade stays inside"],
            "members": [f"B{i:03d}" for i in range(12)],
        }
    ]
    return ReportData(
        title="Test report",
        facts={"train_as_of": "2023-01-01", "test_as_of": "2024-01-01"},
        champion="graphsage",
        model_labels={"graphsage": "(c) GraphSAGE"},
        metrics=metrics,
        predictions=predictions,
        scores=scores,
        train_features=train_features,
        test_features=test_features,
        train_scores=pd.Series(score[: n // 2]),
        test_scores=pd.Series(score[n // 2 :]),
        clusters=clusters,
        model_card=MODEL_CARD,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_report(_report_data(), tmp_path_factory.mktemp("report"))


def test_every_referenced_image_exists_and_is_a_png(rendered: Path) -> None:
    parser = _Collect()
    parser.feed(rendered.read_text(encoding="utf-8"))
    expected = {"roc", "pr", "ks", "calibration", "score_distribution", "psi"}
    assert {Path(src).stem for src in parser.images} == expected
    for src in parser.images:
        image = rendered.parent / src
        assert image.is_file(), src
        assert image.stat().st_size > 5_000, src
        assert image.read_bytes()[:8] == PNG_MAGIC
    # Self-contained: no scripts, no stylesheets or images from elsewhere.
    assert parser.scripts == 0
    assert not parser.links
    assert not [s for s in parser.images if "://" in s or s.startswith("/")]


def test_page_tables_say_what_the_data_says(rendered: Path) -> None:
    page = rendered.read_text(encoding="utf-8")
    assert '<tr class="champion"><td>(c) GraphSAGE ★</td>' in page
    # The drifted feature is flagged, the score PSI shown, the cluster listed.
    gmv_row = page.split("<td>gmv_90d</td>", 1)[1].split("</tr>", 1)[0]
    assert "major" in gmv_row or "moderate" in gmv_row
    assert "Score PSI" in page
    assert "identifier_ring-abc123" in page and "12 businesses share 3 devices" in page
    # The model card is rendered from Markdown and its HTML is escaped, not injected.
    assert "<h1>Model card: graphsage-test</h1>" in page
    assert "<th>mean PD</th>" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    for grade in ("A", "B", "C", "D"):
        assert f"<tr><td>{grade}</td>" in page


def test_missing_parts_are_said_not_fatal(tmp_path: Path) -> None:
    path = render_report(ReportData(title="Empty"), tmp_path)
    page = path.read_text(encoding="utf-8")
    assert "<img" not in page
    assert "run `tradegraph clusters`" in page
    assert "run `tradegraph train`" in page
    assert not list((tmp_path / "plots").glob("*.png"))


def test_evaluation_json_feeds_the_report(tmp_path: Path) -> None:
    data = _report_data()
    payload = {
        "target": "defaulted",
        "split": "temporal",
        "train_as_of": "2023-01-01",
        "test_as_of": "2024-01-01",
        "seeds": 1,
        "champion": "trees_own_cp",
        "counts": {"test_rows": 600},
        "warnings": ["labels not mature"],
        "table": data.metrics.to_dict(orient="records"),
        "predictions": data.predictions.to_dict(orient="records"),
    }
    loaded = from_evaluation_json(json.dumps(payload))
    assert loaded.champion == "trees_own_cp"
    assert len(loaded.predictions) == len(data.predictions)
    page = render_report(loaded, tmp_path).read_text(encoding="utf-8")
    assert "labels not mature" in page
    assert (tmp_path / "plots" / "roc.png").stat().st_size > 0


def test_markdown_renderer_covers_the_card_constructs() -> None:
    out = render_markdown(
        "## Title\n\nSome **bold**, *it*, `x<y` and [a](http://e.org).\n\n1. one\n2. two\n\n---\n"
        "```\ncode <b>\n```\n> quoted"
    )
    assert "<h2>Title</h2>" in out
    assert "<strong>bold</strong>" in out and "<em>it</em>" in out
    assert (
        "<code>x&lt;y</code>" in out
        and '<a href="http://e.org" rel="noopener noreferrer">a</a>' in out
    )
    assert "<ol><li>one</li><li>two</li></ol>" in out
    assert "<hr>" in out and "<pre><code>code &lt;b&gt;</code></pre>" in out
    assert "<blockquote><p>quoted</p></blockquote>" in out


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_headless_chromium_draws_the_page(rendered: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1400,2400",
            rendered.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == PNG_MAGIC
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kB
    pixels = imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    # Drawn charts and tables, not one flat colour: many distinct colours on the page.
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200


def test_report_command_writes_the_page_from_the_latest_evaluation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tradegraph.cli.main import app
    from tradegraph.settings import get_settings

    data = _report_data()
    runs = tmp_path / "home" / "runs"
    runs.mkdir(parents=True)
    (runs / "notes.json").write_text('{"not": "an evaluation"}')
    (runs / "eval.json").write_text(
        json.dumps(
            {
                "champion": "graphsage",
                "test_as_of": "2024-01-01",
                "table": data.metrics.to_dict(orient="records"),
                "predictions": data.predictions.to_dict(orient="records"),
            }
        )
    )
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["report", "--no-graph", "--out", str(tmp_path / "out")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "eval.json" in page
    assert (tmp_path / "out" / "plots" / "calibration.png").stat().st_size > 0

    empty = tmp_path / "empty"
    monkeypatch.setenv("TRADEGRAPH_HOME", str(empty))
    get_settings.cache_clear()
    try:
        nothing = CliRunner().invoke(app, ["report", "--no-graph"])
    finally:
        get_settings.cache_clear()
    assert nothing.exit_code == 2
    assert "tradegraph train" in nothing.output


def test_report_shows_the_evaluations_bootstrap_intervals(tmp_path: Path) -> None:
    data = _report_data()
    table = data.metrics.to_dict(orient="records")
    model, slice_ = table[0]["model"], table[0]["slice"]
    payload = {
        "champion": model,
        "table": table,
        "intervals": {slice_: {model: {"auc": {"estimate": 0.7, "low": 0.612, "high": 0.734}}}},
    }
    loaded = from_evaluation_json(json.dumps(payload))
    page = render_report(loaded, tmp_path).read_text(encoding="utf-8")
    assert "[0.612, 0.734]" in page


def test_report_says_a_partial_clusters_run_and_lists_reasons_with_codes(tmp_path: Path) -> None:
    data = _report_data()
    data.cluster_run = {
        "partial": True,
        "detectors": [
            "identifier_rings: complete after 0.1s ()",
            "circular_trading: skipped after 90.0s (ran past its 90s budget; its clusters are "
            "missing)",
        ],
    }
    data.riskiest = pd.DataFrame(
        {
            "business_id": ["B1"],
            "pd": [0.31],
            "score": [455],
            "grade": ["F"],
            "reason_codes": [["BUYERS_CREDIT"]],
            "reasons": [["Buyers that take 60% of its sales carry a higher risk"]],
            "reason_details": [["B7, 60% of its sales: defaulted in the last 12 months"]],
        }
    )
    page = render_report(data, tmp_path / "out").read_text(encoding="utf-8")
    assert "The latest clusters run was partial" in page and "circular_trading: skipped" in page
    assert "identifier_rings: complete" not in page
    assert "<code>BUYERS_CREDIT</code>" in page and "B7, 60% of its sales" in page
    data.cluster_run = {"partial": False, "detectors": []}
    assert "was partial" not in render_report(data, tmp_path / "again").read_text(encoding="utf-8")


def test_drawn_clusters_are_linked_from_the_clusters_table(tmp_path: Path) -> None:
    data = _report_data()
    data.cluster_pages = {"identifier_ring-abc123": "clusters/identifier_ring-abc123.html"}
    page = render_report(data, tmp_path).read_text(encoding="utf-8")
    assert (
        '<a href="clusters/identifier_ring-abc123.html"><code>identifier_ring-abc123</code></a>'
        in page
    )
    undrawn = render_report(_report_data(), tmp_path / "plain").read_text(encoding="utf-8")
    assert "<code>identifier_ring-abc123</code>" in undrawn and 'href="clusters/' not in undrawn
