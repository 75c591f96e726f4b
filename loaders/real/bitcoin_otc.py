"""Bitcoin OTC (SNAP) with REV2 fraud labels -> a marketplace export (data contract v1).

Source folder (``../shared/data/bitcoin-otc``):
- ``soc-sign-bitcoinotc.csv``: header ``from,to,feature,time``; one rating a trader gave
  another after a trade, ``feature`` in -10..+10, ``time`` in unix seconds (float).
- ``otc_gt.csv``: no header; ``node,label`` with ``-1`` fraudulent / ``+1`` benign (REV2).
  A header line, if one is there, is recognised (its label is not a number) and skipped.

Choices (each keeps an evaluation honest or avoids inventing data):
- One order per rating, ``txn_id = otc-<n>`` for the n-th data row (1-based), so ids are
  stable across runs. The rater is the buyer and the rated trader the seller (buyers rate
  sellers on a marketplace), so a node's *incoming* ratings are on orders where it sells.
- ``amount = 1`` (no order values in the source), no currency (the base currency),
  ``status = completed`` for every order: mapping negative ratings to ``disputed`` would put
  the label leak (REV2 labels come from ratings) into a contract column that models use.
- The rating goes in an extra transactions column ``rating``, which the contract carries
  through but models leave out unless configured. Incoming rating values separate the labels
  almost perfectly (README of the data: AUC about 0.997).
- Self-loops are dropped and counted; repeated ratings of one pair are kept as separate orders.
- Businesses: every node with a kept rating plus every labelled node; ``kind = sme``, region and
  industry ``unknown``, ``registered_at`` = UTC date of its first kept rating (a labelled node
  with none gets the date of the first rating in the file; counted in the notes).
- Outcomes: one row per labelled node, ``fraud = 1`` for -1 and 0 for +1, ``defaulted`` empty,
  and one ``as_of`` for all (the labels are undated): midnight after the last rating, so every
  order is strictly before it. There is no given train/test split.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from loaders.real.common import (
    BAD_LABEL,
    SELF_LOOP,
    UNPARSEABLE,
    ConversionReport,
    LabelledGraph,
    RealDataError,
    check_header,
    dedupe_labels,
    read_raw_csv,
    require_file,
    unix_to_utc,
    valid_ids,
    write_labelled_graph,
)

DATASET = "bitcoin-otc"
RATINGS_FILE = "soc-sign-bitcoinotc.csv"
LABELS_FILE = "otc_gt.csv"
RATING_COLUMNS = ["from", "to", "feature", "time"]
RATING_RANGE = (-10, 10)
#: REV2 label text -> ``fraud``.
LABEL_TO_FRAUD = {"-1": 1, "+1": 0, "1": 0}


def convert_bitcoin_otc(src: Path, out: Path) -> ConversionReport:
    """Convert the Bitcoin OTC folder ``src`` into ``out/{businesses,transactions,outcomes}.csv``.

    Returns the reconciliation (source rows per file, written rows per table, drops by reason);
    also written to ``out/import-report.json``. Raises RealDataError if a file is missing or
    is not in the expected format.
    """
    src, out = Path(src), Path(out)
    report = ConversionReport(dataset=DATASET, out=out)
    orders = _read_ratings(require_file(src, RATINGS_FILE, DATASET), report)
    if orders.empty:
        raise RealDataError(f"{src / RATINGS_FILE} holds no usable ratings; nothing to convert.")
    labels = _read_labels(require_file(src, LABELS_FILE, DATASET), report)
    source = LabelledGraph(
        orders.assign(amount=1), labels["business_id"], labels, carried=("rating",)
    )
    write_labelled_graph(source, out, report)
    return report


def _read_ratings(path: Path, report: ConversionReport) -> pd.DataFrame:
    """Kept ratings as ``txn_id, buyer_id, seller_id, ts (UTC), rating``; drops counted."""
    check_header(path, RATING_COLUMNS)
    raw, malformed = read_raw_csv(path, RATING_COLUMNS, header=True)
    dropped: Counter[str] = Counter({UNPARSEABLE: malformed})
    report.source_rows[path.name] = len(raw) + malformed
    report.feeds[path.name] = "transactions"
    report.dropped[path.name] = dropped

    rating = pd.to_numeric(raw["feature"], errors="coerce")
    seconds = pd.to_numeric(raw["time"], errors="coerce")
    parseable = (
        valid_ids(raw["from"])
        & valid_ids(raw["to"])
        & rating.between(*RATING_RANGE)
        & (rating == rating.round())
        & seconds.notna()
    )
    dropped[UNPARSEABLE] += int((~parseable).sum())
    self_loop = parseable & (raw["from"] == raw["to"])
    dropped[SELF_LOOP] += int(self_loop.sum())
    keep = parseable & ~self_loop
    row_number = pd.RangeIndex(1, len(raw) + 1)
    return pd.DataFrame(
        {
            "txn_id": [f"otc-{n}" for n in row_number[keep.to_numpy()]],
            "buyer_id": raw.loc[keep, "from"].to_numpy(),
            "seller_id": raw.loc[keep, "to"].to_numpy(),
            "ts": unix_to_utc(seconds[keep]).to_numpy(),
            "rating": rating[keep].astype("int64").to_numpy(),
        }
    )


def _read_labels(path: Path, report: ConversionReport) -> pd.DataFrame:
    """REV2 labels as ``business_id, fraud``, one row per node; drops counted."""
    raw, malformed = read_raw_csv(path, ["node", "label"], header=_has_header(path))
    dropped: Counter[str] = Counter({UNPARSEABLE: malformed})
    report.source_rows[path.name] = len(raw) + malformed
    report.feeds[path.name] = "outcomes"
    report.dropped[path.name] = dropped

    fraud = raw["label"].map(LABEL_TO_FRAUD)
    unparseable = ~valid_ids(raw["node"])
    dropped[UNPARSEABLE] += int(unparseable.sum())
    bad_label = ~unparseable & fraud.isna()
    dropped[BAD_LABEL] += int(bad_label.sum())
    labels = pd.DataFrame({"business_id": raw["node"], "fraud": fraud})[~unparseable & ~bad_label]
    return dedupe_labels(labels.assign(fraud=labels["fraud"].astype("int64")), dropped)


def _has_header(path: Path) -> bool:
    """True when the first line's label field is not a number (the real file has no header)."""
    with path.open(encoding="utf-8-sig") as handle:
        fields = handle.readline().strip().split(",")
    if len(fields) < 2:
        return False
    try:
        float(fields[1])
    except ValueError:
        return True
    return False
