"""Stacked cohorts: many score dates as one training graph, each date its own component.

RelBench builds a training table from many timestamps, one row per entity and time, each row's
inputs strictly before its time. Here a cohort is the graph as of one score date (features,
trade and identifier edges strictly before it); stacking cohorts is their disjoint union, so
message passing never crosses dates and no row sees anything on or after its own date. Node
ids become ``"<business_id>@<date>"``; the business id stays the row's group, so
cross-validation never puts one business's dates on both sides of a fold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from gnn.data import EdgeWeighting, FeatureScaler, Frames, GraphData, build_graph
from loaders.columns import as_utc

#: Separates business id and score date in a stacked node id.
SEPARATOR = "@"


@dataclass
class StackedCohorts:
    """The union graph, the stacked feature frame (indexed like the graph's nodes) and the
    business id of every node (``groups [N]``)."""

    graph: GraphData
    features: pd.DataFrame
    groups: np.ndarray
    dates: list[pd.Timestamp]


def stack_graphs(graphs: Sequence[GraphData]) -> GraphData:
    """Disjoint union of ``graphs``: node rows concatenated in order, edges offset, ids tagged
    with each graph's date. ``as_of`` of the union is the latest date."""
    offsets = np.cumsum([0, *(g.data.num_nodes for g in graphs)])
    data = Data(
        x=torch.cat([g.data.x for g in graphs]),
        edge_index=torch.cat(
            [g.data.edge_index + int(o) for g, o in zip(graphs, offsets, strict=False)], 1
        ),
        edge_weight=torch.cat([g.data.edge_weight for g in graphs]),
        id_edge_index=torch.cat(
            [g.data.id_edge_index + int(o) for g, o in zip(graphs, offsets, strict=False)], 1
        ),
        y=torch.cat([g.data.y for g in graphs]),
        thin=torch.cat([g.data.thin for g in graphs]),
        num_nodes=int(offsets[-1]),
    )
    ids = pd.Index(
        np.concatenate([tag(g.business_ids, g.as_of) for g in graphs]), name="business_id"
    )
    return GraphData(data=data, business_ids=ids, as_of=max(g.as_of for g in graphs))


def tag(business_ids: pd.Index, as_of: pd.Timestamp) -> np.ndarray:
    """``"<business_id>@<YYYY-MM-DD>"`` for every id."""
    return np.asarray(business_ids.astype(str) + f"{SEPARATOR}{as_of.date()}")


def untag(graph: GraphData) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`tag` over a graph: ``(business_id [N], score_date [N])`` of
    every node. A stacked graph's node ids are ``"<business_id>@<date>"``; a single cohort's
    are plain ids, all of the graph's own date."""
    ids = pd.Series(graph.business_ids.astype(str))
    parts = ids.str.rsplit(SEPARATOR, n=1, expand=True)
    if parts.shape[1] == 2 and parts[1].notna().all():
        dates = pd.to_datetime(parts[1], utc=True).to_numpy()
        return parts[0].to_numpy(), dates
    return ids.to_numpy(), np.full(len(ids), as_utc(graph.as_of).to_datetime64())


def stack_cohorts(
    frames: Frames | Mapping[pd.Timestamp, Frames],
    dates: Sequence[pd.Timestamp],
    features_at: Callable[[Frames, pd.Timestamp], pd.DataFrame],
    scaler: FeatureScaler,
    *,
    target: str,
    weighting: EdgeWeighting,
) -> StackedCohorts:
    """One cohort per date of ``dates`` (features from ``features_at(frames, date)``, labels
    from the outcomes dated that day), stacked. ``scaler`` must already be fitted.

    ``frames`` is one set of frames holding the whole history (every feature and edge filters
    by date) or, where attributes and identifier links have versions, a snapshot per date
    (``graph.snapshot.read_snapshot`` at each date), so a cohort sees businesses as they stood.
    """
    graphs, feature_frames = [], []
    for date in sorted(dates):
        cohort = frames[date] if isinstance(frames, Mapping) else frames
        features = features_at(cohort, date)
        graph = build_graph(cohort, features, scaler, date, target, weighting)
        graphs.append(graph)
        feature_frames.append(
            features.reindex(graph.business_ids).set_axis(tag(graph.business_ids, date))
        )
    graph = stack_graphs(graphs)
    groups = np.concatenate([np.asarray(g.business_ids.astype(str)) for g in graphs])
    return StackedCohorts(graph, pd.concat(feature_frames), groups, sorted(dates))
