"""Circular trading in batches: the library's ``circular_trading`` rule at any size.

The Cypher query (``graph/queries/circular_trading.cypher``, what analysts run in Browser or
``tradegraph query``) expands every loop of up to six trading pairs inside the server before it
looks at a single order; on a marketplace ten times the default size that expansion runs out of
the server's transaction memory. Here the same rule runs in three cheap steps:

1. one read of the trading pairs a loop may use (both businesses at most ``max_partners``
   partners, orders that were not cancelled, traded since ``since``);
2. their **strongly connected components** (scipy, on the pairs just read): a cycle never
   leaves its component, so only pairs inside a component of two or more businesses can carry
   one, and only their orders are read (in batches of pairs, as lists per pair);
3. a **time-ordered search over orders** in numpy, frontier by frontier: from every order of at
   least ``min_amount``, the next order must leave the previous buyer later, inside the window
   of the first order, passing on ``min_pass_ratio``..``max_pass_ratio`` of the previous
   amount, through businesses not yet on the chain; a chain that comes back to its first
   seller after two to six orders is a cycle. Searching orders rather than pair loops prunes
   by time and amount at every step, where the query prunes only by the pairs' trading periods.

The rule and the rows are the library query's (``tests/graph/test_cycles.py`` compares them on
the real Neo4j), so ``clusters`` uses this path and analysts keep their query. Why scipy and not
GDS for the components: the pairs have to come to the client for the order search anyway, and
strongly connected components of a few hundred thousand pairs take milliseconds there, where a
GDS projection of the same subgraph takes seconds (``docs/design.md``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import neo4j
import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from graph import cypher
from graph.query_library import to_plain
from graph.session import read_frame, read_nested_frame

#: The library query's defaults (its ``// param`` headers).
DEFAULTS: Final[dict[str, Any]] = {
    "window_days": 30,
    "min_pass_ratio": 0.8,
    "max_pass_ratio": 1.25,
    "min_amount": 1000.0,
    "max_partners": 30,
    "since": None,
    "limit": 1000,
}
#: The library query's columns, in its order.
COLUMNS: Final = (
    "businesses", "hops", "txn_ids", "amounts", "started_at", "closed_at", "days",
    "returned_share",
)  # fmt: skip
#: Most orders (and so businesses) in one cycle, and fewest.
MAX_HOPS: Final = 6
MIN_HOPS: Final = 2
#: Trading pairs whose orders are read in one round trip.
PAIRS_PER_READ: Final = 2_000
#: Chains grown in one numpy step (start orders are taken in groups that stay near it).
MAX_FRONTIER: Final = 2_000_000
_DAY_US: Final = 86_400_000_000
_SECOND_US: Final = 1_000_000


class CycleBudgetError(TimeoutError):
    """The batched search ran past its time budget."""


@dataclass(frozen=True)
class Orders:
    """Orders sorted by ``(seller, ts)``, businesses as indexes into ``names``."""

    names: np.ndarray  # [N] business ids
    seller: np.ndarray  # [M] int64
    buyer: np.ndarray  # [M] int64
    ts: np.ndarray  # [M] int64 epoch µs
    amount: np.ndarray  # [M] float64
    txn_id: np.ndarray  # [M] object

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Orders:
        """``frame``: one row per order with ``seller, buyer, txn_id, amount, ts`` (epoch µs)."""
        names, codes = np.unique(
            np.concatenate([frame["seller"].to_numpy(str), frame["buyer"].to_numpy(str)]),
            return_inverse=True,
        )
        seller, buyer = codes[: len(frame)], codes[len(frame) :]
        ts = frame["ts"].to_numpy(np.int64)
        order = np.lexsort((ts, seller))
        return cls(
            names=names,
            seller=seller[order].astype(np.int64),
            buyer=buyer[order].astype(np.int64),
            ts=ts[order],
            amount=frame["amount"].to_numpy(np.float64)[order],
            txn_id=frame["txn_id"].to_numpy(object)[order],
        )


def cyclic_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The ``seller, buyer`` pairs inside a strongly connected component of two or more
    businesses: the only pairs a cycle can use."""
    if pairs.empty:
        return pairs
    names, codes = np.unique(
        np.concatenate([pairs["seller"].to_numpy(str), pairs["buyer"].to_numpy(str)]),
        return_inverse=True,
    )
    src, dst = codes[: len(pairs)], codes[len(pairs) :]
    graph = csr_matrix((np.ones(len(src)), (src, dst)), shape=(len(names), len(names)))
    _, component = connected_components(graph, directed=True, connection="strong")
    inside = component[src] == component[dst]
    return pairs[inside].reset_index(drop=True)


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``i``, every ``j`` in ``[lo[i], hi[i])``: ``(i repeated, j)``."""
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, lo[owner] + offset


@dataclass
class _Search:
    """The order index the frontier steps look up: orders of one seller are contiguous and
    sorted by time, so the candidates after a chain's last order are one slice, found by binary
    search on ``key = seller * (distinct times + 1) + rank of ts``."""

    orders: Orders
    window_us: int
    min_pass: float
    max_pass: float

    def __post_init__(self) -> None:
        self.times = np.unique(self.orders.ts)
        self.stride = np.int64(len(self.times) + 1)
        rank = np.searchsorted(self.times, self.orders.ts)
        self.key = self.orders.seller * self.stride + rank

    def step(self, chains: np.ndarray) -> np.ndarray:
        """Every chain ``[C, d]`` (order indexes) grown by one order: ``[C', d + 1]``."""
        o = self.orders
        first, last = chains[:, 0], chains[:, -1]
        at = o.buyer[last]
        after = np.searchsorted(self.times, o.ts[last], side="right")  # strictly later
        until = np.searchsorted(self.times, o.ts[first] + self.window_us, side="right")
        lo = np.searchsorted(self.key, at * self.stride + after, side="left")
        hi = np.searchsorted(self.key, at * self.stride + until, side="left")
        owner, nxt = _ranges(lo, hi)
        previous = o.amount[last[owner]]
        passes = (self.min_pass * previous <= o.amount[nxt]) & (
            o.amount[nxt] <= self.max_pass * previous
        )
        owner, nxt = owner[passes], nxt[passes]
        # Through businesses not yet on the chain (its first seller closes the cycle).
        visited = o.buyer[chains[owner, :-1]] if chains.shape[1] > 1 else None
        fresh = (
            np.ones(len(nxt), dtype=bool)
            if visited is None
            else ~(visited == o.buyer[nxt][:, None]).any(axis=1)
        )
        fresh &= o.buyer[nxt] != at[owner]
        return np.column_stack([chains[owner[fresh]], nxt[fresh]])


def find_cycles(
    orders: Orders,
    *,
    window_days: int,
    min_pass_ratio: float,
    max_pass_ratio: float,
    min_amount: float,
    since_us: int | None = None,
    deadline: float | None = None,
) -> list[np.ndarray]:
    """Every time-ordered cycle of 2..:data:`MAX_HOPS` orders (the rule in the module
    docstring), as arrays of order indexes ``[C, hops]``, one per cycle length. Raises
    :class:`CycleBudgetError` past ``deadline`` (``time.perf_counter()`` value)."""
    search = _Search(orders, window_days * _DAY_US, min_pass_ratio, max_pass_ratio)
    start = (orders.amount >= min_amount) & (orders.seller != orders.buyer)
    if since_us is not None:
        start &= orders.ts >= since_us
    found: list[np.ndarray] = []
    for group in _start_groups(np.flatnonzero(start), orders):
        chains = group[:, None]
        while len(chains) and chains.shape[1] < MAX_HOPS:
            if deadline is not None and time.perf_counter() > deadline:
                raise CycleBudgetError("circular_trading ran past its budget")
            chains = search.step(chains)
            closed = orders.buyer[chains[:, -1]] == orders.seller[chains[:, 0]]
            if closed.any() and chains.shape[1] >= MIN_HOPS:
                found.append(chains[closed])
            chains = chains[~closed]
    return found


def _start_groups(starts: np.ndarray, orders: Orders) -> Iterator[np.ndarray]:
    """Start orders in groups whose first step stays under :data:`MAX_FRONTIER` chains (a
    start order's first step is at most its buyer's orders)."""
    if not len(starts):
        return
    per_seller = np.bincount(orders.seller, minlength=len(orders.names))
    cost = np.cumsum(np.maximum(per_seller[orders.buyer[starts]], 1))
    edges = np.searchsorted(cost, np.arange(MAX_FRONTIER, cost[-1] + MAX_FRONTIER, MAX_FRONTIER))
    begin = 0
    for end in [*edges.tolist(), len(starts)]:
        end = max(int(end), begin + 1)
        if begin < len(starts):
            yield starts[begin:end]
        begin = end


def cycle_rows(orders: Orders, cycles: list[np.ndarray], limit: int) -> list[dict[str, Any]]:
    """The library query's rows for ``cycles``, ordered by start time then businesses."""
    rows: list[dict[str, Any]] = []
    for chains in cycles:
        for chain in chains:
            first, last = orders.ts[chain[0]], orders.ts[chain[-1]]
            rows.append(
                {
                    "businesses": [str(orders.names[s]) for s in orders.seller[chain]],
                    "hops": len(chain),
                    "txn_ids": [str(t) for t in orders.txn_id[chain]],
                    "amounts": [float(a) for a in orders.amount[chain]],
                    "started_at": _utc(first),
                    "closed_at": _utc(last),
                    "days": ((last - first) // _SECOND_US) / 86_400.0,
                    "returned_share": round(
                        float(orders.amount[chain[-1]] / orders.amount[chain[0]]), 4
                    ),
                }
            )
    rows.sort(key=lambda r: (r["started_at"], r["businesses"]))
    return [
        r | {"started_at": _iso(r["started_at"]), "closed_at": _iso(r["closed_at"])}
        for r in rows[:limit]
    ]


def _utc(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))


def _iso(moment: dt.datetime) -> str:
    """As the library runner returns a DATETIME (``query_library.to_plain``)."""
    return str(to_plain(neo4j.time.DateTime.from_native(moment)))


def _epoch_us(value: Any) -> int | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000)


def read_orders(
    driver: neo4j.Driver,
    pairs: pd.DataFrame,
    since_us: int | None,
    *,
    database: str | None = None,
    deadline: float | None = None,
) -> Orders:
    """The orders that were not cancelled of ``pairs`` (``seller, buyer``), in batches."""
    frames = []
    for begin in range(0, len(pairs), PAIRS_PER_READ):
        if deadline is not None and time.perf_counter() > deadline:
            raise CycleBudgetError("circular_trading ran past its budget reading orders")
        batch = pairs.iloc[begin : begin + PAIRS_PER_READ]
        ask = batch[["seller", "buyer"]].to_numpy(str).tolist()
        frames.append(
            read_nested_frame(
                driver, cypher.CYCLE_PAIR_ORDERS, database, nested="orders",
                fields=cypher.CYCLE_ORDER_FIELDS, pairs=ask, since=since_us,
            )
        )  # fmt: skip
    flat = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["seller", "buyer", *cypher.CYCLE_ORDER_FIELDS]
    )  # fmt: skip
    return Orders.from_frame(flat.astype({"ts": np.int64, "amount": np.float64}))


def circular_trading(
    driver: neo4j.Driver,
    params: dict[str, Any] | None = None,
    *,
    budget_s: float | None = None,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of the library's ``circular_trading`` query for ``params`` (its defaults
    otherwise), in its order. Raises :class:`CycleBudgetError` once ``budget_s`` seconds have
    passed."""
    p = {**DEFAULTS, **(params or {})}
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    since_us = _epoch_us(p["since"])
    pairs = read_frame(
        driver, cypher.CYCLE_CANDIDATE_PAIRS, database,
        max_partners=int(p["max_partners"]), since=since_us,
    )  # fmt: skip
    if pairs.empty:
        return []
    orders = read_orders(
        driver, cyclic_pairs(pairs), since_us, database=database, deadline=deadline
    )
    cycles = find_cycles(
        orders,
        window_days=int(p["window_days"]),
        min_pass_ratio=float(p["min_pass_ratio"]),
        max_pass_ratio=float(p["max_pass_ratio"]),
        min_amount=float(p["min_amount"]),
        since_us=since_us,
        deadline=deadline,
    )
    return cycle_rows(orders, cycles, int(p["limit"]))
