"""The neighbourhood cap and neighbourhood scoring: what the cap costs, what it buys.

On the default synthetic marketplace (frames in memory), GraphSAGE champions are trained
(``--folds``, by default ``tradegraph train``'s 5: a bag of 5 members, each run for every
score and its reasons; champion forced) at the first score date with the default cap
(``SAGEConfig.max_neighbours``) and without it, and scored at the next date:

* **cap vs uncapped, one model**: the capped model's PDs on the capped graph against the same
  weights on the uncapped graph (median / p99 / max |ΔPD|, grades that change);
* **trained capped vs trained uncapped**: test AUC of each with the paired bootstrap
  interval of the difference (the cap's cost in quality);
* **neighbourhood scoring**: the serving store's write time and size; then one business per
  call scored from its neighbourhood (``gnn.neighbourhood``) for random SMEs and the busiest
  traders: latency p50 / p99, businesses read, and the largest |ΔPD| against the full run
  (reasons compared too); the full prepare it replaces is timed beside it.

Run: ``python benchmarks/neighbourhood_benchmark.py``; figures go to
``benchmarks/results/neighbourhood_benchmark.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from model_benchmark import market_frames
from results_io import command_line, generator_version, write_result

from gnn.bootstrap import paired_bootstrap
from gnn.model import SAGEConfig
from gnn.neighbourhood import NeighbourhoodStore, prepare_neighbourhood
from gnn.scoring import TrainingConfig, prepare_scores, score_prepared, train_models
from gnn.selection import ModelConfig, SelectionConfig


def _train(frames, as_of, cap: int | None, folds: int):
    config = TrainingConfig(
        selection=SelectionConfig(folds=folds, champion="graphsage", models=("graphsage",)),
        models=ModelConfig(sage=replace(SAGEConfig(), max_neighbours=cap)),
        allow_immature=True,
    )
    return train_models(frames, as_of, config)


def _labels(frames, prepared) -> tuple[np.ndarray, np.ndarray]:
    """Positions and labels of the rows labelled at the prepared date."""
    outcomes = frames.outcomes[frames.outcomes["as_of"] == prepared.as_of]
    outcomes = outcomes[outcomes["defaulted"].notna()]
    position = prepared.graph.index_of(outcomes["business_id"].astype(str).tolist())
    keep = position >= 0
    return position[keep], outcomes["defaulted"].to_numpy(float)[keep]


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {
        "median": float(np.median(values)),
        "p99": float(np.quantile(values, 0.99)),
        "max": float(values.max()),
    }


def cap_effect(frames, dates, capped_model, uncapped_model) -> tuple[dict, object]:
    """The same weights with and without the cap, and capped against uncapped training."""
    prepared = prepare_scores(capped_model, frames, dates[1])
    sage = capped_model.sage
    config = sage.sage_config
    sage.sage_config = replace(config, max_neighbours=None)
    try:
        open_graph = prepare_scores(capped_model, frames, dates[1])
    finally:
        sage.sage_config = config
    delta = np.abs(prepared.pd_ - open_graph.pd_)
    sme = prepared.kind.to_numpy() == "sme"
    trained_open = prepare_scores(uncapped_model, frames, dates[1])
    rows, y = _labels(frames, prepared)
    intervals = paired_bootstrap(
        y,
        {"capped": [prepared.pd_[rows]], "uncapped": [trained_open.pd_[rows]]},
        reference="uncapped",
    )
    capped = intervals["capped"]
    return {
        "max_neighbours": config.max_neighbours,
        "same_model_abs_pd_change": _quantiles(delta[sme]),
        "same_model_grade_changes": int((prepared.grades != open_graph.grades)[sme].sum()),
        "smes": int(sme.sum()),
        "test_rows": len(y),
        "test_auc_capped": capped["auc"].to_dict(),
        "test_auc_uncapped": intervals["uncapped"]["auc"].to_dict(),
        "test_auc_capped_minus_uncapped": capped["auc_minus_uncapped"].to_dict(),
    }, prepared


def neighbourhood_scoring(frames, dates, model, prepared, sample: int, seed: int) -> dict:
    """One business per call from the store against its row in the full run."""
    t = time.perf_counter()
    full = score_prepared(prepared).set_index("business_id")
    full_seconds = time.perf_counter() - t
    t = time.perf_counter()
    again = prepare_scores(model, frames, dates[1])
    prepare_seconds = time.perf_counter() - t
    del again
    with tempfile.TemporaryDirectory(prefix="tradegraph-neighbourhood-") as work:
        folder = Path(work) / "serving"
        t = time.perf_counter()
        store = NeighbourhoodStore.write(prepared, folder)
        write_seconds = time.perf_counter() - t
        size = sum(p.stat().st_size for p in folder.iterdir())
        edges = prepared.graph.data.edge_index.numpy()
        degree = np.bincount(edges.ravel(), minlength=prepared.graph.data.num_nodes)
        ids = prepared.graph.business_ids
        smes = np.flatnonzero(prepared.kind.to_numpy() == "sme")
        rng = np.random.default_rng(seed)
        busiest = smes[np.argsort(-degree[smes], kind="stable")[:10]]
        chosen = [*rng.choice(smes, size=min(sample, len(smes)), replace=False), *busiest]
        latency, read, worst, same_reasons = [], [], 0.0, 0
        for position in chosen:
            business = str(ids[position])
            t = time.perf_counter()
            near = prepare_neighbourhood(model, store, [business])
            row = score_prepared(near, business_ids=[business]).iloc[0]  # type: ignore[arg-type]
            latency.append((time.perf_counter() - t) * 1000)
            read.append(near.graph.data.num_nodes)  # type: ignore[union-attr]
            worst = max(worst, abs(float(row["pd"]) - float(full.loc[business, "pd"])))
            same_reasons += row["reasons"] == full.loc[business, "reasons"]
    return {
        "store_write_seconds": round(write_seconds, 2),
        "store_megabytes": round(size / 1e6, 1),
        "full_prepare_seconds": round(prepare_seconds, 2),
        "full_score_with_reasons_seconds": round(full_seconds, 2),
        "calls": len(chosen),
        "busiest_degree": int(degree[busiest].max()),
        "latency_ms": {
            "p50": round(statistics.median(latency), 1),
            "p99": round(float(np.quantile(latency, 0.99)), 1),
        },
        "businesses_read": {"median": int(np.median(read)), "max": int(max(read))},
        "graph_businesses": len(ids),
        "max_abs_pd_difference": worst,
        "same_reasons_share": same_reasons / len(chosen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator-seed", type=int, default=42)
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200, help="random SMEs scored one by one")
    parser.add_argument(
        "--folds", type=int, default=SelectionConfig().folds,
        help="training folds, one GraphSAGE bag member each (default: `tradegraph train`'s)",
    )  # fmt: skip
    args = parser.parse_args()

    frames, dates, about = market_frames(args.businesses, args.generator_seed)
    figures: dict = {"marketplace": about, "train_as_of": str(dates[0].date()),
                     "score_as_of": str(dates[1].date()), "folds": args.folds}  # fmt: skip
    print("training GraphSAGE with the default cap and without it", flush=True)
    capped = _train(frames, dates[0], SAGEConfig().max_neighbours, args.folds)
    uncapped = _train(frames, dates[0], None, args.folds)
    figures["cap"], prepared = cap_effect(frames, dates, capped, uncapped)
    print(f"cap: {figures['cap']}", flush=True)
    figures["neighbourhood"] = neighbourhood_scoring(
        frames, dates, capped, prepared, args.sample, args.generator_seed
    )
    print(f"neighbourhood: {figures['neighbourhood']}", flush=True)
    path = write_result(
        "neighbourhood_benchmark", figures, command=command_line(),
        generator_version=generator_version(),
    )  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
