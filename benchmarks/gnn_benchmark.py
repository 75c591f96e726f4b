"""GraphSAGE speed: training epoch and full-graph inference, ours vs raw PyG, same run.

For each marketplace size (default: the default synthetic marketplace and one 10x larger) it
builds the training graph as of the first score date and times, on CPU (and CUDA when present):

* ours, full batch: 2-layer direction-aware weighted GraphSAGE (``gnn.model``), one epoch =
  forward over the whole graph + loss on the labelled rows + backward + Adam step;
* ours, mini-batch: the same model over :mod:`gnn.sampler` batches (fanout 15,10; 512 seeds);
* reference: raw PyG, 2 ``SAGEConv(mean)`` layers, 64 wide, on the same nodes and features with
  the trade edges in both directions (the same number of messages as our two relations);
* full-graph inference (no grad) for both, as businesses/second.

Run: ``python benchmarks/gnn_benchmark.py [--sizes 10000,100000] [--repeats 10] [--json f]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import SAGEConv
from torch_geometric.utils import to_undirected

from gnn.data import FeatureScaler, SnapshotFrames, build_graph
from gnn.model import GraphSAGE, SAGEConfig
from gnn.sampler import sampled_batches
from gnn.train import TrainConfig, graph_adjacencies, peak_rss_mib

DEMO_KEY = "tradegraph-DEMO-KEY-public-not-for-real-data"


class RawSAGE(nn.Module):
    """The reference: plain PyG GraphSAGE, 2 layers, mean aggregation."""

    def __init__(self, in_channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.conv1 = SAGEConv(in_channels, hidden)
        self.conv2 = SAGEConv(hidden, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv1(x, edge_index))
        h = F.relu(self.conv2(h, edge_index))
        return self.head(h).squeeze(-1)


def _timed(step: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median seconds of ``step`` after two warm-up calls."""
    times = []
    for i in range(repeats + 2):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def build(n_businesses: int):
    """Synthetic marketplace -> (graph as of the first score date, feature seconds)."""
    from loaders.features import COUNTERPARTY_FEATURES, OWN_FEATURES, compute_features
    from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames

    market = generate_marketplace(SyntheticConfig(n_businesses=n_businesses))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, DEMO_KEY)
    as_of = market.as_of_dates[0]
    frames = SnapshotFrames(businesses, identifiers, orders, outcomes, as_of)
    started = time.perf_counter()
    features = compute_features(businesses, orders, as_of, identifiers=identifiers)
    columns = OWN_FEATURES + COUNTERPARTY_FEATURES
    graph = build_graph(frames, features, FeatureScaler(columns).fit(features), as_of, "defaulted")
    return graph, time.perf_counter() - started


def bench_graph(graph, device: torch.device, repeats: int) -> dict[str, float]:
    """All timings for one graph on one device."""
    data = graph.data
    x, y = data.x.to(device), torch.nan_to_num(data.y, nan=0.0).to(device)
    labelled = torch.as_tensor(graph.labelled, device=device)
    config = SAGEConfig(hidden=64, num_layers=2)
    ours = GraphSAGE(data.num_features, config).to(device)
    started = time.perf_counter()
    adjacencies = graph_adjacencies(graph, config, device)
    adjacency_seconds = time.perf_counter() - started
    raw = RawSAGE(data.num_features).to(device)
    undirected = to_undirected(data.edge_index).to(device)
    opt_ours = torch.optim.Adam(ours.parameters(), lr=0.005)
    opt_raw = torch.optim.Adam(raw.parameters(), lr=0.005)

    def epoch(model, optimiser, *inputs) -> None:
        model.train()
        optimiser.zero_grad()
        logits = model(x, *inputs)[labelled]
        F.binary_cross_entropy_with_logits(logits, y[labelled]).backward()
        optimiser.step()

    @torch.no_grad()
    def infer(model, *inputs) -> None:
        model.eval()
        model(x, *inputs)

    ours_epoch = _timed(lambda: epoch(ours, opt_ours, adjacencies), repeats, device)
    raw_epoch = _timed(lambda: epoch(raw, opt_raw, undirected), repeats, device)
    ours_infer = _timed(lambda: infer(ours, adjacencies), repeats, device)
    raw_infer = _timed(lambda: infer(raw, undirected), repeats, device)
    pos_weight = torch.tensor(1.0, device=device)
    sampled_cfg = TrainConfig(batch_size=512, fanout=(15, 10))
    sampled_epoch = _timed(
        lambda: sampled_batches(
            ours, opt_ours, graph, graph.labelled, config, sampled_cfg, pos_weight, device
        ),
        max(1, repeats // 5),
        device,
    )
    n = data.num_nodes
    return {
        "nodes": n,
        "edges": int(data.edge_index.shape[1]),
        "labelled": len(graph.labelled),
        "adjacency_build_s": adjacency_seconds,
        "ours_epoch_ms": ours_epoch * 1e3,
        "raw_pyg_epoch_ms": raw_epoch * 1e3,
        "epoch_ratio": ours_epoch / raw_epoch,
        "ours_sampled_epoch_ms": sampled_epoch * 1e3,
        "ours_infer_ms": ours_infer * 1e3,
        "raw_pyg_infer_ms": raw_infer * 1e3,
        "ours_businesses_per_s": n / ours_infer,
        "raw_pyg_businesses_per_s": n / raw_infer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        graph, feature_seconds = build(size)
        for device in devices:
            row = {
                "n_businesses": size,
                "device": str(device),
                "features_and_graph_s": feature_seconds,
            }
            row.update(bench_graph(graph, device, args.repeats))
            row["peak_rss_mib"] = peak_rss_mib()
            results.append(row)
            print(
                json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
            )
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }
    print(json.dumps(machine))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
