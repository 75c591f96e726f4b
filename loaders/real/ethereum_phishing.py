"""Ethereum phishing subgraph (XBlock) -> a marketplace export (data contract v1).

Source folder (``../shared/data/ethereum-phishing``):
- ``edges.csv``: header ``,from,to,amount,n_transactions,timestamp`` (first column an unnamed
  row index); value transfers aggregated per (from, to) pair, ``amount`` in ETH, ``timestamp``
  in unix seconds.
- ``nodes_train_test_split.csv``: header ``,id,label,has_label,is_train,is_test``; ``id`` is
  the node id used in ``edges.csv``, ``label`` 1.0 phishing / 0.0 random account / empty.

Choices:
- One order per source pair row, ``txn_id = eth-<n>`` for the n-th data row (1-based): the
  total ``amount`` and the given ``timestamp`` as ``ts``. Splitting a pair into
  ``n_transactions`` orders would invent per-transfer amounts and times the source doesn't
  have; ``n_transactions`` is carried as an extra transactions column instead.
- The sender is the buyer (it pays) and the receiver the seller; a phishing account that
  collects ETH therefore shows as a seller.
- Amounts stay in ETH with no ``currency`` column: load this export in a deployment whose base
  currency is ETH (``ETH`` is not an ISO 4217 code, and an ETH rate would be a guess).
- ``status = completed`` for every order (transfers on chain are final).
- Self-loops and zero-value transfers are dropped and counted (the contract needs amount > 0,
  and giving a zero transfer a made-up value or a ``cancelled`` status would misstate it);
  negative or non-numeric amounts likewise. The real file has none of these.
- Businesses: every node of the nodes file plus every endpoint of a kept order; ``kind = sme``,
  region and industry ``unknown``, ``registered_at`` = UTC date of its first kept order (a node
  with none gets the date of the first order in the file; counted in the notes).
- Outcomes: one row per labelled node, ``fraud`` = the label (the 0s are random accounts, not
  verified benign), ``defaulted`` empty, one ``as_of`` for all (midnight after the last order),
  and an extra column ``split``: ``train`` / ``test`` from ``is_train`` / ``is_test``, or
  ``unlabelled-not-used`` for a labelled node the source split leaves out (or puts in both).
  Unlabelled nodes get no outcome row (the contract holds observed outcomes only); they are
  counted under their own reason so the nodes file still reconciles.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
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

DATASET = "ethereum-phishing"
EDGES_FILE = "edges.csv"
NODES_FILE = "nodes_train_test_split.csv"
EDGE_COLUMNS = ["idx", "from", "to", "amount", "n_transactions", "timestamp"]
NODE_COLUMNS = ["idx", "id", "label", "has_label", "is_train", "is_test"]
ZERO_AMOUNT = "zero amount (value-less transfer)"
NEGATIVE_AMOUNT = "negative amount"
UNLABELLED = "unlabelled node (no outcome row)"
SPLIT_TRAIN, SPLIT_TEST, SPLIT_NOT_USED = "train", "test", "unlabelled-not-used"
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def convert_ethereum_phishing(src: Path, out: Path) -> ConversionReport:
    """Convert the Ethereum phishing folder ``src`` into ``out/{businesses,transactions,outcomes}``.

    Returns the reconciliation (source rows per file, written rows per table, drops by reason);
    also written to ``out/import-report.json``. Raises RealDataError if a file is missing or
    is not in the expected format.
    """
    src, out = Path(src), Path(out)
    report = ConversionReport(dataset=DATASET, out=out)
    orders = _read_edges(require_file(src, EDGES_FILE, DATASET), report)
    if orders.empty:
        raise RealDataError(f"{src / EDGES_FILE} holds no usable transfers; nothing to convert.")
    node_ids, labels = _read_nodes(require_file(src, NODES_FILE, DATASET), report)
    listed = set(node_ids)
    endpoints = pd.concat([orders["buyer_id"], orders["seller_id"]]).drop_duplicates()
    report.notes.update(
        {
            "base currency": "ETH",
            "source transfers in kept orders (sum of n_transactions)": int(
                orders["n_transactions"].sum()
            ),
            "order endpoints missing from the nodes file": int((~endpoints.isin(listed)).sum()),
            **{
                f"split = {name}": int((labels["split"] == name).sum())
                for name in (SPLIT_TRAIN, SPLIT_TEST, SPLIT_NOT_USED)
            },
        }
    )
    source = LabelledGraph(orders, node_ids, labels, carried=("n_transactions",))
    write_labelled_graph(source, out, report)
    return report


def _read_edges(path: Path, report: ConversionReport) -> pd.DataFrame:
    """Kept pairs as ``txn_id, buyer_id, seller_id, ts (UTC), amount, n_transactions``."""
    check_header(path, ["", *EDGE_COLUMNS[1:]])
    raw, malformed = read_raw_csv(path, EDGE_COLUMNS, header=True)
    dropped: Counter[str] = Counter({UNPARSEABLE: malformed})
    report.source_rows[path.name] = len(raw) + malformed
    report.feeds[path.name] = "transactions"
    report.dropped[path.name] = dropped

    amount = pd.to_numeric(raw["amount"], errors="coerce")
    count = pd.to_numeric(raw["n_transactions"], errors="coerce")
    seconds = pd.to_numeric(raw["timestamp"], errors="coerce")
    parseable = (
        valid_ids(raw["from"])
        & valid_ids(raw["to"])
        & pd.Series(np.isfinite(amount.to_numpy(dtype=float, na_value=np.nan)), index=raw.index)
        & (count >= 1)
        & (count == count.round())
        & seconds.notna()
    )
    dropped[UNPARSEABLE] += int((~parseable).sum())
    self_loop = parseable & (raw["from"] == raw["to"])
    dropped[SELF_LOOP] += int(self_loop.sum())
    rest = parseable & ~self_loop
    zero = rest & (amount == 0)
    negative = rest & (amount < 0)
    dropped[ZERO_AMOUNT] += int(zero.sum())
    dropped[NEGATIVE_AMOUNT] += int(negative.sum())
    keep = (rest & ~zero & ~negative).to_numpy()
    row_number = pd.RangeIndex(1, len(raw) + 1)
    return pd.DataFrame(
        {
            "txn_id": [f"eth-{n}" for n in row_number[keep]],
            "buyer_id": raw.loc[keep, "from"].to_numpy(),
            "seller_id": raw.loc[keep, "to"].to_numpy(),
            "ts": unix_to_utc(seconds[keep]).to_numpy(),
            "amount": amount[keep].astype("float64").to_numpy(),
            "n_transactions": count[keep].astype("int64").to_numpy(),
        }
    )


def _read_nodes(path: Path, report: ConversionReport) -> tuple[pd.Series, pd.DataFrame]:
    """All listed node ids, and labels as ``business_id, fraud, split`` (one row per node)."""
    check_header(path, ["", *NODE_COLUMNS[1:]])
    raw, malformed = read_raw_csv(path, NODE_COLUMNS, header=True)
    dropped: Counter[str] = Counter({UNPARSEABLE: malformed})
    report.source_rows[path.name] = len(raw) + malformed
    report.feeds[path.name] = "outcomes"
    report.dropped[path.name] = dropped

    flags = {
        name: raw[name].str.lower().map(_BOOLEANS) for name in ("has_label", "is_train", "is_test")
    }
    id_ok = valid_ids(raw["id"])
    has_label = flags["has_label"]
    dropped[UNPARSEABLE] += int((~id_ok | has_label.isna()).sum())
    labelled = id_ok & has_label.eq(True)
    dropped[UNLABELLED] += int((id_ok & has_label.eq(False)).sum())

    label = pd.to_numeric(raw["label"], errors="coerce")
    bad_label = labelled & ~label.isin([0, 1])
    dropped[BAD_LABEL] += int(bad_label.sum())
    chosen = (labelled & ~bad_label).to_numpy()
    is_train = flags["is_train"].eq(True)
    is_test = flags["is_test"].eq(True)
    split = np.select(
        [is_train & ~is_test, is_test & ~is_train], [SPLIT_TRAIN, SPLIT_TEST], SPLIT_NOT_USED
    )
    labels = pd.DataFrame(
        {
            "business_id": raw.loc[chosen, "id"].to_numpy(),
            "fraud": label[chosen].astype("int64").to_numpy(),
            "split": split[chosen],
        }
    )
    return raw.loc[id_ok.to_numpy(), "id"], dedupe_labels(labels, dropped)
