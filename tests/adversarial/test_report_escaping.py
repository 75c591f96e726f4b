"""User-controlled text in the report and the model card stays text: no ``javascript:`` (or
any non-http(s)) link, no markup, no extra table cells, whatever a region or industry is
called in the export."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from gnn.model_card import md_text
from gnn.scoring import train_models
from tests.gnn.scoring_fixtures import FEATURES, fast, market
from tradegraph.report import ReportData, render_report
from tradegraph.report.markdown import render as render_markdown

HOSTILE_REGION = "[click](javascript:alert(document.cookie)) | <img src=x onerror=alert(1)>"
HOSTILE_INDUSTRY = "**bold** _it_ `code` #1 ![p](data:text/html,<script>alert(2)</script>)"


class _Page(HTMLParser):
    """Every tag, link target and table row width of an HTML fragment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.attributes: list[str] = []
        self.row_widths: list[int] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag == "tr":
            self.row_widths.append(0)
        if tag in ("td", "th"):
            self.row_widths[-1] += 1

    def handle_data(self, data: str) -> None:
        self.text += data


@pytest.mark.parametrize(
    "target",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
     "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)", "/relative/path",
     "&#106;avascript:alert(1)"],
)  # fmt: skip
def test_report_markdown_renders_only_http_links(target: str) -> None:
    page = _Page(render_markdown(f"see [x]({target}) and [ok](https://example.com/a?b=1&c=2)"))
    assert page.hrefs == ["https://example.com/a?b=1&c=2"]
    assert "x" in page.text


def test_report_page_has_no_live_javascript_link_from_the_card(tmp_path: Path) -> None:
    card = "# Card\n\n- [x](javascript:alert(1))\n- <script>alert(2)</script>\n"
    html = render_report(ReportData(model_card=card), tmp_path).read_text()
    page = _Page(html)
    assert all(h.startswith(("http://", "https://")) for h in page.hrefs), page.hrefs
    assert "script" not in page.tags
    assert "<script>alert(2)</script>" in page.text  # shown, as text


def test_report_md_text_keeps_any_value_literal() -> None:
    for value in (HOSTILE_REGION, HOSTILE_INDUSTRY, "north\nsouth", "a\\|b"):
        page = _Page(render_markdown(f"| v |\n|---|\n| {md_text(value)} |"))
        assert page.tags == ["table", "thead", "tr", "th", "tbody", "tr", "td"], value
        assert page.text.replace("v", "", 1) == value.replace("\n", " ")


@pytest.mark.slow
def test_report_model_card_escapes_region_and_industry_values(tmp_path: Path) -> None:
    frames = market()
    half = frames.businesses.index % 2 == 0
    frames.businesses["region"] = [HOSTILE_REGION if h else "north" for h in half]
    frames.businesses["industry"] = [HOSTILE_INDUSTRY if h else "retail" for h in half]
    artefact = train_models(
        frames, frames.as_of, fast("trees_own"), feature_set=FEATURES, models_dir=tmp_path
    )
    card = artefact.card_path.read_text()
    assert HOSTILE_REGION not in card and HOSTILE_INDUSTRY not in card  # escaped in Markdown
    page = _Page(render_markdown(card))
    assert page.hrefs == [] and "img" not in page.tags and "script" not in page.tags
    assert not {"onerror", "src"} & set(page.attributes)
    assert HOSTILE_REGION in page.text and HOSTILE_INDUSTRY in page.text  # shown literally
    # Every row of a table has as many cells as its header: no value added a column.
    for widths in _widths_per_table(render_markdown(card)):
        assert len(set(widths)) == 1, widths


def _widths_per_table(html: str) -> list[list[int]]:
    return [_Page(f"<table{part}").row_widths for part in html.split("<table")[1:]]
