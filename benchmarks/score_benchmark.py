"""Batch scoring speed: scores, grades and reasons for every SME, and the write-back to Neo4j.

For each champion kind, train it at a light setting (2 folds, the champion forced) on the
default synthetic marketplace (frames in memory), then time ``gnn.scoring.score`` on the next
score date: features and graph, prediction, and reasons (TreeSHAP and/or batched Integrated
Gradients), median over ``--repeats`` rounds that each time every champion once. Then write
the scores to Neo4j with ``graph.scores.write_scores`` (a server of its own under
``--work-dir`` unless ``--uri``) as a nightly run does: every write a new score date, so each
creates its ``:Score`` nodes and links them into each business's history. ``--warm-ups``
writes come first, because a freshly started server runs its first writes in the JVM's
interpreter: the same write took 3.4, 1.8, 1.6 and 1.3 s before settling near 0.9 s on this
2-core machine, and a serving server that a nightly run writes to has long been warm. The
median over ``--repeats`` writes after them is the figure; the warm-up times are kept beside
it. Each champion's ``end_to_end_smes_per_second`` is its SMEs over its scoring median plus
the write median: what ``tradegraph score`` does with the frames in hand.

Run: ``python benchmarks/score_benchmark.py [--champions trees_own_cp,hybrid,graphsage]``;
figures go to ``benchmarks/results/score_benchmark.json``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from model_benchmark import market_frames
from results_io import command_line, generator_version, write_result

from gnn.artefact import Artefact
from gnn.scoring import TrainingConfig, score, train_models
from gnn.selection import ModelConfig, SelectionConfig

MODELS_FOR = {
    "trees_own": ("trees_own",),
    "trees_own_cp": ("trees_own_cp",),
    "graphsage": ("graphsage",),
    "hybrid": ("graphsage", "hybrid"),
}


def train(champion: str, frames, dates) -> tuple[Artefact, float]:
    """``champion`` trained lightly (2 folds, forced) at the first date, and the seconds."""
    config = TrainingConfig(
        selection=SelectionConfig(folds=2, champion=champion, models=MODELS_FOR[champion]),
        models=ModelConfig(),
        allow_immature=True,
    )
    started = time.perf_counter()
    artefact = train_models(frames, dates[0], config)
    return artefact, time.perf_counter() - started


def time_rounds(
    artefacts: dict[str, Artefact], frames, as_of, repeats: int
) -> dict[str, tuple[list[float], list[float], pd.DataFrame]]:
    """Per champion, ``score`` with reasons and without, round by round: every round times
    each champion once, so they meet the same phases of a shared machine (its speed drifts
    by a third over minutes) and the tree champion is a reference measured beside them."""
    seconds: dict[str, list[float]] = {champion: [] for champion in artefacts}
    without_reasons: dict[str, list[float]] = {champion: [] for champion in artefacts}
    scores: dict[str, pd.DataFrame] = {}
    for _ in range(repeats):
        for champion, artefact in artefacts.items():
            t = time.perf_counter()
            scores[champion] = score(artefact, frames, as_of)
            seconds[champion].append(time.perf_counter() - t)
            t = time.perf_counter()
            score(artefact, frames, as_of, with_reasons=False)
            without_reasons[champion].append(time.perf_counter() - t)
    return {c: (seconds[c], without_reasons[c], scores.get(c, pd.DataFrame())) for c in artefacts}


def summary(
    champion: str, artefact: Artefact, train_s: float, seconds: list[float],
    without_reasons: list[float], scores: pd.DataFrame,
) -> dict:  # fmt: skip
    """One champion's figures."""
    n = len(scores)
    total, bare = statistics.median(seconds), statistics.median(without_reasons)
    return {
        "champion": champion,
        "smes": n,
        "train_seconds": round(train_s, 1),
        "score_seconds_median": round(total, 2),
        "score_seconds_runs": [round(s, 2) for s in seconds],
        "without_reasons_seconds_median": round(bare, 2),
        "reasons_seconds": round(total - bare, 2),
        "smes_per_second": round(n / total),
        "gnn_members": len(artefact.sage.members) if artefact.sage is not None else 0,
        "example_reasons": scores.head(3)[["business_id", "reason_codes", "reasons"]].to_dict(
            "records"
        ),
    }


def time_write_back(args: argparse.Namespace, frames, scores: pd.DataFrame, as_of) -> dict:
    """Load the businesses into a Neo4j of its own (or ``--uri``) and time the write-back."""
    import neo4j

    from graph.load import load_frames
    from graph.scores import WRITERS, write_scores
    from graph.server import local

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="tradegraph-score-bench-"))
    server = None
    if args.uri:
        driver = neo4j.GraphDatabase.driver(args.uri, auth=None)
    else:
        config = local.LocalServerConfig(data_dir=work / "neo4j", bolt_port=args.port, apoc=False)
        server = local.start(config, say=print)
        driver = neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password))
    try:
        load_frames(
            driver, frames.businesses, frames.identifiers.iloc[:0], [], None,
            key_fingerprint="score-benchmark",
        )  # fmt: skip
        runs = []
        for night in range(args.warm_ups + args.repeats):
            t = time.perf_counter()
            day = pd.Timestamp(as_of) + pd.Timedelta(days=night)
            result = write_scores(driver, scores, day, "score-benchmark", batch_size=5_000)
            runs.append(time.perf_counter() - t)
        warm_ups, timed = runs[: args.warm_ups], runs[args.warm_ups :]
        median = statistics.median(timed)
        return {
            "written": result.written,
            "new_score_dates": True,
            "warm_up_seconds_runs": [round(s, 2) for s in warm_ups],
            "seconds_median": round(median, 2),
            "seconds_runs": [round(s, 2) for s in timed],
            "smes_per_second": round(result.written / median),
            "batch_size": 5_000,
            "writers": WRITERS,
        }
    finally:
        driver.close()
        if server is not None:
            local.stop(config)
            if not args.work_dir:
                shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--champions", default="trees_own_cp,hybrid,graphsage")
    parser.add_argument("--generator-seed", type=int, default=42)
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--warm-ups", type=int, default=5, help="writes before the timed ones (JVM warm-up)"
    )
    parser.add_argument("--uri", help="an existing empty Neo4j (default: start one)")
    parser.add_argument("--port", type=int, default=7699)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--no-write", action="store_true", help="skip the write-back")
    args = parser.parse_args()

    frames, dates, about = market_frames(args.businesses, args.generator_seed)
    figures: dict = {"marketplace": about, "score_as_of": str(dates[1].date()), "runs": []}
    command = command_line()
    artefacts, trained = {}, {}
    for champion in args.champions.split(","):
        print(f"[{champion}] training (2 folds)", flush=True)
        artefacts[champion], trained[champion] = train(champion, frames, dates)
    print(f"timing score x{args.repeats}, the champions in turn", flush=True)
    timed = time_rounds(artefacts, frames, dates[1], args.repeats)
    for champion, (seconds, without_reasons, champion_scores) in timed.items():
        run = summary(
            champion, artefacts[champion], trained[champion], seconds, without_reasons,
            champion_scores,
        )  # fmt: skip
        figures["runs"].append(run)
        print(
            f"[{champion}] {run['smes']} SMEs in {run['score_seconds_median']} s "
            f"({run['smes_per_second']}/s; reasons {run['reasons_seconds']} s)",
            flush=True,
        )
    scores = next(iter(timed.values()))[2] if timed else None
    if not args.no_write and scores is not None:
        figures["write_back"] = write = time_write_back(args, frames, scores, dates[1])
        print(f"write-back: {write}", flush=True)
        for run in figures["runs"]:
            total = run["score_seconds_median"] + write["seconds_median"]
            run["end_to_end_smes_per_second"] = round(run["smes"] / total)
    path = write_result(
        "score_benchmark", figures, command=command, generator_version=generator_version()
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
