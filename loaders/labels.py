"""Labels for any score date from the lender's dated ``credit_events`` (data contract v2).

The contract's rule, at a score date ``t`` and horizon ``h``: a business with credit open at
``t`` (opened before ``t``, not closed or defaulted before ``t``) has ``defaulted = 1`` if it
defaulted in ``(t, t + h]`` and ``fraud = 1`` if fraud was confirmed in that window, else 0.

Choices where the contract is silent, made here once so every caller agrees:

- **Who gets a fraud label.** The rule's subject is "a business with credit open at ``t``",
  so events give *both* labels to exactly that population and to no one else. A business
  without credit is labelled only by ``outcomes`` rows (the generator's ``fraud`` for
  no-credit SMEs, a public fraud list); :func:`stack_outcomes` keeps those rows.
- **Credit opened again.** "Open at ``t``" is read as a state: the last ``credit_opened``
  before ``t`` is not followed (before ``t``) by a ``credit_closed`` or ``defaulted``; an
  opening at the same instant as a closing counts as open (a refinancing). With one opening
  per business this is the contract's sentence word for word.
- **An event exactly at ``t``** is neither "before ``t``" nor in ``(t, t + h]``: a business
  that defaults at exactly ``t`` still has credit open at ``t`` and gets ``defaulted = 0``.
  This is the contract read literally (features see only data strictly before ``t``, labels
  start after ``t``); exporters with date-only events should not date them on a score date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from loaders.columns import (
    CREDIT_EVENT_COLUMNS,
    HORIZON_DAYS,
    OUTCOME_COLUMNS,
    OUTCOME_SPLIT,
    as_utc,
)

logger = logging.getLogger(__name__)

CREDIT_OPENED: Final = "credit_opened"
CREDIT_CLOSED: Final = "credit_closed"
DEFAULTED: Final = "defaulted"
FRAUD_CONFIRMED: Final = "fraud_confirmed"
CREDIT_EVENTS: Final = (CREDIT_OPENED, CREDIT_CLOSED, DEFAULTED, FRAUD_CONFIRMED)

#: Reason of a stacked row whose ``outcomes`` and ``credit_events`` labels disagree.
DISAGREES: Final = "outcomes_disagree_with_credit_events"
#: ``source`` of a stacked label row.
SOURCES: Final = ("outcomes", "credit_events", "both")

_DATE_UNIT = "datetime64[us, UTC]"


class ImmatureLabelsError(ValueError):
    """A training cohort's label window has not ended by the date it would be used at."""


def _events(events: pd.DataFrame) -> pd.DataFrame:
    """The events as ``CREDIT_EVENT_COLUMNS`` with ``at`` in UTC; unknown kinds are an error."""
    missing = [c for c in CREDIT_EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(f"credit events lack column(s) {missing}; expected {CREDIT_EVENT_COLUMNS}")
    out = events[CREDIT_EVENT_COLUMNS].copy()
    out["business_id"] = out["business_id"].astype("str")
    out["event"] = out["event"].astype("str")
    out["at"] = pd.to_datetime(out["at"], utc=True).astype(_DATE_UNIT)
    unknown = sorted(set(out["event"]) - set(CREDIT_EVENTS))
    if unknown:
        raise ValueError(
            f"unknown credit event kind(s) {unknown}: use one of {list(CREDIT_EVENTS)} "
            "(validate the export first)"
        )
    if out["at"].isna().any():
        raise ValueError("credit events without a timestamp `at`: validate the export first")
    return out


def _dates(score_dates: pd.Series | list[pd.Timestamp] | pd.DatetimeIndex) -> list[pd.Timestamp]:
    return sorted({as_utc(d) for d in score_dates})


def monthly_score_dates(start: pd.Timestamp | str, end: pd.Timestamp | str) -> list[pd.Timestamp]:
    """First-of-month UTC midnights from ``start`` (rounded up to a month start) to ``end``
    inclusive: the score dates of stacked monthly cohorts."""
    first, last = as_utc(start), as_utc(end)
    month = first.normalize().replace(day=1)
    if month < first:
        month += pd.offsets.MonthBegin(1)
    if month > last:
        return []
    return list(pd.date_range(month, last, freq="MS"))


def known_events_before(events: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """Events strictly before ``as_of``: facts a score at ``as_of`` may use (for *other*
    businesses' features; a business's own label window starts after ``as_of``)."""
    frame = _events(events)
    return frame[frame["at"] < as_utc(as_of)].reset_index(drop=True)


@dataclass(frozen=True)
class _Coded:
    """Events as arrays: business codes (into ``names``), kinds and epoch-nanosecond times."""

    names: np.ndarray
    code: np.ndarray
    event: np.ndarray
    at: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Coded:
        code, names = pd.factorize(frame["business_id"], sort=True)
        at = frame["at"].astype("datetime64[ns, UTC]").array.asi8
        return cls(np.asarray(names, dtype=object), code, frame["event"].to_numpy(str), at)

    def last(self, kinds: tuple[str, ...], before: int) -> np.ndarray:
        """Per business, the time of its last event of ``kinds`` before ``before`` (or a
        value below every time when it has none)."""
        out = np.full(len(self.names), np.iinfo(np.int64).min, dtype=np.int64)
        mask = np.isin(self.event, kinds) & (self.at < before)
        np.maximum.at(out, self.code[mask], self.at[mask])
        return out

    def any_in(self, kind: str, after: int, until: int) -> np.ndarray:
        """Per business: has it an event of ``kind`` in ``(after, until]``?"""
        out = np.zeros(len(self.names), dtype=bool)
        mask = (self.event == kind) & (self.at > after) & (self.at <= until)
        out[self.code[mask]] = True
        return out


def labels_from_credit_events(
    events: pd.DataFrame,
    score_dates: pd.Series | list[pd.Timestamp] | pd.DatetimeIndex,
    *,
    horizon_days: int = HORIZON_DAYS,
) -> pd.DataFrame:
    """``OUTCOME_COLUMNS`` rows, one per (business with credit open at ``t``, ``t``) for each
    score date ``t``: ``defaulted``/``fraud`` = 1 if that event falls in ``(t, t + horizon]``.

    Sorted by ``as_of`` then ``business_id``; labels are ``Int8``, ``as_of`` UTC.
    """
    coded = _Coded.of(_events(events))
    horizon = pd.Timedelta(days=horizon_days).value
    parts: list[pd.DataFrame] = []
    none = np.iinfo(np.int64).min
    for t in _dates(score_dates):
        now = t.value
        opened = coded.last((CREDIT_OPENED,), now)
        ended = coded.last((CREDIT_CLOSED, DEFAULTED), now)
        # Open: opened before t, and not closed or defaulted since (see the module docstring).
        rows = np.flatnonzero((opened != none) & (opened >= ended))
        defaulted = coded.any_in(DEFAULTED, now, now + horizon)[rows]
        fraud = coded.any_in(FRAUD_CONFIRMED, now, now + horizon)[rows]
        parts.append(
            pd.DataFrame(
                {
                    "business_id": pd.Series(coded.names[rows], dtype="str"),
                    "as_of": pd.Series([t] * len(rows), dtype=_DATE_UNIT),
                    "defaulted": pd.array(defaulted.astype(np.int8), dtype="Int8"),
                    "fraud": pd.array(fraud.astype(np.int8), dtype="Int8"),
                }
            )
        )
    if not parts:
        return _empty_outcomes()
    return pd.concat(parts, ignore_index=True)[OUTCOME_COLUMNS]


def _empty_outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "business_id": pd.Series([], dtype="str"),
            "as_of": pd.Series([], dtype=_DATE_UNIT),
            "defaulted": pd.array([], dtype="Int8"),
            "fraud": pd.array([], dtype="Int8"),
        }
    )


@dataclass(frozen=True)
class StackedLabels:
    """Labels of stacked cohorts and the rows refused because the two sources disagree.

    ``labels``: ``OUTCOME_COLUMNS`` + ``source`` (``outcomes``, ``credit_events`` or
    ``both``). ``rejected``: business_id, as_of, both sources' labels and ``reason``.
    """

    labels: pd.DataFrame
    rejected: pd.DataFrame


def _outcome_rows(outcomes: pd.DataFrame | None, dates: list[pd.Timestamp]) -> pd.DataFrame:
    if outcomes is None or outcomes.empty:
        return _empty_outcomes()
    out = outcomes[OUTCOME_COLUMNS].copy()
    out["business_id"] = out["business_id"].astype("str")
    out["as_of"] = pd.to_datetime(out["as_of"], utc=True).astype(_DATE_UNIT)
    for column in ("defaulted", "fraud"):
        out[column] = pd.array(out[column].tolist(), dtype="Int8")
    return out[out["as_of"].isin(dates)]


def _conflicts(merged: pd.DataFrame) -> pd.Series:
    """Rows where a label both sources give differs (a missing value disagrees with none)."""
    bad = pd.Series(False, index=merged.index)
    for column in ("defaulted", "fraud"):
        a, b = merged[f"{column}_outcomes"], merged[f"{column}_events"]
        both = a.notna() & b.notna()
        bad |= both & (a.fillna(0) != b.fillna(0))
    return bad


def stack_outcomes(
    outcomes: pd.DataFrame | None,
    events: pd.DataFrame | None,
    dates: pd.Series | list[pd.Timestamp] | pd.DatetimeIndex | None = None,
    *,
    horizon_days: int = HORIZON_DAYS,
) -> StackedLabels:
    """One label row per (business, score date) from ``outcomes`` rows and ``credit_events``.

    ``dates`` defaults to the dates ``outcomes`` holds. Where both sources label a row they
    must agree on every label both give, or the row is left out of ``labels`` and returned in
    ``rejected`` with reason :data:`DISAGREES`. A label one source leaves missing is taken
    from the other.
    """
    if dates is None:
        dates = [] if outcomes is None else outcomes["as_of"].dropna().unique().tolist()
    wanted = _dates(dates)
    given = _outcome_rows(outcomes, wanted)
    derived = (
        labels_from_credit_events(events, wanted, horizon_days=horizon_days)
        if events is not None and len(events)
        else _empty_outcomes()
    )
    merged = given.merge(
        derived,
        on=["business_id", "as_of"],
        how="outer",
        suffixes=("_outcomes", "_events"),
        indicator=True,
    )
    bad = _conflicts(merged)
    rejected = merged[bad].drop(columns="_merge").assign(reason=DISAGREES)
    kept = merged[~bad]
    source = np.select(
        [kept["_merge"] == "left_only", kept["_merge"] == "right_only"],
        ["outcomes", "credit_events"],
        default="both",
    )
    labels = pd.DataFrame(
        {
            "business_id": kept["business_id"].astype("str"),
            "as_of": kept["as_of"],
            "defaulted": kept["defaulted_outcomes"].fillna(kept["defaulted_events"]),
            "fraud": kept["fraud_outcomes"].fillna(kept["fraud_events"]),
            "source": pd.Series(source, index=kept.index, dtype="str"),
        }
    )
    labels = labels.sort_values(["as_of", "business_id"], ignore_index=True)
    return StackedLabels(labels=labels, rejected=rejected.reset_index(drop=True))


@dataclass(frozen=True)
class LabelMaturity:
    """Whether a cohort's labels have fully played out by ``data_end``."""

    as_of: pd.Timestamp
    data_end: pd.Timestamp
    matures_at: pd.Timestamp
    mature: bool

    @property
    def message(self) -> str:
        state = "mature" if self.mature else "NOT mature"
        return (
            f"labels of the {self.as_of.date()} cohort are {state} at {self.data_end.date()} "
            f"(their horizon ends {self.matures_at.date()})"
        )


def label_maturity(
    as_of: pd.Timestamp | str,
    data_end: pd.Timestamp | str,
    *,
    horizon_days: int = HORIZON_DAYS,
) -> LabelMaturity:
    """Labels scored at ``as_of`` are mature at ``data_end`` once their whole window
    ``(as_of, as_of + horizon]`` lies before it: ``as_of + horizon <= data_end``."""
    start, end = as_utc(as_of), as_utc(data_end)
    matures_at = start + pd.Timedelta(days=horizon_days)
    return LabelMaturity(as_of=start, data_end=end, matures_at=matures_at, mature=matures_at <= end)


def require_mature(
    as_of: pd.Timestamp | str,
    data_end: pd.Timestamp | str,
    *,
    horizon_days: int = HORIZON_DAYS,
    allow_immature: bool = False,
) -> LabelMaturity:
    """:func:`label_maturity`, raising :class:`ImmatureLabelsError` for an immature cohort
    unless ``allow_immature`` (a training cohort must not see a test date's future)."""
    maturity = label_maturity(as_of, data_end, horizon_days=horizon_days)
    if not maturity.mature and not allow_immature:
        raise ImmatureLabelsError(
            f"{maturity.message}: a model trained on them would learn from outcomes not yet "
            "known. Train on an earlier score date, or pass --allow-immature to accept "
            "labels that are still incomplete."
        )
    return maturity


def labels_at(
    outcomes: pd.DataFrame | None,
    events: pd.DataFrame | None,
    as_of: pd.Timestamp | str,
    *,
    horizon_days: int = HORIZON_DAYS,
) -> pd.DataFrame:
    """The labels of the cohort scored at ``as_of``: the ``outcomes`` rows dated ``as_of``
    merged (:func:`stack_outcomes`) with the labels the ``credit_events`` give for that date.

    Events give labels only once their record covers the whole window: when the last event
    is at or after ``as_of + horizon``. Before that, a business that has not defaulted yet
    would read as a good one, so only ``outcomes`` rows label the cohort. Rows where the two
    sources disagree are left out and logged. Returns ``OUTCOME_COLUMNS`` (plus ``split``
    where the outcomes carry a dataset's own train/test split), sorted by ``business_id``.
    """
    stamp = as_utc(as_of)
    given = (
        _empty_outcomes()
        if outcomes is None or outcomes.empty
        else outcomes[pd.to_datetime(outcomes["as_of"], utc=True) == stamp]
    )
    usable = events is not None and len(events) > 0
    if usable:
        end = pd.to_datetime(events["at"], utc=True).max()  # type: ignore[index]
        usable = bool(label_maturity(stamp, end, horizon_days=horizon_days).mature)
    stacked = stack_outcomes(given, events if usable else None, [stamp], horizon_days=horizon_days)
    if len(stacked.rejected):
        logger.warning(
            "labels at %s: %d business(es) left out because outcomes and credit events "
            "disagree", stamp.date(), len(stacked.rejected),
        )  # fmt: skip
    labels = stacked.labels.drop(columns="source")
    if OUTCOME_SPLIT in given.columns and given[OUTCOME_SPLIT].notna().any():
        marks = given.set_index(given["business_id"].astype("str"))[OUTCOME_SPLIT]
        labels[OUTCOME_SPLIT] = labels["business_id"].map(marks[~marks.index.duplicated()])
    return labels.sort_values("business_id", ignore_index=True)
