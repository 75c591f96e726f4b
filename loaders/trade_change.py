"""A target every business has: how its trade changed over the days after a score date.

GraphSAGE can be pre-trained on it before it learns defaults (``gnn.pretrain``): every node of
the graph has this target, not only the few hundred labelled ones, and a business whose trade
is about to shrink is the kind a lender worries about. Like a label it is read from *after*
the score date, so it is a training target only: it never reaches a feature, an edge or a
score, and it exists only where the orders cover the whole window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loaders.columns import as_utc

#: Days after (and before) the score date that the change compares.
TRADE_CHANGE_DAYS = 90


def trade_change(
    orders: pd.DataFrame,
    business_ids: pd.Index,
    as_of: pd.Timestamp | str,
    *,
    known_until: pd.Timestamp | str,
    days: int = TRADE_CHANGE_DAYS,
) -> pd.Series | None:
    """``log1p(trade in [as_of, as_of + days)) - log1p(trade in [as_of - days, as_of))`` per
    business of ``business_ids``, where trade is the business's sales plus purchases in the
    base currency (cancelled orders count 0) and ``orders`` hold every order placed before
    ``known_until``. ``None`` when ``known_until`` is earlier than ``as_of + days``: the
    window after the date is not yet complete, so the target does not exist."""
    start, end = as_utc(as_of), as_utc(known_until)
    window = pd.Timedelta(days=days)
    if end < start + window:
        return None
    ts = pd.to_datetime(orders["ts"], utc=True)
    amount = orders["amount_base"].astype(float).where(orders["status"] != "cancelled", 0.0)
    index = pd.Index(business_ids.astype(str), name="business_id")
    totals = []
    for lo, hi in ((start, start + window), (start - window, start)):
        placed = (ts >= lo) & (ts < hi)
        total = pd.Series(0.0, index=index)
        for side in ("seller_id", "buyer_id"):
            sums = amount[placed].groupby(orders.loc[placed, side].astype(str)).sum()
            total = total + sums.reindex(index, fill_value=0.0)
        totals.append(total)
    after, before = totals
    return (np.log1p(after) - np.log1p(before)).rename("trade_change")
