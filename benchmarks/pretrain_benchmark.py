"""Does pre-training GraphSAGE on next-quarter trade change help? Same run, same test rows.

For each generator seed of the default marketplace the temporal evaluation of
``model_benchmark.py`` runs twice with everything equal but ``ModelConfig.pretrain``: once
without pre-training, once with ``--epochs`` of it (:mod:`gnn.pretrain`). What decides is the
cross-validated AUC inside the training rows (the figure the champion is chosen on); the test
AUC of GraphSAGE and of the hybrid, pre-trained minus plain, gets a paired bootstrap interval
over the same test businesses, for the record only.

Run: ``python benchmarks/pretrain_benchmark.py [--generator-seeds 42,7,2024] [--epochs 100]``;
figures go to ``benchmarks/results/pretrain_benchmark.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from model_benchmark import market_frames
from results_io import generator_version, write_result

from gnn.bootstrap import paired_bootstrap
from gnn.evaluate import EvaluationConfig, EvaluationResult, evaluate
from gnn.pretrain import PretrainConfig
from gnn.selection import ModelConfig, SelectionConfig

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("trees_own_cp", "graphsage", "hybrid")
COMPARED = ("graphsage", "hybrid")


def _test_predictions(result: EvaluationResult) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    frame = result.predictions
    first = frame[frame["model"] == frame["model"].iloc[0]]
    y = first["y_true"].to_numpy()
    return y, {m: frame.loc[frame["model"] == m, "pd"].to_numpy() for m in COMPARED}


def compare(plain: EvaluationResult, pretrained: EvaluationResult, replicates: int) -> dict:
    """Pre-trained minus plain test AUC per compared model (paired bootstrap, first seed's
    predictions, the same test rows in the same order)."""
    y, before = _test_predictions(plain)
    y_after, after = _test_predictions(pretrained)
    assert np.array_equal(y, y_after), "both runs must test the same rows"
    out = {}
    for model in COMPARED:
        intervals = paired_bootstrap(
            y, {"pretrained": [after[model]], "plain": [before[model]]},
            reference="plain", replicates=replicates,
        )  # fmt: skip
        out[model] = {
            "plain": intervals["plain"]["auc"].to_dict(),
            "pretrained": intervals["pretrained"]["auc"].to_dict(),
            "difference": intervals["pretrained"]["auc_minus_plain"].to_dict(),
        }
    return out


def run(generator_seed: int, args: argparse.Namespace) -> dict[str, object]:
    started = time.perf_counter()
    frames, dates, about = market_frames(args.businesses, generator_seed)
    results = {}
    for label, epochs in (("plain", 0), ("pretrained", args.epochs)):
        config = EvaluationConfig(
            seeds=args.seeds,
            train_as_of=dates[0],
            test_as_of=dates[1],
            replicates=args.replicates,
            selection=SelectionConfig(folds=args.folds, models=MODELS),
            models=ModelConfig(pretrain=PretrainConfig(epochs=epochs)),
        )
        say = lambda m, s=generator_seed, lab=label: print(f"[{s} {lab}] {m}", flush=True)  # noqa: E731
        results[label] = evaluate(frames, frames, config, progress=say)
    return {
        **about,
        "seconds": time.perf_counter() - started,
        "cv_auc": {label: r.cv_auc for label, r in results.items()},
        "champion": {label: r.champion for label, r in results.items()},
        "test_auc": compare(results["plain"], results["pretrained"], args.replicates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator-seeds", default="42,7,2024")
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=100, help="pre-training epochs")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per marketplace")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "pretrain_benchmark.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = []
    for seed in (int(s) for s in args.generator_seeds.split(",")):
        runs.append(run(seed, args))
        print(runs[-1], flush=True)
        command = (
            f"python benchmarks/pretrain_benchmark.py --generator-seeds {args.generator_seeds} "
            f"--epochs {args.epochs} --seeds {args.seeds} --folds {args.folds} "
            f"--threads {args.threads}"
            + ("" if args.out == RESULTS / "pretrain_benchmark.json" else f" --out {args.out}")
        )
        figures = {"runs": runs, "epochs": args.epochs, "models": list(MODELS)}
        write_result("pretrain_benchmark", figures, command=command,
                     generator_version=generator_version(), path=args.out)  # fmt: skip


if __name__ == "__main__":
    main()
