"""Snapshot frames plus point-in-time features -> a PyG ``Data`` graph.

Nodes are every business in the feature frame (all registered before ``as_of``). Trade is kept
directed: ``edge_index`` runs seller -> buyer (one edge per trading pair, orders before
``as_of`` with their status as it stood then, cancelled orders excluded from GMV). The model
reads it in both directions as two relations:

* ``buys_from`` — a node aggregates its sellers (messages along seller -> buyer);
* ``sells_to`` — a node aggregates its buyers (messages along buyer -> seller).

An optional third relation, ``shares_identifier``, links businesses that share a hashed
identifier (hub identifiers shared by many businesses are left out).

Edge weights are raw GMV (or log GMV / order count); the convolution turns them into a
weighted mean per node and direction, so with ``"gmv"`` a neighbour's weight is its trade share.
Features are standardised by a :class:`FeatureScaler` fitted on training nodes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from loaders.columns import HUB_THRESHOLD
from loaders.point_in_time import trade_pairs
from loaders.positions import member, positions

EdgeWeighting = Literal["gmv", "log_gmv", "orders", "none"]
RELATIONS: tuple[str, ...] = ("buys_from", "sells_to", "shares_identifier")


class Frames(Protocol):
    """Anything holding the four snapshot frames (``graph.snapshot.Snapshot`` or synthetic),
    read-only."""

    @property
    def businesses(self) -> pd.DataFrame: ...
    @property
    def identifiers(self) -> pd.DataFrame: ...
    @property
    def orders(self) -> pd.DataFrame: ...
    @property
    def outcomes(self) -> pd.DataFrame: ...


@dataclass
class SnapshotFrames:
    """The four contract frames as of one score date; interchangeable with a Neo4j snapshot."""

    businesses: pd.DataFrame
    identifiers: pd.DataFrame
    orders: pd.DataFrame
    outcomes: pd.DataFrame
    as_of: pd.Timestamp | None = None
    #: Credit events (``loaders.columns.CREDIT_EVENT_COLUMNS``); features read only those
    #: strictly before their score date.
    credit_events: pd.DataFrame | None = None


@dataclass
class FeatureScaler:
    """Signed-log then z-score per column; NaN -> training median. Fitted on training rows only.

    Stored as plain lists so a model artefact can save it as JSON and score new businesses.
    """

    columns: list[str]
    median: list[float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    @staticmethod
    def _signed_log(values: np.ndarray) -> np.ndarray:
        return np.sign(values) * np.log1p(np.abs(values))

    def fit(self, frame: pd.DataFrame) -> FeatureScaler:
        """Fit on ``frame[columns]`` (the training nodes)."""
        values = self._signed_log(frame[self.columns].to_numpy(dtype=np.float64, na_value=np.nan))
        median = np.nanmedian(values, axis=0) if len(values) else np.zeros(len(self.columns))
        median = np.where(np.isnan(median), 0.0, median)
        filled = np.where(np.isnan(values), median, values)
        std = filled.std(axis=0) if len(values) else np.ones(len(self.columns))
        self.median = median.tolist()
        self.mean = (filled.mean(axis=0) if len(values) else np.zeros(len(self.columns))).tolist()
        self.std = np.where(std < 1e-9, 1.0, std).tolist()
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """``[len(frame), len(columns)]`` float32; columns missing from ``frame`` raise."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise KeyError(f"feature columns missing from the frame: {missing}")
        values = self._signed_log(frame[self.columns].to_numpy(dtype=np.float64, na_value=np.nan))
        values = np.where(np.isnan(values), np.asarray(self.median), values)
        return ((values - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def to_dict(self) -> dict[str, list[Any]]:
        return {"columns": self.columns, "median": self.median, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, payload: dict[str, list[Any]]) -> FeatureScaler:
        return cls(
            columns=list(payload["columns"]),
            median=list(payload["median"]),
            mean=list(payload["mean"]),
            std=list(payload["std"]),
        )


def pairs_of(
    frames: Frames, as_of: pd.Timestamp, *, since: pd.Timestamp | None = None
) -> pd.DataFrame:
    """:func:`loaders.point_in_time.trade_pairs` of ``frames``' orders, computed where the
    frames live when they can (a Spark snapshot aggregates in Spark and hands the driver the
    pairs, never every order)."""
    own = getattr(frames, "trade_pairs", None)
    if own is not None:
        return own(as_of, since=since)
    return trade_pairs(frames.orders, as_of, since=since)


def identifier_pairs(identifiers: pd.DataFrame, known: pd.Index, max_sharing: int) -> np.ndarray:
    """Undirected pairs ``[2, P]`` of positions in ``known`` that share an identifier used by at
    most ``max_sharing`` businesses (larger groups are hubs: call centres, marketplaces)."""
    ids = identifiers.loc[member(identifiers["business_id"], known), ["business_id", "id_hash"]]
    ids = ids.drop_duplicates()
    sizes = ids.groupby("id_hash")["business_id"].transform("size")
    ids = ids[(sizes > 1) & (sizes <= max_sharing)]
    if ids.empty:
        return np.zeros((2, 0), dtype=np.int64)
    ids = ids.assign(pos=positions(ids["business_id"], known))
    joined = ids.merge(ids, on="id_hash", suffixes=("_a", "_b"))
    joined = joined[joined["pos_a"] != joined["pos_b"]]
    pairs = joined[["pos_a", "pos_b"]].drop_duplicates().to_numpy(dtype=np.int64).T
    return pairs


@dataclass
class GraphData:
    """A PyG graph plus the maps that tie its rows to business ids.

    ``data`` holds ``x [N, F]``, ``edge_index [2, E]`` (seller -> buyer), ``edge_weight [E]``,
    ``id_edge_index [2, P]`` (both directions), ``y [N]`` (float, NaN where unlabelled),
    ``thin [N]`` (bool: registered < 90 days before ``as_of``).
    """

    data: Data
    business_ids: pd.Index
    as_of: pd.Timestamp

    def index_of(self, business_ids: pd.Index | list[str]) -> np.ndarray:
        """Row positions of ``business_ids``; -1 where the business is not in the graph."""
        return self.business_ids.get_indexer(pd.Index(business_ids))

    @property
    def labelled(self) -> np.ndarray:
        """Row positions with a label, ascending."""
        return np.flatnonzero(~torch.isnan(self.data.y).numpy())


def edge_weights(pairs: pd.DataFrame, weighting: EdgeWeighting) -> np.ndarray:
    """Raw per-pair weights; the convolution normalises them per node and direction."""
    if weighting == "gmv":
        weight = pairs["gmv"].to_numpy(dtype=np.float64)
    elif weighting == "log_gmv":
        weight = np.log1p(pairs["gmv"].to_numpy(dtype=np.float64))
    elif weighting == "orders":
        weight = pairs["orders"].to_numpy(dtype=np.float64)
    elif weighting == "none":
        weight = np.ones(len(pairs))
    else:
        raise ValueError(f"unknown edge weighting {weighting!r}: use gmv, log_gmv, orders or none")
    # An all-cancelled pair still shows that the two traded: keep a small floor.
    return np.maximum(weight, 1e-3).astype(np.float32)


def build_graph(
    frames: Frames,
    features: pd.DataFrame,
    scaler: FeatureScaler,
    as_of: pd.Timestamp,
    target: str | None = None,
    weighting: EdgeWeighting = "gmv",
    max_identifier_sharing: int = HUB_THRESHOLD,
    thin_file_days: int = 90,
) -> GraphData:
    """Build the graph as of ``as_of`` from snapshot frames and ``features`` (indexed by
    ``business_id``, one row per node). ``scaler`` must already be fitted (on training nodes).
    ``target`` (``defaulted`` or ``fraud``) fills ``y`` from outcomes dated ``as_of``."""
    business_ids = pd.Index(features.index.astype(str), name="business_id")
    x = torch.from_numpy(scaler.transform(features))

    pairs = pairs_of(frames, as_of)
    src = positions(pairs["seller_id"], business_ids)
    dst = positions(pairs["buyer_id"], business_ids)
    keep = (src >= 0) & (dst >= 0) & (src != dst)
    weight = edge_weights(pairs, weighting)[keep]
    edge_index = torch.from_numpy(np.stack([src[keep], dst[keep]]).astype(np.int64))

    id_pairs = identifier_pairs(frames.identifiers, business_ids, max_identifier_sharing)

    y = np.full(len(business_ids), np.nan, dtype=np.float32)
    if target is not None:
        outcomes = frames.outcomes
        if "as_of" in outcomes.columns:
            outcomes = outcomes[outcomes["as_of"] == as_of]
        outcomes = outcomes[outcomes[target].notna()]
        pos = business_ids.get_indexer(outcomes["business_id"].astype(str))
        y[pos[pos >= 0]] = outcomes[target].to_numpy(dtype=np.float32)[pos >= 0]

    registered = frames.businesses.set_index(frames.businesses["business_id"].astype(str))
    registered_at = registered["registered_at"].reindex(business_ids)
    thin = (registered_at >= as_of - pd.Timedelta(days=thin_file_days)).to_numpy(dtype=bool)

    data = Data(
        x=x,
        edge_index=edge_index,
        edge_weight=torch.from_numpy(weight),
        id_edge_index=torch.from_numpy(id_pairs),
        y=torch.from_numpy(y),
        thin=torch.from_numpy(thin.copy()),
        num_nodes=len(business_ids),
    )
    return GraphData(data=data, business_ids=business_ids, as_of=as_of)
