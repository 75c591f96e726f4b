"""Champion against baselines on the default synthetic marketplace, over generator seeds.

For each generator seed: generate the default marketplace, build the contract frames in memory
(no Neo4j: the same frames a snapshot returns), and run ``gnn.evaluate.evaluate`` with the
temporal split (train on the first cohort, test on the second, a year later). Every model's test
AUC and AUPRC get paired-bootstrap 95% intervals over test businesses, every model its lead
over (b) with a paired interval, and the champion is chosen by cross-validation inside the
training rows only.

Run: ``python benchmarks/model_benchmark.py [--generator-seeds 42,7,2024] [--seeds 3]``;
figures go to ``benchmarks/results/model_benchmark.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch
from results_io import generator_version, write_result

from gnn.data import SnapshotFrames
from gnn.evaluate import EvaluationConfig, EvaluationResult, evaluate, format_table
from gnn.selection import SelectionConfig
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from loaders.synthetic.config import DEFAULT_MECHANISMS

DEMO_KEY = "tradegraph-DEMO-KEY-public-not-for-real-data"
RESULTS = Path(__file__).resolve().parent / "results"


def market_frames(
    n_businesses: int, seed: int, *, events: bool = True, mechanism: str = "receivables"
) -> tuple[SnapshotFrames, list, dict]:
    """The marketplace of generator ``seed`` under default ``mechanism`` as contract frames
    (with its credit events unless ``events`` is off), its score dates and what was
    generated."""
    config = SyntheticConfig(n_businesses=n_businesses, seed=seed).with_mechanism(mechanism)
    market = generate_marketplace(config)
    businesses, identifiers, orders, outcomes = to_contract_frames(market, DEMO_KEY)
    credit_events = market.credit_events if events else None
    frames = SnapshotFrames(businesses, identifiers, orders, outcomes, credit_events=credit_events)
    about = {"businesses": len(businesses), "orders": len(orders), "generator_seed": seed}
    return frames, list(market.as_of_dates), about


def summarise(result: EvaluationResult) -> dict[str, object]:
    """The figures the benchmark page shows, from one evaluation."""
    payload = json.loads(result.to_json())
    return {
        key: payload[key]
        for key in (
            "champion",
            "champion_rule",
            "cv_auc",
            "intervals",
            "counts",
            "seconds",
            "peak_rss_mib",
            "warnings",
            "table",
            "configs",
            "train_as_of",
            "test_as_of",
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator-seeds", default="42,7,2024")
    parser.add_argument("--businesses", type=int, default=SyntheticConfig().n_businesses)
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per marketplace")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-events", action="store_true", help="hide credit_events (what a lender knew)"
    )
    parser.add_argument(
        "--stack-months", type=int, default=0, help="also train on N earlier monthly cohorts"
    )
    parser.add_argument(
        "--mechanism",
        choices=DEFAULT_MECHANISMS,
        default="receivables",
        help="how defaults spread in the generator (receivables is the frozen default)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "model_benchmark.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = []
    for generator_seed in (int(s) for s in args.generator_seeds.split(",")):
        started = time.perf_counter()
        frames, dates, about = market_frames(
            args.businesses, generator_seed, events=not args.no_events, mechanism=args.mechanism
        )
        earlier = tuple(dates[0] - pd.DateOffset(months=k) for k in range(1, args.stack_months + 1))
        config = EvaluationConfig(
            train_dates=earlier,
            seeds=args.seeds,
            train_as_of=dates[0],
            test_as_of=dates[1],
            replicates=args.replicates,
            selection=SelectionConfig(folds=args.folds),
        )
        result = evaluate(
            frames,
            frames,
            config,
            progress=lambda m, s=generator_seed: print(f"[generator seed {s}] {m}", flush=True),
        )
        print(format_table(result), flush=True)
        runs.append({**about, "total_seconds": time.perf_counter() - started, **summarise(result)})
        write(args, runs)


def write(args: argparse.Namespace, runs: list[dict[str, object]]) -> None:
    """The figures so far, with the command that made them (rewritten after every seed)."""
    command = (
        f"python benchmarks/model_benchmark.py --generator-seeds {args.generator_seeds} "
        f"--seeds {args.seeds} --folds {args.folds} --threads {args.threads}"
        + (" --no-events" if args.no_events else "")
        + (f" --stack-months {args.stack_months}" if args.stack_months else "")
        + (f" --mechanism {args.mechanism}" if args.mechanism != "receivables" else "")
        + ("" if args.out == RESULTS / "model_benchmark.json" else f" --out {args.out}")
    )
    figures = {
        "runs": runs,
        "businesses": args.businesses,
        "credit_events": not args.no_events,
        "stack_months": args.stack_months,
        "default_mechanism": args.mechanism,
    }
    write_result(
        "model_benchmark",
        figures,
        command=command,
        generator_version=generator_version(),
        path=args.out,
    )


if __name__ == "__main__":
    main()
