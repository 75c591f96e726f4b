"""Reason codes: up to four ranked, readable reasons per business, derived from the champion.

Attributions come from the model itself, never from a rule list:

* LightGBM (``trees_own``, ``trees_own_cp`` and the tree part of ``hybrid``): TreeSHAP
  contributions (``pred_contrib``). A counterparty aggregate such as
  ``buyers_wmean_seller_refund_rate`` is a trade-share weighted mean of the buyers' own values,
  so its contribution is split over those buyers by ``share * (value - typical)``, which names
  the counterparties that weigh most.
* GraphSAGE (``graphsage``, and the embedding part of ``hybrid``): Integrated Gradients with
  torch autograd, from the all-typical input (0 after scaling) to the real one, on each
  business's own ``num_layers``-hop neighbourhood. That neighbourhood holds everything the
  model's output for the business depends on, so the attribution is exact and changes elsewhere
  in the graph cannot move it. Attributions on a neighbour's features become counterparty
  reasons (its buyers, suppliers, businesses sharing an identifier, or the wider network).

Contributions (log-odds of default) are summed into feature groups (:data:`GROUPS`), ranked, and
the positive ones (those that raise risk) become texts via per-group templates.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from gnn.conv import relation_adjacency
from gnn.data import GraphData

MAX_REASONS = 4
#: Counterparties named per counterparty reason.
MAX_NAMED = 3
#: Integrated-Gradients interpolation steps.
IG_STEPS = 6
RELATIONS = ("buyers", "suppliers", "shared", "network")


@dataclass(frozen=True)
class Group:
    """A feature group: its label in texts, the feature whose value a text quotes, its format."""

    name: str
    label: str
    lead: str
    unit: str  # pct | money | growth | days | count | ratio | plain
    pattern: str


GROUPS: tuple[Group, ...] = (
    Group("sales_volume", "sales volume", "seller_gmv_365d", "money", r"seller_(orders|gmv)_\d+d"),
    Group("sales_trend", "sales growth", "seller_gmv_growth", "growth", r"seller_gmv_growth"),
    Group("purchase_volume", "purchase volume", "buyer_gmv_365d", "money",
          r"buyer_(orders|gmv)_\d+d"),
    Group("purchase_trend", "purchase growth", "buyer_gmv_growth", "growth", r"buyer_gmv_growth"),
    Group("refunds", "refund rate on sales", "seller_refund_rate", "pct", r"seller_refund_rate"),
    Group("sales_disputes", "dispute rate on sales", "seller_dispute_rate", "pct",
          r"seller_dispute_rate"),
    Group("sales_cancellations", "cancellation rate on sales", "seller_cancel_rate", "pct",
          r"seller_cancel_rate"),
    Group("purchase_disputes", "dispute rate on purchases", "buyer_dispute_rate", "pct",
          r"buyer_dispute_rate"),
    Group("purchase_cancellations", "cancellation rate on purchases", "buyer_cancel_rate", "pct",
          r"buyer_cancel_rate"),
    Group("customer_concentration", "share of sales to the largest customer", "seller_top_share",
          "pct", r"seller_(counterparties|hhi|top_share)"),
    Group("supplier_concentration", "share of purchases from the largest supplier",
          "buyer_top_share", "pct", r"buyer_(counterparties|hhi|top_share)"),
    Group("sales_regularity", "days since the last sale", "seller_days_since_last", "days",
          r"seller_(gap_cv|days_since_last)"),
    Group("purchase_regularity", "days since the last purchase", "buyer_days_since_last", "days",
          r"buyer_(gap_cv|days_since_last)"),
    Group("tenure", "time on the marketplace", "tenure_days", "days",
          r"tenure_days|is_thin_file"),
    Group("profile", "declared size", "log_employees", "plain",
          r"is_enterprise|is_consumer|log_employees|log_declared_revenue|declared_missing"),
    Group("sales_vs_declared", "sales against declared revenue", "sales_to_declared", "ratio",
          r"sales_to_declared"),
    Group("shared_identifiers", "number of businesses sharing its phone, device, address or bank",
          "shared_id_businesses", "count",
          r"shared_id_businesses|shared_id_types|max_identifier_degree"),
)  # fmt: skip
_CP_PREFIX = re.compile(r"^(buyers|suppliers)_wmean_(.+)$")


@lru_cache(maxsize=4096)
def group_of(feature: str) -> Group:
    """The group of an own feature (a group of its own when no pattern matches)."""
    for group in GROUPS:
        if re.fullmatch(group.pattern, feature):
            return group
    return Group(feature, feature.replace("_", " "), feature, "plain", re.escape(feature))


def split_counterparty(feature: str) -> tuple[str, str] | None:
    """``("buyers"|"suppliers", own key)`` for a counterparty aggregate, else ``None``."""
    match = _CP_PREFIX.match(feature)
    return (match.group(1), match.group(2)) if match else None


def _fmt(value: float, unit: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    if unit == "pct":
        return f"{value:.1%}"
    if unit == "money":
        return f"{np.expm1(value):,.0f}"
    if unit == "growth":
        return f"{np.expm1(value):+.0%}"
    if unit in ("days", "count"):
        return f"{value:,.0f}"
    if unit == "ratio":
        return f"x{np.exp(value):.2f}"
    return f"{value:.2f}"


@dataclass
class Unit:
    """One candidate reason: a feature group of the business itself (``relation`` None) or of
    its counterparties in one relation, with its contribution and the counterparties' weights."""

    group: Group
    relation: str | None
    contribution: float = 0.0
    by_counterparty: dict[int, float] = field(default_factory=dict)


@dataclass
class ReasonContext:
    """What texts need: raw features (row per graph node), typical values, ids and trade
    shares. ``sales``/``purchases`` map a business position to ``{counterparty: gmv}``."""

    features: pd.DataFrame
    typical: dict[str, float]
    business_ids: pd.Index
    sales: dict[int, dict[int, float]]
    purchases: dict[int, dict[int, float]]
    shared: dict[int, set[int]]

    def relation_of(self, target: int, other: int) -> str:
        if other in self.sales.get(target, {}):
            return "buyers"
        if other in self.purchases.get(target, {}):
            return "suppliers"
        if other in self.shared.get(target, set()):
            return "shared"
        return "network"


def reason_context(
    features: pd.DataFrame,
    typical: dict[str, float],
    pairs: pd.DataFrame,
    graph: GraphData | None = None,
) -> ReasonContext:
    """Build the context; ``pairs`` = (seller_id, buyer_id, gmv) over the features' year."""
    ids = pd.Index(features.index.astype(str))
    seller = ids.get_indexer(pairs["seller_id"].astype(str))
    buyer = ids.get_indexer(pairs["buyer_id"].astype(str))
    gmv = pairs["gmv"].to_numpy(dtype=float)
    sales: dict[int, dict[int, float]] = defaultdict(dict)
    purchases: dict[int, dict[int, float]] = defaultdict(dict)
    for s, b, g in zip(seller, buyer, gmv, strict=True):
        if s >= 0 and b >= 0 and s != b:
            sales[int(s)][int(b)] = float(g)
            purchases[int(b)][int(s)] = float(g)
    shared: dict[int, set[int]] = defaultdict(set)
    if graph is not None and graph.data.id_edge_index.numel():
        for a, b in graph.data.id_edge_index.t().tolist():
            shared[a].add(b)
    return ReasonContext(features, typical, ids, sales, purchases, shared)


# --- attributions -------------------------------------------------------------------------


def tree_contributions(booster, matrix: np.ndarray) -> np.ndarray:
    """TreeSHAP log-odds contributions ``[n, F]`` (bias column dropped) of a LightGBM model."""
    contrib = booster.predict(matrix, pred_contrib=True)
    return np.asarray(contrib)[:, :-1]


def neighbourhoods(graph: GraphData, hops: int) -> sp.csr_matrix:
    """Boolean CSR ``[N, N]``: row v marks every node within ``hops`` of v in any relation."""
    n = graph.data.num_nodes
    edges = torch.cat([graph.data.edge_index, graph.data.id_edge_index], dim=1).numpy()
    adj = sp.coo_matrix((np.ones(edges.shape[1]), (edges[0], edges[1])), shape=(n, n)).tocsr()
    adj = ((adj + adj.T + sp.identity(n, format="csr")) > 0).astype(np.float32)
    reach = adj
    for _ in range(hops - 1):
        reach = ((reach @ adj) > 0).astype(np.float32)
    return reach.tocsr()


Readout = Callable[[torch.Tensor, torch.Tensor, list[torch.Tensor], np.ndarray], torch.Tensor]


def integrated_gradients(
    model: torch.nn.Module,
    graph: GraphData,
    targets: np.ndarray,
    readout: Readout,
    use_identifiers: bool,
    steps: int = IG_STEPS,
    batch: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per target: ``(nodes [k], attributions [k, F])`` over its ``num_layers``-hop
    neighbourhood (the target itself included), by Integrated Gradients from ``x = 0``.

    Each batch stacks ``steps`` scaled copies of every target's induced subgraph into one
    block-diagonal graph, so one forward/backward pass serves ``batch * steps`` evaluations.
    ``readout(x_rows, embed_or_logits_input, adjacencies, target_rows)`` -> one scalar per
    target copy; see :func:`gnn_readout`.
    """
    data = graph.data
    hops = len(model.convs)  # type: ignore[arg-type]
    reach = neighbourhoods(graph, hops)
    x_all = data.x.numpy()
    edge_index = data.edge_index.numpy()
    weight = data.edge_weight.numpy()
    id_edges = data.id_edge_index.numpy()
    alphas = (np.arange(steps) + 0.5) / steps
    model.eval()
    results: list[tuple[np.ndarray, np.ndarray]] = []
    for start in range(0, len(targets), batch):
        chunk = targets[start : start + batch]
        xs, edges, weights, ids, target_rows, spans = [], [], [], [], [], []
        offset = 0
        for t in chunk:
            nodes = reach.indices[reach.indptr[t] : reach.indptr[t + 1]]
            local = np.full(data.num_nodes, -1, dtype=np.int64)
            local[nodes] = np.arange(len(nodes))
            keep = (local[edge_index[0]] >= 0) & (local[edge_index[1]] >= 0)
            sub_edges = local[edge_index[:, keep]]
            keep_id = (local[id_edges[0]] >= 0) & (local[id_edges[1]] >= 0)
            sub_id = local[id_edges[:, keep_id]]
            first = offset
            for alpha in alphas:
                xs.append((alpha * x_all[nodes]).astype(np.float32))
                edges.append(sub_edges + offset)
                weights.append(weight[keep])
                ids.append(sub_id + offset)
                target_rows.append(offset + local[t])
                offset += len(nodes)
            spans.append((nodes, first))
        z = torch.from_numpy(np.concatenate(xs)).requires_grad_(True)
        adjs = relation_adjacency(
            torch.from_numpy(np.concatenate(edges, axis=1)),
            torch.from_numpy(np.concatenate(weights)),
            offset,
            torch.from_numpy(np.concatenate(ids, axis=1)),
            use_identifiers=use_identifiers,
        )
        rows = np.asarray(target_rows)
        readout(z, z, adjs, rows).sum().backward()
        grad = z.grad.numpy()  # type: ignore[union-attr]
        for nodes, first in spans:
            k = len(nodes)
            mean_grad = grad[first : first + k * steps].reshape(steps, k, -1).mean(axis=0)
            results.append((nodes, x_all[nodes] * mean_grad))
        if progress is not None:
            progress(len(chunk))
    return results


def gnn_readout(model: torch.nn.Module) -> Readout:
    """Readout for GraphSAGE: the logit of each target copy."""

    def read(_x: torch.Tensor, z: torch.Tensor, adjs: list[torch.Tensor], rows: np.ndarray):
        return model(z, adjs)[torch.from_numpy(rows)]

    return read


def hybrid_readout(
    model: torch.nn.Module, shap: np.ndarray, embedding: np.ndarray, mean: np.ndarray, steps: int
) -> Readout:
    """Readout for the hybrid's embedding part: the local linearisation of the trees in the
    embedding, ``sum_d w_d (e_d - mean_d)`` with ``w_d = phi_d / (e_d - mean_d)`` (damped),
    so its attributions add up to about the embedding's TreeSHAP total. ``shap`` and
    ``embedding`` are ``[T, D]`` for the targets in the order they are explained."""
    deviation = embedding - mean
    w = shap * deviation / (deviation**2 + 1e-3)
    state = {"next": 0}

    def read(_x: torch.Tensor, z: torch.Tensor, adjs: list[torch.Tensor], rows: np.ndarray):
        n_targets = len(rows) // steps
        first = state["next"]
        state["next"] += n_targets
        weights = torch.from_numpy(np.repeat(w[first : first + n_targets], steps, axis=0))
        centre = torch.from_numpy(mean.astype(np.float32))
        e = model.embed(z, adjs)[torch.from_numpy(rows)]
        return ((e - centre) * weights.float()).sum(-1)

    return read


# --- from attributions to units and texts ---------------------------------------------------


def own_units(contrib: np.ndarray, columns: Sequence[str]) -> list[Unit]:
    """Own-feature units from contributions ``[F]`` over ``columns`` (no counterparty ones)."""
    units: dict[str, Unit] = {}
    for value, column in zip(contrib, columns, strict=True):
        if split_counterparty(column) is not None or column.startswith("emb_"):
            continue
        group = group_of(column)
        unit = units.setdefault(group.name, Unit(group, None))
        unit.contribution += float(value)
    return list(units.values())


def counterparty_units_from_trees(
    target: int, contrib: np.ndarray, columns: Sequence[str], context: ReasonContext
) -> list[Unit]:
    """Split each counterparty aggregate's contribution over the counterparties behind it."""
    units: dict[tuple[str, str], Unit] = {}
    for value, column in zip(contrib, columns, strict=True):
        parts = split_counterparty(column)
        if parts is None or value == 0.0:
            continue
        relation, key = parts
        trade = (context.sales if relation == "buyers" else context.purchases).get(target, {})
        if not trade or key not in context.features.columns:
            continue
        others = np.fromiter(trade.keys(), dtype=np.int64)
        gmv = np.fromiter(trade.values(), dtype=float)
        share = gmv / max(gmv.sum(), 1e-12)
        pull = share * (context.features[key].to_numpy()[others] - context.typical.get(key, 0.0))
        total = pull.sum()
        weights = pull / total if abs(total) > 1e-12 else share
        group = group_of(key)
        unit = units.setdefault((relation, group.name), Unit(group, relation))
        unit.contribution += float(value)
        for other, w in zip(others, weights, strict=True):
            unit.by_counterparty[int(other)] = unit.by_counterparty.get(int(other), 0.0) + float(
                value * w
            )
    return list(units.values())


def _group_matrix(columns: Sequence[str]) -> tuple[list[Group], np.ndarray]:
    """Distinct groups of ``columns`` and the one-hot ``[F, G]`` matrix mapping them."""
    groups: dict[str, Group] = {}
    member = []
    for column in columns:
        group = group_of(column)
        groups.setdefault(group.name, group)
        member.append(list(groups).index(group.name))
    matrix = np.zeros((len(columns), len(groups)))
    matrix[np.arange(len(columns)), member] = 1.0
    return list(groups.values()), matrix


def units_from_graph(
    target: int,
    nodes: np.ndarray,
    attributions: np.ndarray,
    columns: Sequence[str],
    context: ReasonContext,
) -> list[Unit]:
    """Units from GraphSAGE attributions ``[k, F]`` on the target's neighbourhood ``nodes``:
    the target's own row by group, and every other row by (relation, group), keeping the
    ``2 * MAX_NAMED`` counterparties that raise each unit most."""
    groups, matrix = _group_matrix(columns)
    by_group = attributions @ matrix  # [k, G]
    relation = np.asarray(
        ["self" if n == target else context.relation_of(target, int(n)) for n in nodes]
    )
    units: list[Unit] = []
    for rel in ("self", *RELATIONS):
        mask = relation == rel
        if not mask.any():
            continue
        rows, members = by_group[mask], nodes[mask]
        totals = rows.sum(axis=0)
        for g, group in enumerate(groups):
            unit = Unit(group, None if rel == "self" else rel, float(totals[g]))
            if rel != "self" and totals[g] > 0:
                keep = np.argsort(-rows[:, g], kind="stable")[: 2 * MAX_NAMED]
                unit.by_counterparty = {
                    int(members[i]): float(rows[i, g]) for i in keep if rows[i, g] > 0
                }
            units.append(unit)
    return units


def merge_units(units: list[Unit]) -> list[Unit]:
    """Add up units of the same (relation, group)."""
    merged: dict[tuple[str | None, str], Unit] = {}
    for unit in units:
        into = merged.setdefault((unit.relation, unit.group.name), Unit(unit.group, unit.relation))
        into.contribution += unit.contribution
        for k, v in unit.by_counterparty.items():
            into.by_counterparty[k] = into.by_counterparty.get(k, 0.0) + v
    return list(merged.values())


def _direction(value: float, typical: float) -> str:
    return "higher" if value >= typical else "lower"


def reason_text(target: int, unit: Unit, context: ReasonContext) -> str:
    """The sentence for one unit (see the module docstring for the wording rules)."""
    group = unit.group
    typical = context.typical.get(group.lead, float("nan"))
    lead = context.features[group.lead] if group.lead in context.features.columns else None
    if unit.relation is None:
        value = float(lead.iloc[target]) if lead is not None else float("nan")
        return (
            f"{group.label.capitalize()} {_direction(value, typical)} than typical: "
            f"{_fmt(value, group.unit)} vs {_fmt(typical, group.unit)}"
        )
    ranked = sorted(
        ((k, v) for k, v in unit.by_counterparty.items() if v > 0), key=lambda kv: -kv[1]
    )[:MAX_NAMED]
    named = [k for k, _ in ranked]
    names = ", ".join(context.business_ids[named]) if named else "none named"
    shown = float("nan")
    if lead is not None and named:
        shown = float(lead.to_numpy()[named].mean())
    what = f"{_direction(shown, typical)} {group.label} than typical ({_fmt(shown, group.unit)})"
    if unit.relation in ("buyers", "suppliers"):
        trade = (context.sales if unit.relation == "buyers" else context.purchases).get(target, {})
        total = sum(trade.values())
        share = sum(trade.get(k, 0.0) for k in named) / total if total > 0 else 0.0
        if unit.relation == "buyers":
            return f"Buyers receiving {share:.0%} of sales show {what}: {names}"
        return f"Suppliers providing {share:.0%} of purchases show {what}: {names}"
    if unit.relation == "shared":
        return f"Shares identifiers with businesses that show {what}: {names}"
    return f"Businesses two steps away in its trade network show {what}: {names}"


def top_reasons(
    target: int, units: list[Unit], context: ReasonContext, k: int = MAX_REASONS
) -> list[str]:
    """Up to ``k`` texts for the units that raise risk most, largest first (ties by name)."""
    ranked = sorted(
        (u for u in merge_units(units) if u.contribution > 1e-6),
        key=lambda u: (-round(u.contribution, 9), u.relation or "", u.group.name),
    )
    return [reason_text(target, unit, context) for unit in ranked[:k]]


# --- the champion, whatever it is -----------------------------------------------------------


def explain(
    artefact,
    features: pd.DataFrame,
    graph: GraphData,
    targets: np.ndarray,
    pairs: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
) -> list[list[str]]:
    """Reasons for the businesses at graph positions ``targets`` (``features`` rows are in graph
    order), from the artefact's champion. Returns one list of up to four texts per target."""
    context = reason_context(features, artefact.typical, pairs, graph)
    kind = artefact.champion
    columns = list(artefact.tree_columns)
    units: list[list[Unit]] = [[] for _ in targets]
    if kind in ("trees_own", "trees_own_cp", "hybrid"):
        matrix = features[artefact.feature_columns if kind == "hybrid" else columns]
        matrix = matrix.to_numpy(np.float64)[targets]
        if kind == "hybrid":
            embedding = artefact.sage.embed(graph)[targets]
            matrix = np.hstack([matrix, embedding])
        shap = tree_contributions(artefact.trees, matrix)
        for i, t in enumerate(targets):
            units[i] += own_units(shap[i], columns)
            units[i] += counterparty_units_from_trees(int(t), shap[i], columns, context)
        if kind != "hybrid" and progress is not None:
            progress(len(targets))
    if kind in ("graphsage", "hybrid"):
        sage = artefact.sage
        model = sage.model
        if kind == "graphsage":
            readout = gnn_readout(model)
        else:
            n_raw = len(artefact.feature_columns)
            emb_cols = [c for c in columns[n_raw:]]
            mean = np.asarray([artefact.typical.get(c, 0.0) for c in emb_cols], dtype=np.float64)
            readout = hybrid_readout(model, shap[:, n_raw:], embedding, mean, IG_STEPS)
        with torch.enable_grad():
            attributions = integrated_gradients(
                model, graph, np.asarray(targets), readout,
                sage.sage_config.use_identifiers, progress=progress,
            )  # fmt: skip
        gnn_columns = list(sage.scaler.columns)
        for i, (t, (nodes, attr)) in enumerate(zip(targets, attributions, strict=True)):
            units[i] += units_from_graph(int(t), nodes, attr, gnn_columns, context)
    return [top_reasons(int(t), u, context) for t, u in zip(targets, units, strict=True)]
