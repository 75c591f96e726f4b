"""How close the GraphSAGE reasons' Integrated Gradients run to the floor of their arithmetic.

Train a GraphSAGE champion as ``tradegraph train`` does by default (``--folds`` folds, so a
bag of that many members; the champion forced) on the default synthetic marketplace, then,
for every SME at the next score date, time the Integrated Gradients behind its reasons as
``score`` runs them (:func:`gnn.reasons.integrated_gradients`, ``IG_STEPS`` points,
``IG_BATCH`` targets per pass). In the same rounds, time the parts that no implementation of
the method (each business's own gradient, on its own copy of its neighbourhood, for every
member and point) can skip:

* the forward pass on the union of the SMEs' receptive fields at every point
  (:func:`gnn.pullback.shared_forward`),
* the per-pass plans of the targets' own copies (:func:`gnn.receptive.plan_blocks`),
* the backward's matrix products at their real shapes: each layer's copied rows through the
  layer's linear map, and each member's input-layer product, and
* one pass over the input level's per-copy gradients (``[K, S, H]`` per member, written and
  read once).

Their sum is the floor: what a fused kernel that wrote nothing else would still take on this
machine. The ratio of the real run to it says how much an implementation could still win.

Run: ``python benchmarks/attribution_floor.py [--repeats 5] [--folds 5]``; figures go to
``benchmarks/results/attribution_floor.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from model_benchmark import market_frames
from results_io import command_line, generator_version, write_result
from score_benchmark import train

from gnn.model import GraphSAGE, SageBagModel
from gnn.pullback import shared_forward, union_plan
from gnn.reasons import IG_BATCH, IG_STEPS, gnn_readout, integrated_gradients, path_points
from gnn.receptive import ReceptivePlan, ScipyOperators, plan_blocks
from gnn.scoring import prepare_scores
from gnn.train import graph_operators
from tradegraph.long_lived import freeze_long_lived

#: The floor's parts, in the order the page lists them.
FLOOR_PARTS = ("shared_forward", "block_plans", "layer_products", "input_products", "input_pass")


def block_plans(reach: ScipyOperators, targets: np.ndarray, layers: int) -> Iterator[ReceptivePlan]:
    """The plans of the targets' own copies, ``IG_BATCH`` targets a pass, as the attributions
    make them."""
    for start in range(0, len(targets), IG_BATCH):
        yield plan_blocks(reach, targets[start : start + IG_BATCH], layers)[0]


def level_rows(reach: ScipyOperators, targets: np.ndarray, layers: int) -> list[int]:
    """Rows of every level of the targets' own copies, summed over the passes:
    ``[K, ..., T]`` (input rows first, the targets last)."""
    totals = np.zeros(layers + 1, dtype=np.int64)
    for plan in block_plans(reach, targets, layers):
        totals += [len(rows) for rows in plan.level_rows]
    return totals.tolist()


def multiply_adds(rows: list[int], *, members: int, steps: int, hidden: int, slots: int,
                  features: int) -> dict[str, int]:  # fmt: skip
    """Multiply-adds of the backward's matrix products: every copied row of layer ``l >= 1``
    at every point through the layer's ``[H, slots * H]`` map, and every input row's
    ``[P]`` gradient through the member's ``[P, F]`` input weight (``P = H``)."""
    layer = sum(rows[1:]) * steps * hidden * slots * hidden * members
    return {"layer_products": layer, "input_products": rows[0] * hidden * features * members}


def round_medians(works: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall seconds of each of ``works`` over ``repeats`` rounds that each run every
    one once (after one warm-up run each), so drift in the machine's speed reaches them all."""
    for work in works.values():
        work()
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(repeats):
        for name, work in works.items():
            started = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - started)
    return {name: round(statistics.median(values), 3) for name, values in times.items()}


def floor_parts(
    model: GraphSAGE | SageBagModel, reach: ScipyOperators, targets: np.ndarray,
    x: torch.Tensor, rows: list[int],
) -> dict[str, Callable[[], object]]:  # fmt: skip
    """One callable per part of the floor (:data:`FLOOR_PARTS`), on the real shapes."""
    parts = model.parts
    layers = len(parts[0].convs)
    path = path_points(IG_STEPS)
    projected = [x @ part.input.weight.detach().T for part in parts]
    hidden = parts[0].config.hidden
    level_inputs = [torch.randn(n * IG_STEPS, hidden) for n in rows[1:]]
    input_grad = torch.randn(rows[0], hidden)
    input_out = torch.zeros(rows[0], x.shape[1])
    per_copy = torch.randn(rows[0], IG_STEPS, hidden)
    per_copy_out = torch.empty_like(per_copy)

    def forward() -> None:
        union = union_plan(reach, targets, layers)
        for part, p in zip(parts, projected, strict=True):
            shared_forward(part, union, targets, p, path)

    def plans() -> None:
        for _ in block_plans(reach, targets, layers):
            pass

    def layer_products() -> None:
        for part in parts:
            for conv, rows_in in zip(part.convs, level_inputs, strict=True):
                rows_in @ conv.lin.weight.detach()

    def input_products() -> None:
        for part in parts:
            input_out.addmm_(input_grad, part.input.weight.detach())

    def input_pass() -> None:
        for _ in parts:
            per_copy_out.copy_(per_copy)

    return {
        "shared_forward": forward,
        "block_plans": plans,
        "layer_products": layer_products,
        "input_products": input_products,
        "input_pass": input_pass,
    }


def summary(seconds: dict[str, float], integrated_gradients_seconds: float) -> dict[str, float]:
    """The floor (the sum of its parts' medians), the real run, and the real run over the floor."""
    floor = sum(seconds[part] for part in FLOOR_PARTS)
    return {
        "floor_seconds": round(floor, 3),
        "integrated_gradients_seconds": round(integrated_gradients_seconds, 3),
        "over_floor": round(integrated_gradients_seconds / floor, 2),
    }


def measure(folds: int, repeats: int, businesses: int, seed: int) -> dict[str, object]:
    """Train, then time the real run and the floor's parts on the same SMEs and model."""
    frames, dates, about = market_frames(businesses, seed)
    artefact, _ = train("graphsage", frames, dates, folds)
    assert artefact.sage is not None
    freeze_long_lived()
    prepared = prepare_scores(artefact, frames, dates[1])
    graph, sage = prepared.graph, artefact.sage
    config = sage.sage_config
    operators = graph_operators(
        graph, use_identifiers=config.use_identifiers, max_neighbours=config.max_neighbours
    )
    reach = ScipyOperators.of(operators)
    targets = np.flatnonzero(prepared.kind.to_numpy() == "sme")
    model = sage.model
    layers = len(model.parts[0].convs)
    rows = level_rows(reach, targets, layers)
    readout = gnn_readout(model)

    def real_run() -> None:
        with torch.enable_grad():
            for _ in integrated_gradients(
                model, graph, targets, readout, config.use_identifiers, operators=operators,
                max_neighbours=config.max_neighbours,
            ):  # fmt: skip
                pass

    parts = floor_parts(model, reach, targets, graph.data.x, rows)
    seconds = round_medians({**parts, "integrated_gradients": real_run}, repeats)
    real = seconds.pop("integrated_gradients")
    shapes = {
        "members": len(model.parts), "steps": IG_STEPS, "hidden": config.hidden,
        "slots": len(operators) + 1, "features": int(graph.data.x.shape[1]),
    }  # fmt: skip
    return {
        "marketplace": about,
        "score_as_of": str(dates[1].date()),
        "smes": len(targets),
        "repeats": repeats,
        "shapes": shapes,
        "level_rows": rows,
        "rows_per_target": [round(n / len(targets), 1) for n in rows],
        "multiply_adds": multiply_adds(rows, **shapes),
        "part_seconds_median": seconds,
        **summary(seconds, real),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folds", type=int, default=5, help="Bag members (train's default).")
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--generator-seed", type=int, default=42)
    args = parser.parse_args()
    figures = measure(args.folds, args.repeats, args.businesses, args.generator_seed)
    path = write_result(
        "attribution_floor", figures, command=command_line(), generator_version=generator_version()
    )
    print(f"wrote {path}: {figures['integrated_gradients_seconds']} s against a floor of "
          f"{figures['floor_seconds']} s")  # fmt: skip


if __name__ == "__main__":
    main()
