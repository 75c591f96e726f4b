"""Fixed DataFrame column contracts shared by ``loaders``, ``graph`` and ``gnn``.

Every frame that crosses a package boundary has exactly these columns (see docs/design.md).
Ids are ``str``; timestamps are tz-aware UTC; dates are UTC midnight timestamps.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

BUSINESS_COLUMNS: Final = [
    "business_id",
    "kind",
    "registered_at",
    "region",
    "industry",
    "employees",
    "declared_revenue",
]

IDENTIFIER_TYPES: Final = ["phone", "device_id", "address", "bank_account", "owner_id"]
IDENTIFIER_COLUMNS: Final = ["business_id", "id_type", "id_hash"]

ORDER_STATUSES: Final = ["completed", "refunded", "disputed", "cancelled"]
ORDER_COLUMNS: Final = [
    "txn_id",
    "seller_id",
    "buyer_id",
    "ts",
    "amount",
    "currency",
    "amount_base",
    "status",
    "status_at",
    "category",
]

OUTCOME_COLUMNS: Final = ["business_id", "as_of", "defaulted", "fraud"]
#: Optional outcomes column a dataset's own train/test split comes in (``train``/``test``): kept
#: on Outcome nodes and in snapshots (only when some row has it) for ``evaluate --split given``.
OUTCOME_SPLIT: Final = "split"
OUTCOME_TARGETS: Final = ["defaulted", "fraud"]

CREDIT_EVENT_COLUMNS: Final = ["business_id", "event", "at"]

BUSINESS_KINDS: Final = ["sme", "consumer", "enterprise"]

#: Businesses registered fewer than this many days before the score date are "thin file".
THIN_FILE_DAYS: Final = 90
#: An identifier held by more businesses than this is a hub (a warehouse address, a call
#: centre's phone): loading marks it, features and the GNN ignore it, ring queries skip it.
HUB_THRESHOLD: Final = 20
#: Default outcome horizon after a score date, in days.
HORIZON_DAYS: Final = 365

#: Kinds of dated credit events (the ``event`` column of ``credit_events``, contract v2).
CREDIT_EVENT_KINDS: Final = ["credit_opened", "credit_closed", "defaulted", "fraud_confirmed"]
#: Businesses frames carry this column right after BUSINESS_COLUMNS: when the row's version
#: became true (``updated_at``, default ``registered_at``); one row per (business_id, version).
BUSINESS_VERSION: Final = "updated_at"


def as_utc(value: pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp in UTC: naive values are read as UTC (the contract's rule), aware ones
    converted."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
