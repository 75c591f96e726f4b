"""The main job's speed: ``tradegraph demo`` on the default marketplace, stage by stage.

Each run is ``tradegraph demo`` as a user runs it (what ``make demo`` calls once installed), in
a process of its own with a fresh home (``TRADEGRAPH_HOME`` in a temporary folder, its own
ports), so it starts its own Neo4j and takes the bulk-import path of a first demo. The stages
are the demo's own timings (``<work dir>/demo-timings.json``); ``wall_seconds`` is the whole
command's, with the interpreter's imports and the server's start. The server is stopped and
the home removed after each run. The goal is the stages within ``GOAL_SECONDS`` on 2 cores.

Run: ``python benchmarks/demo_benchmark.py [--runs 2]``; figures go to
``benchmarks/results/demo_benchmark.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results_io import command_line, generator_version, write_result

#: The stages of ``make demo`` on the default marketplace, on 2 cores.
GOAL_SECONDS = 300.0


#: The ``tradegraph`` console script's entry point, run by this interpreter (as
#: ``api_latency.py`` starts ``tradegraph serve``).
CLI = [sys.executable, "-c", "from tradegraph.cli.main import app; app()"]


def run_once(businesses: int, port: int) -> dict:
    """One ``tradegraph demo`` in a fresh home: its stage seconds and its wall seconds."""
    home = Path(tempfile.mkdtemp(prefix="tradegraph-demo-bench-"))
    # No server, home or key of the caller's; the torch threads as the machine is configured.
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("NEO4J_", "TRADEGRAPH_")) or k == "TRADEGRAPH_TORCH_THREADS"
    }  # fmt: skip
    env.update(
        TRADEGRAPH_HOME=str(home),
        TRADEGRAPH_NEO4J_BOLT_PORT=str(port),
        TRADEGRAPH_NEO4J_HTTP_PORT=str(port + 1),
    )
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [*CLI, "demo", "--businesses", str(businesses)],
            cwd=home, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - started
        if done.returncode != 0:
            tail = (done.stderr or done.stdout)[-3000:]
            raise RuntimeError(f"tradegraph demo failed ({done.returncode}):\n{tail}")
        stages = json.loads((home / "demo" / "demo-timings.json").read_text())
    finally:
        subprocess.run([*CLI, "neo4j", "stop"], cwd=home, env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    return {
        "stage_seconds": {name: round(s, 2) for name, s in stages.items()},
        "stages_seconds": round(sum(stages.values()), 1),
        "wall_seconds": round(wall, 1),
    }


def summary(runs: list[dict]) -> dict:
    """Per stage and in all, the median over ``runs``, and whether the goal holds."""
    names = list(runs[0]["stage_seconds"])
    total = statistics.median(r["stages_seconds"] for r in runs)
    return {
        "stage_seconds_median": {
            name: round(statistics.median(r["stage_seconds"][name] for r in runs), 2)
            for name in names
        },
        "stages_seconds_median": round(total, 1),
        "wall_seconds_median": round(statistics.median(r["wall_seconds"] for r in runs), 1),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": total <= GOAL_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=7791, help="Bolt port (HTTP: the next one)")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}: tradegraph demo in a fresh home", flush=True)
        runs.append(run_once(args.businesses, args.port))
        print(f"  stages {runs[-1]['stages_seconds']} s, wall {runs[-1]['wall_seconds']} s")
    figures = {"businesses": args.businesses, "runs": runs, **summary(runs)}
    path = write_result(
        "demo_benchmark", figures, command=command_line(), generator_version=generator_version()
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
