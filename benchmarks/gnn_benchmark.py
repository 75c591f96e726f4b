"""GraphSAGE speed: training epoch and full-graph inference, ours vs raw PyG, same run.

For each marketplace size (default: the default synthetic marketplace and one 10x larger) it
builds the training graph as of the first score date and times, on CPU (and CUDA when present):

* ours: the model ``gnn.evaluate`` trains (``GraphSAGE(SAGEConfig())``: input projection, two
  direction-aware weighted layers over buys_from / sells_to / shares_identifier, LayerNorm,
  dropout 0.2, residual, jumping knowledge, MLP head). One epoch = one full-batch step as
  ``gnn.train.train_sage`` takes it: forward over the whole graph, pos-weighted BCE on the
  labelled rows, backward, Adam step (with weight decay). Timed on the fused operator
  (:class:`gnn.conv.RelationAdjacencies`) and, for comparison, on the per-relation path;
* reference: raw PyG, 2 ``SAGEConv(mean)`` layers, as wide as ours, plus a linear head, on the
  same nodes and features with the trade edges in both directions, the same loss and optimiser;
* full-graph inference (no grad) for both, as businesses/second;
* ours, mini-batch: one epoch over :mod:`gnn.sampler` batches (fanout 15,10; 512 seeds).

All the steps of one measurement run in turn within each repeat (same machine load); figures
are medians after warm-up. ``--threads`` defaults to 1: on a shared 2-core machine two OpenMP
threads spin against other processes and made every kernel 3-6x slower (earlier figures of
seconds per epoch came from that).

Run: ``python benchmarks/gnn_benchmark.py [--sizes 10000,100000] [--repeats 15]
[--sampled-repeats 2] [--threads 1] [--json f]``; the result goes to
``benchmarks/results/gnn_benchmark.json`` unless ``--json`` names a file.
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
from results_io import command_line, generator_version, write_result
from torch import nn
from torch_geometric.nn import SAGEConv
from torch_geometric.utils import to_undirected

from gnn.conv import relation_adjacency
from gnn.data import FeatureScaler, SnapshotFrames, build_graph
from gnn.model import GraphSAGE, SAGEConfig
from gnn.sampler import sampled_batches
from gnn.train import TrainConfig, peak_rss_mib

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


def _interleaved(
    steps: dict[str, Callable[[], object]], repeats: int, device: torch.device, warmup: int = 3
) -> dict[str, float]:
    """Median seconds of each step. The steps run in turn within every repeat, so ours and the
    reference see the same machine load; ``warmup`` untimed rounds first (the allocator and
    the sparse kernels settle over the first few calls)."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for round_ in range(warmup + repeats):
        turn = round_ % len(names)  # rotate who goes first: no step always follows another
        for name in names[turn:] + names[:turn]:
            step = steps[name]
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


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


def bench_graph(
    graph, device: torch.device, repeats: int, sampled_repeats: int
) -> dict[str, float]:
    """All timings for one graph on one device (milliseconds; throughput in businesses/s)."""
    data = graph.data
    x, y = data.x.to(device), torch.nan_to_num(data.y, nan=0.0).to(device)
    labelled = torch.as_tensor(graph.labelled, device=device)
    sage_config, train_config = SAGEConfig(), TrainConfig()  # what gnn.evaluate trains
    started = time.perf_counter()
    fused = relation_adjacency(
        data.edge_index,
        data.edge_weight,
        data.num_nodes,
        data.id_edge_index,
        use_identifiers=sage_config.use_identifiers,
    ).to(device)
    adjacency_seconds = time.perf_counter() - started
    per_relation = list(fused)  # a plain list takes the generic path (one product each)
    undirected = to_undirected(data.edge_index).to(device)
    pos_weight = torch.tensor(2.0, device=device)
    models = {
        "ours": GraphSAGE(data.num_features, sage_config).to(device),
        "raw": RawSAGE(data.num_features, sage_config.hidden).to(device),
    }
    optimisers = {
        name: torch.optim.Adam(
            model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay
        )
        for name, model in models.items()
    }

    def epoch(name: str, graph_input: object) -> Callable[[], None]:
        """One full-batch step as ``train_sage`` takes it: forward over the whole graph,
        loss on the labelled rows, backward, optimiser step."""
        model, optimiser = models[name], optimisers[name]

        def step() -> None:
            model.train()
            optimiser.zero_grad()
            logits = model(x, graph_input)[labelled]
            loss = F.binary_cross_entropy_with_logits(logits, y[labelled], pos_weight=pos_weight)
            loss.backward()
            optimiser.step()

        return step

    def infer(name: str, graph_input: object) -> Callable[[], None]:
        model = models[name]

        @torch.no_grad()
        def step() -> None:
            model.eval()
            model(x, graph_input)

        return step

    epochs = _interleaved(
        {
            "raw": epoch("raw", undirected),
            "ours": epoch("ours", fused),
            "ours_per_relation": epoch("ours", per_relation),
        },
        repeats,
        device,
    )
    inference = _interleaved(
        {"raw": infer("raw", undirected), "ours": infer("ours", fused)}, repeats, device
    )
    row: dict[str, float] = {
        "nodes": data.num_nodes,
        "edges": int(data.edge_index.shape[1]),
        "identifier_pairs": int(data.id_edge_index.shape[1]),
        "labelled": len(graph.labelled),
        "adjacency_build_s": adjacency_seconds,
        "raw_pyg_epoch_ms": epochs["raw"] * 1e3,
        "ours_epoch_ms": epochs["ours"] * 1e3,
        "ours_per_relation_epoch_ms": epochs["ours_per_relation"] * 1e3,
        "epoch_ratio": epochs["ours"] / epochs["raw"],
        "per_relation_epoch_ratio": epochs["ours_per_relation"] / epochs["raw"],
        "raw_pyg_infer_ms": inference["raw"] * 1e3,
        "ours_infer_ms": inference["ours"] * 1e3,
        "raw_pyg_businesses_per_s": data.num_nodes / inference["raw"],
        "ours_businesses_per_s": data.num_nodes / inference["ours"],
    }
    if sampled_repeats > 0:
        sampled_cfg = TrainConfig(batch_size=512, fanout=(15, 10))

        def sampled_epoch() -> None:
            sampled_batches(
                models["ours"], optimisers["ours"], graph, graph.labelled, sage_config,
                sampled_cfg, pos_weight, device,
            )  # fmt: skip

        sampled = _interleaved({"sampled": sampled_epoch}, sampled_repeats, device, warmup=1)
        row["ours_sampled_epoch_ms"] = sampled["sampled"] * 1e3
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--sampled-repeats", type=int, default=2, help="mini-batch epochs to time (0: skip)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; on a shared 2-core machine 2 threads spin against other "
        "processes (OpenMP) and every kernel gets several times slower",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the result (default: benchmarks/results/gnn_benchmark.json)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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
            row.update(bench_graph(graph, device, args.repeats, args.sampled_repeats))
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
    written = write_result(
        "gnn_benchmark",
        {"torch": machine, "results": results},
        command=command_line(),
        generator_version=generator_version(),
        path=args.json,
    )
    print(f"result: {written}")


if __name__ == "__main__":
    main()
