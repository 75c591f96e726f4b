"""Reasons: up to four ranked reasons per business, from the champion's own attributions.

* LightGBM (``trees_own``, ``trees_own_cp`` and the tree part of ``hybrid``): TreeSHAP
  contributions (``pred_contrib``), for all targets at once, asked once per distinct decision
  pattern of each tree (:mod:`gnn.treeshap`). A counterparty aggregate
  such as ``buyers_wmean_seller_refund_rate`` is a trade-share weighted mean of the buyers'
  own values, so its contribution is split over those buyers by ``share * (value - typical)``
  (the training median), which names the counterparties that weigh most.
* GraphSAGE (``graphsage``, and the embedding part of ``hybrid``): Integrated Gradients from
  the all-typical input (0 after scaling) to the real one, on each business's own
  ``num_layers``-hop neighbourhood, many businesses per pass: the model runs forward once on
  the union of their neighbourhoods, and backward on a copy of each business's own
  (:mod:`gnn.pullback`), so overlapping neighbourhoods never mix. That neighbourhood holds
  everything the model's output for the business depends on, so the attribution is the
  business's own and changes elsewhere in the graph cannot move it.

Attributions (log-odds of the target) are summed into the catalogue's units
(:mod:`gnn.reason_codes`) as one ``[T, U]`` matrix; the units that raise risk most become
:class:`~gnn.reason_codes.Reason` objects with a stable code, the applicant's sentence and the
analyst's detail. All of it is vectorised over targets except the sentences themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from gnn import treeshap
from gnn.data import GraphData
from gnn.model import GraphSAGE, SageBagModel
from gnn.pullback import (
    EmbeddingReadout,
    copy_positions,
    path_gradient,
    shared_forward,
    union_plan,
)
from gnn.reason_codes import (
    RELATIONS,
    UNIT_INDEX,
    UNITS,
    Reason,
    applicant_sentence,
    code_of,
    counterparty_fact,
    percent,
    unit_of,
)
from gnn.receptive import ScipyOperators, plan_blocks
from gnn.train import graph_operators
from loaders.positions import positions

if TYPE_CHECKING:
    from gnn.artefact import Artefact
    from gnn.train import TrainedSAGE

MAX_REASONS = 4
#: Counterparties named per counterparty reason (analyst detail).
MAX_NAMED = 3
#: Integrated-Gradients points on the path (Gauss-Legendre, :func:`path_points`). Three
#: points agree with a 32-point integral as often as four midpoints did (top reason 95% of
#: businesses for GraphSAGE, 97% for the hybrid; ``benchmarks/ig_steps_benchmark.py``).
IG_STEPS = 3
#: Targets explained per Integrated-Gradients pass.
IG_BATCH = 256
#: Targets whose receptive fields share one forward pass (bounds its memory: at most this
#: many targets' neighbourhoods, times ``steps``).
IG_WINDOW = 8192
#: Relation codes of a neighbourhood row (``RELATIONS`` after ``self``).
_SELF, _BUYERS, _SUPPLIERS, _SHARED, _NETWORK = range(5)


@dataclass
class TradeIndex:
    """Who trades with whom over the features' year, by graph position: ``sales[s, b]`` is the
    GMV ``s`` sold to ``b``; ``purchases`` its transpose; ``shared`` marks pairs sharing an
    identifier."""

    sales: sp.csr_matrix
    purchases: sp.csr_matrix
    shared: sp.csr_matrix

    @classmethod
    def build(cls, ids: pd.Index, pairs: pd.DataFrame, graph: GraphData | None) -> TradeIndex:
        """From ``pairs`` (``seller_id, buyer_id, gmv``) and the graph's identifier edges."""
        n = len(ids)
        seller, buyer = positions(pairs["seller_id"], ids), positions(pairs["buyer_id"], ids)
        keep = (seller >= 0) & (buyer >= 0) & (seller != buyer)
        gmv = pairs["gmv"].to_numpy(dtype=float)[keep]
        sales = sp.csr_matrix((gmv, (seller[keep], buyer[keep])), shape=(n, n))
        shared = sp.csr_matrix((n, n))
        if graph is not None and graph.data.id_edge_index.numel():
            a, b = graph.data.id_edge_index.numpy()
            shared = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        return cls(sales, sales.T.tocsr(), shared)

    def partners(self, relation: str, target: int) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, gmv)`` of ``target``'s buyers or suppliers."""
        matrix = self.sales if relation == "buyers" else self.purchases
        start, end = matrix.indptr[target], matrix.indptr[target + 1]
        return matrix.indices[start:end], matrix.data[start:end]

    def relation_codes(self, target: np.ndarray, other: np.ndarray) -> np.ndarray:
        """Relation code per ``(target, other)`` pair: self, buyers, suppliers, shared (the
        first that holds) or network."""
        codes = np.full(len(target), _NETWORK, dtype=np.int8)
        for code, matrix in ((_SHARED, self.shared), (_SUPPLIERS, self.purchases),
                             (_BUYERS, self.sales)):  # fmt: skip
            hit = np.asarray(matrix[target, other]).ravel() != 0
            codes[hit] = code
        codes[target == other] = _SELF
        return codes


@dataclass
class GraphCache:
    """The population-wide parts of an explanation, built on first use and kept for later
    calls on the same graph and features (the API explains one business per request): the
    trade index, the GraphSAGE's relation operators and its bag's embedding ``[N, D]``."""

    trade: TradeIndex | None = None
    operators: list[torch.Tensor] | None = None
    embedding: np.ndarray | None = None


def unit_matrix(columns: list[str], relation: str = "self") -> np.ndarray:
    """One-hot ``[F, U]``: which catalogue unit each column's attribution counts toward
    (columns of the hybrid's GraphSAGE input, ``emb_*``, count toward none)."""
    return _unit_matrix(tuple(columns), relation).copy()


@lru_cache(maxsize=64)
def _unit_matrix(columns: tuple[str, ...], relation: str) -> np.ndarray:
    matrix = np.zeros((len(columns), len(UNITS)))
    for f, column in enumerate(columns):
        if not column.startswith("emb_"):
            matrix[f, UNIT_INDEX[unit_of(column, relation)]] = 1.0
    return matrix


# --- attributions -----------------------------------------------------------------------------


def tree_contributions(booster: Any, matrix: np.ndarray) -> np.ndarray:
    """TreeSHAP log-odds contributions ``[n, F]`` (bias column dropped) of a LightGBM model
    (:func:`gnn.treeshap.tree_contributions`: once per distinct decision pattern)."""
    return treeshap.tree_contributions(booster, matrix)[:, :-1]


@dataclass
class NodeAttributions:
    """Integrated-Gradients attributions of many targets, one row per (target, node in its
    neighbourhood): ``target [R]`` (index into the explained targets), ``node [R]`` (graph
    position) and ``values [R, F]``."""

    target: np.ndarray
    node: np.ndarray
    values: np.ndarray

    @classmethod
    def concatenate(cls, passes: Iterable[NodeAttributions], width: int) -> NodeAttributions:
        """All passes of :func:`integrated_gradients` as one; ``width``: the feature count
        (``F``), for the shape of an empty result."""
        parts = [(a.target, a.node, a.values) for a in passes]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, np.zeros((0, width)))
        return cls(*(np.concatenate(c) for c in zip(*parts, strict=True)))


#: Quadrature rules for the path integral (:func:`path_points`).
PathRule = Literal["gauss-legendre", "midpoint"]


def path_points(steps: int, rule: PathRule = "gauss-legendre") -> tuple[torch.Tensor, torch.Tensor]:
    """``(alphas [steps], weights [steps])`` on ``[0, 1]``: ``sum_s weights[s] *
    f(alphas[s])`` integrates ``f``. Gauss-Legendre (the default) is exact for polynomials of
    degree ``2 * steps - 1``; along the path the model's gradient is smooth between the
    kinks of its ReLUs, and it reaches with 3 points what the midpoint rule (equal weights at
    ``(s + 0.5) / steps``) does with 4."""
    if rule == "midpoint":
        nodes = (np.arange(steps) + 0.5) / steps
        weights = np.full(steps, 1.0 / steps)
    else:
        legendre, weights = np.polynomial.legendre.leggauss(steps)
        nodes, weights = (legendre + 1) / 2, weights / 2
    return (
        torch.from_numpy(nodes.astype(np.float32)),
        torch.from_numpy(weights.astype(np.float32)),
    )


def integrated_gradients(
    model: GraphSAGE | SageBagModel,
    graph: GraphData,
    targets: np.ndarray,
    readout: EmbeddingReadout,
    use_identifiers: bool,
    steps: int = IG_STEPS,
    batch: int = IG_BATCH,
    rule: PathRule = "gauss-legendre",
    progress: Callable[[int], None] | None = None,
    operators: list[torch.Tensor] | None = None,
    max_neighbours: int | None = None,
) -> Iterator[NodeAttributions]:
    """Attributions ``x * sum_s w_s grad(alpha_s x)`` over each target's ``num_layers``-hop
    neighbourhood (the target included), by Integrated Gradients from ``x = 0``
    (:func:`path_points`: ``steps`` points by ``rule``),
    one :class:`NodeAttributions` per pass of ``batch`` targets (``target`` counts from the
    first of ``targets``). A caller that reduces each pass (the reasons sum rows into units)
    never holds every row's ``[F]`` values at once; :meth:`NodeAttributions.concatenate`
    joins them.

    The model reads ``x`` only through its members' input layers ``u = x W^T + b``, so at
    ``alpha * x`` it reads ``alpha * (x W^T) + b``, and the gradient with respect to ``x`` is
    ``(grad_u) W``. Each member runs forward once per window of :data:`IG_WINDOW` targets,
    on the union of their receptive fields and every step at once
    (:func:`gnn.pullback.shared_forward`). Each pass lays its targets' receptive fields side
    by side, each its own copy (:func:`gnn.receptive.plan_blocks`), and runs the backward
    pass on the copies (:func:`gnn.pullback.path_gradient`), so no target's gradient
    reaches another's. ``readout(embeddings, target_index) -> [B, steps]`` gives one scalar
    per target and step from each member's embedding at the targets (``target_index``
    counts from the first target). ``operators``: :func:`gnn.train.graph_operators` of the
    graph, when the caller keeps them."""
    if operators is None:
        operators = graph_operators(
            graph, use_identifiers=use_identifiers, max_neighbours=max_neighbours
        )
    model.eval()
    parts = model.parts
    x_all = graph.data.x
    path = path_points(steps, rule)
    weights = [part.input.weight.detach() for part in parts]  # each [P, F]
    projected = [x_all @ w.T for w in weights]  # each [N, P], once per graph node
    targets = np.asarray(targets, dtype=np.int64)
    num_layers = len(parts[0].convs)
    reach = ScipyOperators.of(operators)  # once for every plan below
    for first in range(0, len(targets), IG_WINDOW):
        window = targets[first : first + IG_WINDOW]
        union = union_plan(reach, window, num_layers)
        forwards = [
            shared_forward(part, union, window, p, path)
            for part, p in zip(parts, projected, strict=True)
        ]
        for start in range(0, len(window), batch):
            chunk = window[start : start + batch]
            plan, owner = plan_blocks(reach, chunk, num_layers)
            at = copy_positions(union, plan)
            embeddings = [
                f.embeddings[start : start + len(chunk)].clone().requires_grad_(True)
                for f in forwards
            ]
            which = np.arange(first + start, first + start + len(chunk))
            with torch.enable_grad():
                grads = torch.autograd.grad(readout(embeddings, which).sum(), embeddings)
            # [K, F]: linear, so the integral over the path commutes with W; each member's
            # product added in place.
            path_grad = torch.zeros((len(plan.input_rows), x_all.shape[1]))
            for part, f, g, w in zip(parts, forwards, grads, weights, strict=True):
                path_grad.addmm_(path_gradient(part, f, plan, at, g), w)
            rows = torch.from_numpy(plan.input_rows)
            values = path_grad.mul_(x_all.index_select(0, rows)).numpy()
            yield NodeAttributions(owner + first + start, plan.input_rows, values)
            if progress is not None:
                progress(len(chunk))


def gnn_readout(model: GraphSAGE | SageBagModel) -> EmbeddingReadout:
    """Readout for GraphSAGE: the logit of each target."""

    def read(embeddings: list[torch.Tensor], _which: np.ndarray) -> torch.Tensor:
        return model.logit_of(embeddings)

    return read


def hybrid_readout(
    model: GraphSAGE | SageBagModel, shap: np.ndarray, embedding: np.ndarray, mean: np.ndarray
) -> EmbeddingReadout:
    """Readout for the hybrid's embedding part: the local linearisation of the trees in the
    embedding, ``sum_d w_d (e_d - mean_d)`` with ``w_d = phi_d / (e_d - mean_d)`` (damped),
    so its attributions add up to about the embedding's TreeSHAP total. ``shap`` and
    ``embedding`` are ``[T, D]`` for the targets in the order they are explained."""
    deviation = embedding - mean
    w = torch.from_numpy((shap * deviation / (deviation**2 + 1e-3)).astype(np.float32))
    centre = torch.from_numpy(mean.astype(np.float32))

    def read(embeddings: list[torch.Tensor], which: np.ndarray) -> torch.Tensor:
        e = model.embedding_of(embeddings)  # [B, steps, D]
        return ((e - centre) * w[torch.from_numpy(which)].unsqueeze(1)).sum(-1)

    return read


# --- from attributions to reasons -------------------------------------------------------------


#: Relation code of each unit (``_SELF`` for the business's own topics).
_UNIT_RELATION = np.asarray([("self", *RELATIONS).index(relation) for relation, _ in UNITS])


#: ``(key, node, value)``: named counterparties' pulls on a target's unit, keyed
#: ``target * len(UNITS) + unit`` (one entry per key and node).
Pulls = tuple[np.ndarray, np.ndarray, np.ndarray]


def pulls_on_units(
    target: np.ndarray, node: np.ndarray, relation: np.ndarray, pulls: np.ndarray,
    picked: np.ndarray,
) -> Pulls:  # fmt: skip
    """The neighbours' Integrated-Gradients pulls on each target's ``picked [T, U]`` units,
    from rows ``target [R]``, ``node [R]``, ``relation [R]`` (the row's relation code to its
    target) and ``pulls [R, U]``: a neighbour counts toward the units of its own relation
    only (a supplier's pull on a buyers unit, through the buyers it shares, does not make it
    a buyer)."""
    # Only rows whose relation has a picked unit for their target (most have none). Rows
    # come target by target; no BLAS product here (its thread pool fights torch's).
    first, last = int(target[0]), int(target[-1]) + 1
    codes = range(1 + len(RELATIONS))
    by_relation = np.stack(
        [picked[first:last, code == _UNIT_RELATION].any(axis=1) for code in codes], axis=1
    )
    candidates = np.flatnonzero(by_relation[target - first, relation] & (relation != _SELF))
    own = picked[target[candidates]] & (relation[candidates, None] == _UNIT_RELATION[None, :])
    hit, unit = np.nonzero(own)
    row = candidates[hit]
    key = target[row].astype(np.int64) * len(UNITS) + unit
    return key, node[row], pulls[row, unit].astype(np.float64)


def named_counterparties(*parts: Pulls) -> dict[int, list[int]]:
    """Per key, the up to ``MAX_NAMED`` counterparties whose pulls, summed over ``parts``
    (the trees' and the GraphSAGE's, in that order), raise the unit most: largest first,
    ties to the lower graph position."""
    key, node, value = (np.concatenate(c) for c in zip(*parts, strict=True))
    if not len(key):
        return {}
    order = np.lexsort((node, key))  # stable: within a (key, node), the parts in order
    key, node, value = key[order], node[order], value[order]
    first = np.flatnonzero(np.r_[True, (key[1:] != key[:-1]) | (node[1:] != node[:-1])])
    key, node, value = key[first], node[first], np.add.reduceat(value, first)
    positive = value > 0
    key, node, value = key[positive], node[positive], value[positive]
    # Within a key the entries are in graph order, so ties go to the lower position.
    top = _top_per_row(key, value, MAX_NAMED)
    named: dict[int, list[int]] = {}
    for k, n in zip(key[top].tolist(), node[top].tolist(), strict=True):
        named.setdefault(k, []).append(n)
    return named


@dataclass
class _Evidence:
    """Everything the sentences of one explain call read."""

    targets: np.ndarray
    values: np.ndarray  # raw features [N, F] in graph order
    column: dict[str, int]
    names: list[str]  # business id per graph position
    typical: dict[str, float]
    trade: TradeIndex
    currency: str
    shap: np.ndarray | None = None  # [T, F_trees]
    tree_columns: list[str] | None = None
    graph_pulls: Pulls | None = None
    gnn_columns: list[str] | None = None
    unit_columns: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )
    #: Per ``target * len(UNITS) + unit``, the counterparties its detail names.
    named: dict[int, list[int]] = field(default_factory=dict)
    #: Kept across the sentences: a business's shares serve each of its reasons about the
    #: same relation, and a large counterparty's fact is named in many businesses' details.
    _shares: dict[tuple[str, int], dict[int, float]] = field(default_factory=dict)
    _facts: dict[tuple[bool, str, int], str] = field(default_factory=dict)

    def value(self, node: int) -> Callable[[str], float]:
        row = self.values[node]
        return lambda name: float(row[self.column[name]]) if name in self.column else 0.0

    def shares(self, relation: str, target: int) -> dict[int, float]:
        """Each buyer's (or supplier's) share of ``target``'s sales (or purchases)."""
        key = (relation, target)
        if key not in self._shares:
            partners, gmv = self.trade.partners(relation, target)
            total = max(gmv.sum(), 1e-12)
            self._shares[key] = dict(zip(partners.tolist(), (gmv / total).tolist(), strict=True))
        return self._shares[key]

    def fact(self, relation: str, concern: str, node: int) -> str:
        """:func:`counterparty_fact` of ``node`` (it reads only whether it is a supplier)."""
        key = (relation == "suppliers", concern, node)
        if key not in self._facts:
            self._facts[key] = counterparty_fact(relation, concern, self.value(node), self.currency)
        return self._facts[key]


def _top_units(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(order [T, k], raises [T, k])``: per row, the ``k`` largest units (ties in catalogue
    order) and which of them raise risk."""
    order = np.argsort(-np.round(contributions, 9), axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(contributions, order, axis=1) > 1e-6


def rank_units(contributions: np.ndarray, k: int = MAX_REASONS) -> list[np.ndarray]:
    """Per row of ``[T, U]``, the indices of up to ``k`` units that raise risk, largest first
    (ties in catalogue order)."""
    order, raises = _top_units(contributions, k)
    return [row[keep] for row, keep in zip(order, raises, strict=True)]


def picked_units(contributions: np.ndarray, k: int = MAX_REASONS) -> np.ndarray:
    """``[T, U]``: the units :func:`rank_units` picks, as a mask."""
    order, raises = _top_units(contributions, k)
    picked = np.zeros(contributions.shape, dtype=bool)
    rows = np.broadcast_to(np.arange(len(order))[:, None], order.shape)
    picked[rows[raises], order[raises]] = True
    return picked


def _unit_columns(
    ev: _Evidence, unit: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree columns that count toward ``unit``, the raw feature each averages over the
    counterparties (-1 for an aggregate without one, such as a share distressed) and that
    feature's training median; computed once per unit."""
    cached = ev.unit_columns.get(unit)
    if cached is None:
        columns = ev.tree_columns or []
        in_unit = np.flatnonzero(_unit_matrix(tuple(columns), "self")[:, UNIT_INDEX[unit]])
        keys = [
            columns[c].split("_wmean_", 1)[1] if "_wmean_" in columns[c] else "" for c in in_unit
        ]
        key_index = np.asarray([ev.column.get(k, -1) for k in keys], dtype=np.int64)
        typical = np.asarray([ev.typical.get(k, 0.0) for k in keys])
        cached = ev.unit_columns[unit] = (in_unit, key_index, typical)
    return cached


def _top_per_row(rows: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``values`` within each ``rows`` group, group by group and
    largest first (ties in their input order)."""
    order = np.lexsort((-values, rows))
    rows_sorted = rows[order]
    starts = np.flatnonzero(np.r_[True, rows_sorted[1:] != rows_sorted[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return order[rank < k]


def named_by_trees(ev: _Evidence, chosen: list[np.ndarray]) -> Pulls:
    """For every chosen counterparty unit of the trees, its partners' shares of the
    contribution, all targets at once: each aggregate's contribution is split by
    ``share * (value - typical)`` (by share alone for aggregates without a raw feature, or
    when the pulls cancel out). Keeps the ``2 * MAX_NAMED`` largest per (target, unit)."""
    out: list[Pulls] = []
    if ev.shap is None:
        return _no_pulls()
    picked = np.zeros((len(chosen), len(UNITS)), dtype=bool)
    for i, units in enumerate(chosen):
        picked[i, units] = True
    for relation in ("buyers", "suppliers"):
        shares = ev.trade.sales if relation == "buyers" else ev.trade.purchases
        totals = np.asarray(shares.sum(axis=1)).ravel()
        for concern_unit in (u for u in UNITS if u[0] == relation):
            u = UNIT_INDEX[concern_unit]
            idx = np.flatnonzero(picked[:, u])
            if not len(idx):
                continue
            columns, keys, typical = _unit_columns(ev, concern_unit)
            sub = shares[ev.targets[idx]].tocoo()
            share = sub.data / np.maximum(totals[ev.targets[idx]][sub.row], 1e-12)
            values = ev.values[:, np.maximum(keys, 0)] - typical  # [N, C]
            pull = share[:, None] * values[sub.col]  # [nnz, C]
            total = np.zeros((len(idx), len(columns)))
            np.add.at(total, sub.row, pull)
            usable = (keys >= 0)[None, :] & (np.abs(total) > 1e-12)
            weights = np.where(
                usable[sub.row], pull / np.where(usable, total, 1.0)[sub.row], share[:, None]
            )
            split = (weights * ev.shap[idx][:, columns][sub.row]).sum(axis=1)
            top = _top_per_row(sub.row, split, 2 * MAX_NAMED)
            key = idx[sub.row[top]].astype(np.int64) * len(UNITS) + u
            out.append((key, sub.col[top].astype(np.int64), split[top]))
    return tuple(np.concatenate(c) for c in zip(*out, strict=True)) if out else _no_pulls()  # type: ignore[return-value]


def _no_pulls() -> Pulls:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, np.zeros(0)


def _reason(ev: _Evidence, i: int, u: int, contribution: float) -> Reason:
    unit = UNITS[u]
    relation, concern = unit
    target = int(ev.targets[i])
    code = code_of(unit)
    weight = f"(+{contribution:.2f} to the log-odds)"
    if relation == "self":
        text = applicant_sentence(unit, ev.value(target), ev.currency)
        return Reason(code, text, f"{text} {weight}", contribution)
    chosen = ev.named.get(i * len(UNITS) + u, [])
    share = None
    shares: dict[int, float] = {}
    if relation in ("buyers", "suppliers"):
        shares = ev.shares(relation, target)
        if not chosen:  # no single partner stands out: the largest ones carry it
            chosen = sorted(shares, key=lambda p: (-shares[p], p))[:MAX_NAMED]
        share = sum(shares.get(node, 0.0) for node in chosen)
    text = applicant_sentence(unit, ev.value(target), ev.currency, share)
    whose = {"buyers": "sales", "suppliers": "purchases"}.get(relation, "")
    facts = []
    for node in chosen:
        held = f", {percent(shares[node])} of its {whose}" if node in shares else ""
        facts.append(f"{ev.names[node]}{held}: {ev.fact(relation, concern, node)}")
    detail = f"{text}. " + ("; ".join(facts) if facts else "no single business stands out")
    return Reason(code, text, f"{detail} {weight}", contribution)


def explain(
    artefact: Artefact,
    features: pd.DataFrame,
    graph: GraphData,
    targets: np.ndarray,
    pairs: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
    *,
    currency: str = "USD",
    steps: int = IG_STEPS,
    rule: PathRule = "gauss-legendre",
    cache: GraphCache | None = None,
) -> list[list[Reason]]:
    """Reasons for the businesses at graph positions ``targets`` (``features`` rows are in
    graph order), from the artefact's champion: up to ``MAX_REASONS`` per target, largest
    first. ``pairs``: ``seller_id, buyer_id, gmv`` over the features' year; ``currency``:
    the unit amounts are written in; ``steps`` and ``rule``: the Integrated-Gradients path
    (:func:`path_points`); ``cache``: kept between calls on the same graph."""
    targets = np.asarray(targets, dtype=np.int64)
    ids = pd.Index(features.index.astype(str))
    cache = cache if cache is not None else GraphCache()
    if cache.trade is None:
        cache.trade = TradeIndex.build(ids, pairs, graph)
    ev = _Evidence(
        targets=targets,
        values=features.to_numpy(np.float64),
        column={c: j for j, c in enumerate(features.columns)},
        names=ids.tolist(),
        typical=artefact.typical,
        trade=cache.trade,
        currency=currency,
    )
    contributions = np.zeros((len(targets), len(UNITS)))
    kind = artefact.champion
    if kind in ("trees_own", "trees_own_cp", "hybrid"):
        columns = list(artefact.tree_columns)
        matrix = features[artefact.feature_columns if kind == "hybrid" else columns]
        matrix = matrix.to_numpy(np.float64)[targets]
        if kind == "hybrid":
            matrix = np.hstack([matrix, _embedding(artefact, graph, cache)[targets]])
        ev.shap, ev.tree_columns = tree_contributions(artefact.trees, matrix), columns
        contributions += ev.shap @ unit_matrix(columns)
        if kind != "hybrid" and progress is not None:
            progress(len(targets))
    if kind in ("graphsage", "hybrid"):
        _graph_evidence(ev, artefact, graph, contributions, progress, (steps, rule), cache)
    chosen = rank_units(contributions)
    ev.named = named_counterparties(named_by_trees(ev, chosen), ev.graph_pulls or _no_pulls())
    return [
        [_reason(ev, i, int(u), float(contributions[i, u])) for u in units]
        for i, units in enumerate(chosen)
    ]


def _embedding(artefact: Artefact, graph: GraphData, cache: GraphCache) -> np.ndarray:
    if cache.embedding is None:
        cache.embedding = _sage(artefact).embed(graph)
    return cache.embedding


def _sage(artefact: Artefact) -> TrainedSAGE:
    if artefact.sage is None:
        raise ValueError(f"a {artefact.champion} model needs its GraphSAGE part to be explained")
    return artefact.sage


def _graph_evidence(
    ev: _Evidence,
    artefact: Artefact,
    graph: GraphData,
    contributions: np.ndarray,
    progress: Callable[[int], None] | None,
    path: tuple[int, PathRule],
    cache: GraphCache,
) -> None:
    """Integrated Gradients of the GraphSAGE part, added to ``contributions`` in place."""
    sage = _sage(artefact)
    model = sage.model
    if artefact.champion == "graphsage":
        readout = gnn_readout(model)
    else:
        n_raw = len(artefact.feature_columns)
        emb_cols = list(artefact.tree_columns)[n_raw:]
        mean = np.asarray([artefact.typical.get(c, 0.0) for c in emb_cols], dtype=np.float64)
        embedding = _embedding(artefact, graph, cache)[ev.targets]
        readout = hybrid_readout(model, ev.shap[:, n_raw:], embedding, mean)  # type: ignore[index]
    config = sage.sage_config
    if cache.operators is None:
        cache.operators = graph_operators(
            graph, use_identifiers=config.use_identifiers, max_neighbours=config.max_neighbours
        )
    ev.gnn_columns = list(sage.scaler.columns)
    # Torch's thread pool, the one the attributions run on: numpy's BLAS pool competes with
    # it for the cores right after and took ten times longer.
    matrices = [
        torch.from_numpy(unit_matrix(ev.gnn_columns, r).astype(np.float32))
        for r in ("self", *RELATIONS)
    ]
    picked = np.zeros(contributions.shape, dtype=bool)
    kept: list[Pulls] = []
    with torch.enable_grad():
        passes = integrated_gradients(
            model, graph, ev.targets, readout, config.use_identifiers, steps=path[0],
            rule=path[1], progress=progress, operators=cache.operators,
            max_neighbours=config.max_neighbours,
        )  # fmt: skip
        for part in passes:
            kept.append(_reduce_pass(ev, part, matrices, contributions, picked))
    if kept:
        ev.graph_pulls = tuple(np.concatenate(k) for k in zip(*kept, strict=True))  # type: ignore[assignment]


def _reduce_pass(
    ev: _Evidence,
    part: NodeAttributions,
    matrices: list[torch.Tensor],
    contributions: np.ndarray,
    picked: np.ndarray,
) -> Pulls:
    """One pass of Integrated Gradients into units: each row ``[F] -> [U]`` by the unit
    matrix of its relation to its target (linear, so a target's contribution is the sum of
    its rows' pulls), added to ``contributions`` in place. A pass holds its targets' rows
    whole, so their contributions are final here: their reasons are ranked now (as
    :func:`explain` ranks them after), and only the pulls on those units are kept
    (:func:`pulls_on_units`), so no pass's ``[R, F]`` or ``[R, U]`` outlives it."""
    relation = ev.trade.relation_codes(ev.targets[part.target], part.node)
    values = torch.from_numpy(part.values)
    pulls = torch.empty((len(relation), len(UNITS)), dtype=values.dtype)
    for code, matrix in enumerate(matrices):
        rows = torch.from_numpy(np.flatnonzero(relation == code))
        pulls[rows] = values[rows] @ matrix
    span = slice(int(part.target[0]), int(part.target[-1]) + 1)  # rows come target by target
    totals = torch.zeros((span.stop - span.start, len(UNITS)), dtype=torch.float64)
    totals.index_add_(0, torch.from_numpy(part.target - span.start), pulls.double())
    contributions[span] += totals.numpy()
    picked[span] = picked_units(contributions[span])
    return pulls_on_units(part.target, part.node, relation, pulls.numpy(), picked)
