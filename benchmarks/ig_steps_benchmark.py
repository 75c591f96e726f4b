"""How many points the Integrated-Gradients path needs: reasons against a 32-point integral.

For each GraphSAGE champion kind, train it at a light setting (2 folds, the champion forced)
on the default synthetic marketplace, then explain every SME at the next score date with a
32-point Gauss-Legendre path (the reference) and with 2, 3, 4 and 6 points of the
Gauss-Legendre and the midpoint rules (``gnn.reasons.path_points``). For each setting: the
share of businesses whose top reason, and whose set of up to four reasons, is the
reference's (with Wilson 95% intervals), and the seconds the explanation took. The default
(``gnn.reasons.IG_STEPS`` points, Gauss-Legendre) is chosen from these figures.

Run: ``python benchmarks/ig_steps_benchmark.py``; figures go to
``benchmarks/results/ig_steps_benchmark.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from model_benchmark import market_frames
from results_io import command_line, generator_version, write_result
from score_benchmark import MODELS_FOR

from gnn.reasons import IG_STEPS, explain
from gnn.scoring import TrainingConfig, prepare_scores, train_models, year_pairs
from gnn.selection import ModelConfig, SelectionConfig

REFERENCE_POINTS = 32


def wilson(hits: int, n: int, z: float = 1.96) -> list[float]:
    """Wilson score interval of the proportion ``hits / n``."""
    if n == 0:
        return [0.0, 1.0]
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


def agreement(codes: list[list[str]], reference: list[list[str]]) -> dict[str, object]:
    """Top reason and reason set agreement with the reference, with intervals."""
    n = len(reference)
    top = sum(a[:1] == b[:1] for a, b in zip(codes, reference, strict=True))
    same_set = sum(set(a) == set(b) for a, b in zip(codes, reference, strict=True))
    return {
        "top_reason_agrees": round(top / n, 4),
        "top_reason_interval": wilson(top, n),
        "reason_set_agrees": round(same_set / n, 4),
        "reason_set_interval": wilson(same_set, n),
    }


def compare(champion: str, frames, dates, points: list[int]) -> dict[str, object]:
    """Train ``champion`` lightly at the first date; explain the SMEs at the second."""
    config = TrainingConfig(
        selection=SelectionConfig(folds=2, champion=champion, models=MODELS_FOR[champion]),
        models=ModelConfig(),
        allow_immature=True,
    )
    artefact = train_models(frames, dates[0], config)
    prepared = prepare_scores(artefact, frames, dates[1])
    targets = np.flatnonzero(prepared.kind.to_numpy() == "sme")
    pairs = year_pairs(frames, prepared.as_of)

    def codes(steps: int, rule: str) -> tuple[list[list[str]], float]:
        started = time.perf_counter()
        reasons = explain(
            artefact, prepared.features, prepared.graph, targets, pairs, steps=steps,
            rule=rule,  # type: ignore[arg-type]
        )  # fmt: skip
        return [[r.code for r in rs] for rs in reasons], time.perf_counter() - started

    codes(IG_STEPS, "gauss-legendre")  # warm-up: the caches and the first plans
    reference, reference_s = codes(REFERENCE_POINTS, "gauss-legendre")
    rows = []
    for rule in ("gauss-legendre", "midpoint"):
        for steps in points:
            got, seconds = codes(steps, rule)
            rows.append(
                {"rule": rule, "points": steps, "explain_seconds": round(seconds, 2)}
                | agreement(got, reference)
            )
            print(f"[{champion}] {rule} {steps}: {rows[-1]}", flush=True)
    return {
        "champion": champion,
        "smes": len(targets),
        "reference": {"rule": "gauss-legendre", "points": REFERENCE_POINTS,
                      "explain_seconds": round(reference_s, 2)},
        "settings": rows,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--champions", default="graphsage,hybrid")
    parser.add_argument("--points", default="2,3,4,6")
    parser.add_argument("--generator-seed", type=int, default=42)
    parser.add_argument("--businesses", type=int, default=10_000)
    args = parser.parse_args()
    frames, dates, about = market_frames(args.businesses, args.generator_seed)
    points = [int(p) for p in args.points.split(",")]
    runs = [compare(champion, frames, dates, points) for champion in args.champions.split(",")]
    figures: dict = {
        "marketplace": about,
        "score_as_of": str(dates[1].date()),
        "default_points": IG_STEPS,
        "runs": runs,
    }
    path = write_result(
        "ig_steps_benchmark", figures, command=command_line(), generator_version=generator_version()
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
