"""The lender's book (``credit_events``) and re-sent business versions (``updated_at``).

Both are drawn from random streams of their own (seeded from the config's seed and a fixed
stream number), after the simulation: switching them on or off, or changing their knobs,
leaves every other table of the same seed byte-for-byte unchanged.

Credit events follow the simulation exactly, so that labels derived from them by the
contract's rule (``loaders.labels``) equal the ``outcomes`` rows wherever both exist:

- ``credit_opened`` for every SME with credit, when it registered (the line comes with the
  account, so "opened before ``t``" is "registered before ``t``", as in ``outcomes``);
- ``defaulted`` when a credit SME fails by default or bust-out;
- ``fraud_confirmed`` when a ring busts out or a lone fraudster is caught (the fraud began
  months earlier: ring trading, undelivered orders), credit or not;
- ``credit_closed`` when a caught fraudster's line is cut, and for ``credit_close_share`` of
  the credit SMEs that never fail, at a random time after the last labelled score date (a
  closure before it would remove labels the ``outcomes`` table has).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loaders.columns import CREDIT_EVENT_COLUMNS
from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.outcomes import (
    FAIL_BUST_OUT,
    FAIL_CAUGHT,
    FAIL_DEFAULT,
    NO_FAILURE,
    Failures,
)
from loaders.synthetic.population import (
    INDUSTRIES,
    KIND_SME,
    REGION_CODES,
    Population,
)

#: Stream numbers of the two random streams (with the seed) - never reuse one.
EVENTS_STREAM = 1
VERSIONS_STREAM = 2
#: What a re-sent version changes, one per version.
VERSION_CHANGES = ("region", "industry", "employees", "phone", "device_id")


def _frame(ids: np.ndarray, event: str, seconds: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "business_id": ids,
            "event": event,
            "at": pd.to_datetime(seconds, unit="s", utc=True),
        }
    )


def make_credit_events(
    config: SyntheticConfig, pop: Population, failures: Failures
) -> pd.DataFrame:
    """The ``credit_events`` table (CREDIT_EVENT_COLUMNS), sorted by time then business."""
    rng = np.random.default_rng([config.seed, EVENTS_STREAM])
    registered = pop.registered_at.astype("datetime64[s]").astype(np.int64)
    credit = pop.has_credit & (pop.kind == KIND_SME)
    fail, reason = failures.fail_time, failures.fail_reason
    failed = fail != NO_FAILURE
    defaulted = credit & failed & np.isin(reason, (FAIL_DEFAULT, FAIL_BUST_OUT))
    fraud = failed & np.isin(reason, (FAIL_BUST_OUT, FAIL_CAUGHT)) & (pop.kind == KIND_SME)
    cut = credit & failed & (reason == FAIL_CAUGHT)

    last_label = int(max(config.outcome_timestamps).timestamp())
    end = int((pd.Timestamp(config.end, tz="UTC") + pd.Timedelta(days=1)).timestamp())
    healthy = np.flatnonzero(credit & ~failed)
    closing = healthy[rng.random(len(healthy)) < config.credit_close_share]
    if last_label + 1 >= end:
        closing = closing[:0]
    closed_at = rng.integers(last_label + 1, max(end, last_label + 2), size=len(closing))

    ids = pop.business_id
    parts = [
        _frame(ids[credit], "credit_opened", registered[credit]),
        _frame(ids[defaulted], "defaulted", fail[defaulted]),
        _frame(ids[fraud], "fraud_confirmed", fail[fraud]),
        _frame(ids[cut], "credit_closed", fail[cut]),
        _frame(ids[closing], "credit_closed", closed_at),
    ]
    events = pd.concat(parts, ignore_index=True)[CREDIT_EVENT_COLUMNS]
    return events.sort_values(["at", "business_id", "event"], ignore_index=True)


def _new_phone(rng: np.random.Generator) -> str:
    return f"+1-{int(rng.integers(200, 1000))}-555-{int(rng.integers(0, 10_000)):04d}"


def _new_device(rng: np.random.Generator) -> str:
    d = f"{int(rng.integers(0, 2**63 - 1)):016x}{int(rng.integers(0, 2**63 - 1)):016x}"
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


def _changed(row: dict[str, object], change: str, rng: np.random.Generator) -> None:
    """Apply one change to ``row`` in place (always to a value different from the old one)."""
    if change == "region":
        others = [r for r in REGION_CODES if r != row["region"]]
        row["region"] = others[int(rng.integers(len(others)))]
    elif change == "industry":
        others = [i for i in INDUSTRIES if i != row["industry"]]
        row["industry"] = others[int(rng.integers(len(others)))]
    elif change == "employees":
        old = row["employees"]
        base = 5 if pd.isna(old) else int(old)  # type: ignore[call-overload]
        row["employees"] = base + int(rng.integers(1, 20))  # it grew (or declared at last)
    elif change == "phone":
        row["phone"] = _new_phone(rng)
    else:
        row["device_id"] = _new_device(rng)


def make_business_versions(
    config: SyntheticConfig, pop: Population, failures: Failures, businesses: pd.DataFrame
) -> pd.DataFrame:
    """Re-sent rows: ``version_share`` of the SMEs once more, each with one change and an
    ``updated_at`` between 30 days after registration and their failure (or ``end``).

    ``businesses`` holds the first versions (one row per business, the export's columns);
    the result has the same columns plus ``updated_at`` (empty when ``version_share`` is 0).
    """
    columns = [*businesses.columns, "updated_at"]
    rng = np.random.default_rng([config.seed, VERSIONS_STREAM])
    sme = np.flatnonzero(pop.kind == KIND_SME)
    chosen = np.sort(sme[rng.random(len(sme)) < config.version_share])
    registered = pop.registered_at.astype("datetime64[s]").astype(np.int64)
    end = int((pd.Timestamp(config.end, tz="UTC") + pd.Timedelta(days=1)).timestamp())
    lo = registered[chosen] + 30 * 86_400
    hi = np.minimum(failures.fail_time[chosen], end)
    chosen, lo, hi = chosen[lo < hi], lo[lo < hi], hi[lo < hi]
    at = lo + (rng.random(len(chosen)) * (hi - lo)).astype(np.int64)
    rows = []
    by_id = businesses.set_index("business_id", drop=False)
    for index, when in zip(chosen, at, strict=True):
        row = by_id.loc[pop.business_id[index]].to_dict()
        _changed(row, VERSION_CHANGES[int(rng.integers(len(VERSION_CHANGES)))], rng)
        row["updated_at"] = pd.Timestamp(int(when), unit="s", tz="UTC")
        rows.append(row)
    dtypes = {**businesses.dtypes.to_dict(), "updated_at": "datetime64[us, UTC]"}
    return pd.DataFrame({c: pd.Series([row[c] for row in rows], dtype=dtypes[c]) for c in columns})
