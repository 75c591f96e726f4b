"""The catalogue's page is its rendering, and every code has texts for both audiences."""

from __future__ import annotations

from pathlib import Path

from gnn.reason_codes import UNITS, applicant_sentence, catalogue, catalogue_markdown, percent

DOC = Path(__file__).resolve().parents[2] / "docs" / "reason-codes.md"


def test_docs_page_is_the_rendered_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/reason-codes.md is stale: regenerate it with "
        "python -c 'from gnn.reason_codes import catalogue_markdown as m; "
        'open("docs/reason-codes.md", "w").write(m())\''
    )


def test_every_code_reads_as_a_sentence_for_both_audiences() -> None:
    rows = catalogue(currency="EUR")
    assert len(rows) == len(UNITS)
    for row in rows:
        assert row["applicant"][0].isupper() and "typical" not in row["applicant"]
        assert "B000123" not in row["applicant"]  # the applicant never hears a name
        if row["about"] != "the business itself":
            assert "B000123" in row["analyst"]  # the analyst does
        assert "USD" not in row["applicant"] + row["analyst"]


def test_a_counterpartys_share_never_reads_zero_percent() -> None:
    assert percent(0.003) == "<1%"
    assert percent(0.0) == "0%"
    assert percent(0.006) == "1%"
    assert percent(1.0) == "100%"
    sentence = applicant_sentence(("buyers", "strain"), lambda _name: 0.0, "EUR", 0.002)
    assert sentence.startswith("Buyers that take <1% of its sales")


def test_amounts_read_as_numpy_would_write_them_including_nan_and_overflow() -> None:
    """Sentences compute amounts with ``math`` for speed; every edge reads as numpy's would."""
    import math
    import warnings

    import numpy as np

    from gnn.reason_codes import money

    for log1p_amount in (0.0, -3.0, 1e-9, 5.3, 13.8, 708.9, 709.5, 1e4, math.nan):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow
            expected = f"{np.expm1(max(log1p_amount, 0.0)):,.0f} EUR"
        assert money(log1p_amount, "EUR") == expected


def test_counts_agree_with_their_nouns() -> None:
    from gnn.reason_codes import counterparty_fact, value_reader

    def sentence(unit: tuple[str, str], **values: float) -> str:
        return applicant_sentence(unit, value_reader(values), "EUR")

    one = sentence(("self", "shared_identifiers"), shared_id_businesses=1)
    assert one.endswith("registered to 1 other business")
    assert sentence(("self", "shared_identifiers"), shared_id_businesses=3).endswith(
        "3 other businesses"
    )
    assert sentence(("self", "tenure"), tenure_days=1) == (
        "Short trading history: 1 day on the marketplace"
    )
    concentrated = sentence(
        ("self", "customer_concentration"), seller_counterparties=1, seller_top_share=1.0
    )
    assert concentrated.endswith("(1 buyer in all)")
    volume = sentence(("self", "sales_volume"), seller_orders_365d=1, seller_gmv_365d=5.0)
    assert volume.endswith("(1 order)")
    assert sentence(("self", "sales_recency"), seller_days_since_last=1) == "Last sale 1 day ago"
    assert counterparty_fact("buyers", "young", value_reader({"tenure_days": 12}), "EUR") == (
        "12 days on the marketplace"
    )
