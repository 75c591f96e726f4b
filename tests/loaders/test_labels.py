"""Labels from credit events: the contract's rule at its boundaries, stacking, maturity."""

from __future__ import annotations

import pandas as pd
import pytest

from loaders.columns import OUTCOME_COLUMNS
from loaders.labels import (
    DISAGREES,
    ImmatureLabelsError,
    known_events_before,
    label_maturity,
    labels_at,
    labels_from_credit_events,
    monthly_score_dates,
    require_mature,
    stack_outcomes,
)

T = pd.Timestamp("2024-06-01", tz="UTC")
H = pd.Timedelta(days=365)
SECOND = pd.Timedelta(seconds=1)
OPENED = T - pd.Timedelta(days=200)


def _events(rows: list[tuple[str, str, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["business_id", "event", "at"])


def _label(events: pd.DataFrame, business_id: str) -> dict[str, int] | None:
    labels = labels_from_credit_events(events, [T]).set_index("business_id")
    if business_id not in labels.index:
        return None
    row = labels.loc[business_id]
    return {"defaulted": int(row["defaulted"]), "fraud": int(row["fraud"])}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("credit_opened", OPENED)], {"defaulted": 0, "fraud": 0}),
        ([("credit_opened", OPENED), ("defaulted", T + H / 2)], {"defaulted": 1, "fraud": 0}),
        # The window is (t, t + horizon]: exactly at t is outside, exactly at t + h inside.
        ([("credit_opened", OPENED), ("defaulted", T)], {"defaulted": 0, "fraud": 0}),
        ([("credit_opened", OPENED), ("defaulted", T + H)], {"defaulted": 1, "fraud": 0}),
        ([("credit_opened", OPENED), ("defaulted", T + H + SECOND)], {"defaulted": 0, "fraud": 0}),
        ([("credit_opened", OPENED), ("fraud_confirmed", T + H)], {"defaulted": 0, "fraud": 1}),
        ([("credit_opened", OPENED), ("fraud_confirmed", T)], {"defaulted": 0, "fraud": 0}),
        # Credit must be open at t: opened strictly before, not closed/defaulted before.
        ([("credit_opened", T)], None),
        ([("credit_opened", T + SECOND), ("defaulted", T + pd.Timedelta(days=9))], None),
        ([("credit_opened", OPENED), ("credit_closed", T - SECOND)], None),
        ([("credit_opened", OPENED), ("credit_closed", T)], {"defaulted": 0, "fraud": 0}),
        ([("credit_opened", OPENED), ("defaulted", T - SECOND)], None),
        # Closed, then opened again before t: open.
        ([("credit_opened", OPENED), ("credit_closed", T - pd.Timedelta(days=100)),
          ("credit_opened", T - pd.Timedelta(days=50)), ("defaulted", T + SECOND)],
         {"defaulted": 1, "fraud": 0}),
        # Closed and opened again at the same instant (a refinancing): open.
        ([("credit_opened", OPENED), ("credit_closed", OPENED + H / 4),
          ("credit_opened", OPENED + H / 4)], {"defaulted": 0, "fraud": 0}),
        # No credit at all: the events give no label (outcomes may).
        ([("fraud_confirmed", T + pd.Timedelta(days=3))], None),
    ],
)  # fmt: skip
def test_contract_rule_at_its_boundaries(
    rows: list[tuple[str, pd.Timestamp]], expected: dict[str, int] | None
) -> None:
    events = _events([("B1", event, at) for event, at in rows] + [("B2", "credit_opened", OPENED)])
    assert _label(events, "B1") == expected
    assert _label(events, "B2") == {"defaulted": 0, "fraud": 0}


def test_labels_for_many_dates_have_the_outcome_columns() -> None:
    events = _events(
        [
            ("A", "credit_opened", pd.Timestamp("2023-01-10", tz="UTC")),
            ("A", "defaulted", pd.Timestamp("2024-03-15", tz="UTC")),
            ("B", "credit_opened", pd.Timestamp("2023-06-10", tz="UTC")),
        ]
    )
    dates = monthly_score_dates("2023-02-01", "2024-04-01")
    labels = labels_from_credit_events(events, dates, horizon_days=90)
    assert list(labels.columns) == OUTCOME_COLUMNS
    assert str(labels["as_of"].dt.tz) == "UTC"
    a = labels[labels["business_id"] == "A"].set_index("as_of")["defaulted"]
    # A is labelled from Feb 2023 to Mar 2024 (it defaulted on Mar 15), positive from Jan 2024
    # (Dec 1 + 90 days is Feb 29).
    assert a.index.min() == pd.Timestamp("2023-02-01", tz="UTC")
    assert a.index.max() == pd.Timestamp("2024-03-01", tz="UTC")
    positive = a[a == 1].index
    assert list(positive) == list(pd.date_range("2024-01-01", "2024-03-01", freq="MS", tz="UTC"))
    b = labels[labels["business_id"] == "B"]
    assert b["as_of"].min() == pd.Timestamp("2023-07-01", tz="UTC") and b["defaulted"].sum() == 0


def test_unknown_event_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown credit event kind"):
        labels_from_credit_events(_events([("A", "paid_late", T)]), [T])


def test_monthly_score_dates_round_up_to_month_starts() -> None:
    assert monthly_score_dates("2024-01-15", "2024-04-01") == [
        pd.Timestamp(d, tz="UTC") for d in ("2024-02-01", "2024-03-01", "2024-04-01")
    ]
    assert monthly_score_dates("2024-01-01", "2024-01-01") == [pd.Timestamp("2024-01-01", tz="UTC")]
    assert monthly_score_dates("2024-01-02", "2024-01-31") == []


def test_known_events_before_are_strictly_before() -> None:
    events = _events(
        [("A", "defaulted", T - SECOND), ("B", "defaulted", T), ("C", "credit_opened", T + H)]
    )
    known = known_events_before(events, T)
    assert known["business_id"].tolist() == ["A"]


def _outcomes(rows: list[tuple[str, pd.Timestamp, int | None, int | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)
    frame["defaulted"] = frame["defaulted"].astype("Int8")
    frame["fraud"] = frame["fraud"].astype("Int8")
    return frame


def test_stack_merges_both_sources_and_rejects_disagreement() -> None:
    events = _events(
        [
            ("agree", "credit_opened", OPENED),
            ("agree", "defaulted", T + pd.Timedelta(days=10)),
            ("clash", "credit_opened", OPENED),
            ("events_only", "credit_opened", OPENED),
            ("fill", "credit_opened", OPENED),
            ("fill", "fraud_confirmed", T + pd.Timedelta(days=5)),
        ]
    )
    later = T + pd.Timedelta(days=31)
    outcomes = _outcomes(
        [
            ("agree", T, 1, 0),
            ("clash", T, 1, 0),  # the events say it did not default
            ("outcomes_only", T, None, 1),  # no credit: fraud from outcomes only
            ("fill", T, 0, None),  # fraud missing here, given by the events
            ("agree", later, 1, 0),  # another date, not asked for
        ]
    )
    stacked = stack_outcomes(outcomes, events, [T])
    labels = stacked.labels.set_index("business_id")
    assert set(labels.index) == {"agree", "events_only", "outcomes_only", "fill"}
    assert labels.loc["agree", "source"] == "both"
    assert labels.loc["events_only", "source"] == "credit_events"
    assert labels.loc["outcomes_only", "source"] == "outcomes"
    assert (int(labels.loc["agree", "defaulted"]), int(labels.loc["fill", "fraud"])) == (1, 1)
    assert pd.isna(labels.loc["outcomes_only", "defaulted"])
    assert stacked.rejected["business_id"].tolist() == ["clash"]
    assert stacked.rejected["reason"].tolist() == [DISAGREES]
    # Without explicit dates, the outcomes' dates are stacked.
    assert set(stack_outcomes(outcomes, events).labels["as_of"]) == {T, later}


def test_label_maturity_and_refusal_of_immature_cohorts() -> None:
    assert label_maturity(T, T + H).mature
    assert not label_maturity(T, T + H - SECOND).mature
    assert label_maturity("2024-01-01", "2024-07-01", horizon_days=182).mature
    with pytest.raises(ImmatureLabelsError, match="--allow-immature"):
        require_mature(T, T + pd.Timedelta(days=100))
    assert not require_mature(T, T + pd.Timedelta(days=100), allow_immature=True).mature


def test_labels_at_a_date_merge_outcomes_with_mature_credit_events() -> None:
    events = _events([
        ("A", "credit_opened", OPENED), ("A", "defaulted", T + H / 2),
        ("B", "credit_opened", OPENED),
        ("C", "credit_opened", OPENED), ("C", "defaulted", T + H / 3),
        ("Z", "credit_opened", T + H),  # the record reaches t + horizon: labels are mature
    ])  # fmt: skip
    outcomes = pd.DataFrame({
        "business_id": ["C", "D", "A"], "as_of": [T, T, T - H],
        "defaulted": pd.array([0, 1, 0], dtype="Int8"), "fraud": pd.array([0, 0, 0], dtype="Int8"),
        "split": ["train", "test", "train"],
    })  # fmt: skip
    labels = labels_at(outcomes, events, T)
    # A and B from the events alone, D from outcomes alone; C disagrees and is left out; the
    # outcome row of A at another date is not this cohort's.
    assert labels["business_id"].tolist() == ["A", "B", "D"]
    assert labels["defaulted"].tolist() == [1, 0, 1]
    assert (labels["as_of"] == T).all()
    assert list(labels.columns) == [*OUTCOME_COLUMNS, "split"]
    assert labels["split"].tolist()[2] == "test"
    assert labels["split"].isna().tolist()[:2] == [True, True]


def test_labels_at_ignore_credit_events_that_do_not_cover_the_window() -> None:
    # The record stops before t + horizon: A, who has not defaulted yet, is not a good payer.
    events = _events([("A", "credit_opened", OPENED), ("B", "credit_opened", T + H / 2)])
    assert labels_at(None, events, T).empty
    assert labels_at(None, events, T - H / 2)["business_id"].tolist() == ["A"]
    outcomes = pd.DataFrame({
        "business_id": ["A"], "as_of": [T],
        "defaulted": pd.array([1], dtype="Int8"), "fraud": pd.array([0], dtype="Int8"),
    })  # fmt: skip
    only = labels_at(outcomes, events, T)
    assert only["business_id"].tolist() == ["A"] and only["defaulted"].tolist() == [1]
    assert list(only.columns) == OUTCOME_COLUMNS
