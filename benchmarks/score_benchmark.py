"""Batch scoring speed: scores, grades and reasons for every SME, and the write-back to Neo4j.

For each champion kind, train it as ``tradegraph train`` does by default (``--folds``, default
:class:`~gnn.selection.SelectionConfig`'s 5, so a GraphSAGE part is the bag of 5 fold members a
user scores with; the champion forced) on the default synthetic marketplace (frames in memory),
then time ``gnn.scoring.score`` on the next score date: features and graph, prediction, and
reasons (TreeSHAP and/or batched Integrated Gradients), median over ``--repeats`` rounds that
each time every champion once. Each champion's scores are written to Neo4j right after they are
scored, in the same round, with
``graph.scores.write_scores`` (a server of its own under ``--work-dir`` unless ``--uri``) as a
nightly run does: every write a new score date, so each creates its ``:Score`` nodes and links
them into each business's history. ``--warm-ups`` writes come first, because a freshly
started server runs its first writes in the JVM's interpreter: the same write took 5.7, 4.3,
3.0, 1.9 and 1.2 s before settling near 1 s on this 2-core machine (after five, the writes in
the rounds still fell from 2.5 to 1.2 s), and a serving server that a nightly run writes to has
long been warm. Each champion's ``end_to_end_smes_per_second`` is its SMEs over the median,
across rounds, of its score plus the write that followed it: what ``tradegraph score`` does
with the frames in hand, each pair timed in one phase of a machine whose speed drifts (writes
timed apart from the scores differed from run to run by up to a factor of two). Like
``tradegraph score`` once its snapshot is read, the benchmark moves what it holds out of the
garbage collector's reach (:func:`tradegraph.long_lived.freeze_long_lived`) unless ``--no-freeze``;
``gc_seconds_median`` is the time collections paused each score (and each write), timed
through ``gc.callbacks``. ``--unfrozen-reference`` also times, in the same rounds, each score
with everything back in the collector's reach: the reference for what the freeze saves.

Run: ``python benchmarks/score_benchmark.py [--champions trees_own_cp,hybrid,graphsage]
[--unfrozen-reference]``;
figures go to ``benchmarks/results/score_benchmark.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from model_benchmark import market_frames
from results_io import command_line, generator_version, write_result

from gnn.artefact import Artefact
from gnn.scoring import TrainingConfig, score, train_models
from gnn.selection import ModelConfig, SelectionConfig
from graph.scores import BATCH_SIZE, WRITERS, WriteResult, write_scores
from tradegraph.long_lived import freeze_long_lived

MODELS_FOR = {
    "trees_own": ("trees_own",),
    "trees_own_cp": ("trees_own_cp",),
    "graphsage": ("graphsage",),
    "hybrid": ("graphsage", "hybrid"),
}


def train(champion: str, frames, dates, folds: int) -> tuple[Artefact, float]:
    """``champion`` trained with ``folds`` folds (forced) at the first date, and the seconds.

    The integrated gradients behind a GraphSAGE part's reasons run once per bag member, and
    the bag has one member per fold, so ``folds`` sets the cost of its reasons."""
    config = TrainingConfig(
        selection=SelectionConfig(folds=folds, champion=champion, models=MODELS_FOR[champion]),
        models=ModelConfig(),
        allow_immature=True,
    )
    started = time.perf_counter()
    artefact = train_models(frames, dates[0], config)
    return artefact, time.perf_counter() - started


class Stopwatch:
    """``with Stopwatch() as watch``: the block's wall ``seconds`` and ``gc_seconds``, the time
    the garbage collector paused it (all generations, through ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.gc_seconds = 0.0
        self._began = self._collecting = 0.0

    def __enter__(self) -> Stopwatch:
        gc.callbacks.append(self._on)
        self._began = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._began
        gc.callbacks.remove(self._on)

    def _on(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._collecting = time.perf_counter()
        else:
            self.gc_seconds += time.perf_counter() - self._collecting


@dataclass
class Timings:
    """One champion's timed rounds: ``score`` with reasons (``seconds``) and the collector's
    pauses inside it (``gc``), without reasons, the same with reasons with everything back
    in the collector's reach (``unfrozen``; the reference, when asked for), and the write of
    its scores to Neo4j right after its score (``writes``, when writing)."""

    seconds: list[float] = field(default_factory=list)
    gc: list[float] = field(default_factory=list)
    without_reasons: list[float] = field(default_factory=list)
    unfrozen: list[float] = field(default_factory=list)
    unfrozen_gc: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    write_gc: list[float] = field(default_factory=list)
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)


class WriteBack:
    """A Neo4j of its own under ``--work-dir`` (or ``--uri``) holding the marketplace's
    businesses, written to as nightly runs: every :meth:`write` a new score date, so each
    creates its ``:Score`` nodes and links them into each business's history."""

    def __init__(self, args: argparse.Namespace, frames, as_of) -> None:
        self.args, self.frames, self.as_of = args, frames, pd.Timestamp(as_of)
        self.nights = 0
        self.result: WriteResult | None = None

    def __enter__(self) -> WriteBack:
        import neo4j

        from graph.load import load_frames
        from graph.server import local

        self.work = Path(self.args.work_dir or tempfile.mkdtemp(prefix="tradegraph-score-bench-"))
        self.server = self.config = None
        if self.args.uri:
            self.driver = neo4j.GraphDatabase.driver(self.args.uri, auth=None)
        else:
            self.config = local.LocalServerConfig(
                data_dir=self.work / "neo4j", bolt_port=self.args.port, apoc=False
            )
            self.server = local.start(self.config, say=print)
            auth = (self.server.user, self.server.password)
            self.driver = neo4j.GraphDatabase.driver(self.server.uri, auth=auth)
        load_frames(
            self.driver, self.frames.businesses, self.frames.identifiers.iloc[:0], [], None,
            key_fingerprint="score-benchmark",
        )  # fmt: skip
        return self

    def __exit__(self, *_exc: object) -> None:
        from graph.server import local

        self.driver.close()
        if self.config is not None:
            local.stop(self.config)
            if not self.args.work_dir:
                shutil.rmtree(self.work, ignore_errors=True)

    def write(self, scores: pd.DataFrame) -> Stopwatch:
        """Write ``scores`` as the next night's run; the watch that timed it."""
        day = self.as_of + pd.Timedelta(days=self.nights)
        self.nights += 1
        with Stopwatch() as watch:
            self.result = write_scores(self.driver, scores, day, "score-benchmark")
        return watch


def time_rounds(
    artefacts: dict[str, Artefact], frames, as_of, repeats: int, *, unfrozen_reference: bool,
    writer: WriteBack | None = None,
) -> dict[str, Timings]:  # fmt: skip
    """Per champion, round by round: every round times each champion once, so they meet the
    same phases of a shared machine (its speed drifts by a third over minutes) and the tree
    champion is a reference measured beside them. With ``writer``, each champion's scores are
    written right after they are scored, as ``tradegraph score`` does, so a champion's score
    and its write meet the same phase too. With ``unfrozen_reference``, each round also
    scores each champion with the long-lived objects unfrozen, then freezes them again."""
    timings = {champion: Timings() for champion in artefacts}
    for _ in range(repeats):
        for champion, artefact in artefacts.items():
            timing = timings[champion]
            if unfrozen_reference:
                gc.unfreeze()
                with Stopwatch() as watch:
                    score(artefact, frames, as_of)
                timing.unfrozen.append(watch.seconds)
                timing.unfrozen_gc.append(watch.gc_seconds)
                freeze_long_lived()
            with Stopwatch() as watch:
                timing.scores = score(artefact, frames, as_of)
            timing.seconds.append(watch.seconds)
            timing.gc.append(watch.gc_seconds)
            if writer is not None:
                written = writer.write(timing.scores)
                timing.writes.append(written.seconds)
                timing.write_gc.append(written.gc_seconds)
            with Stopwatch() as watch:
                score(artefact, frames, as_of, with_reasons=False)
            timing.without_reasons.append(watch.seconds)
    return timings


def summary(champion: str, artefact: Artefact, train_s: float, timing: Timings) -> dict:
    """One champion's figures."""
    scores = timing.scores
    n = len(scores)
    total, bare = statistics.median(timing.seconds), statistics.median(timing.without_reasons)
    figures = {
        "champion": champion,
        "smes": n,
        "train_seconds": round(train_s, 1),
        "score_seconds_median": round(total, 2),
        "score_seconds_runs": [round(s, 2) for s in timing.seconds],
        "gc_seconds_median": round(statistics.median(timing.gc), 3),
        "without_reasons_seconds_median": round(bare, 2),
        "reasons_seconds": round(total - bare, 2),
        "smes_per_second": round(n / total),
        "gnn_members": len(artefact.sage.members) if artefact.sage is not None else 0,
        "example_reasons": scores.head(3)[["business_id", "reason_codes", "reasons"]].to_dict(
            "records"
        ),
    }
    if timing.unfrozen:
        figures["unfrozen_score_seconds_median"] = round(statistics.median(timing.unfrozen), 2)
        figures["unfrozen_gc_seconds_median"] = round(statistics.median(timing.unfrozen_gc), 3)
    if timing.writes:
        both = [s + w for s, w in zip(timing.seconds, timing.writes, strict=True)]
        figures["write_seconds_median"] = round(statistics.median(timing.writes), 2)
        figures["write_seconds_runs"] = [round(w, 2) for w in timing.writes]
        figures["end_to_end_seconds_runs"] = [round(b, 2) for b in both]
        figures["end_to_end_smes_per_second"] = round(n / statistics.median(both))
    return figures


def write_back_figures(writer: WriteBack, warm_ups: list[Stopwatch], timed: dict) -> dict:
    """The write-back over every champion's writes: median, runs, warm-ups."""
    written = writer.result.written if writer.result is not None else 0
    writes = [w for timing in timed.values() for w in timing.writes]
    paused = [g for timing in timed.values() for g in timing.write_gc]
    median = statistics.median(writes)
    return {
        "written": written,
        "new_score_dates": True,
        "in_rounds": True,
        "warm_up_seconds_runs": [round(w.seconds, 2) for w in warm_ups],
        "seconds_median": round(median, 2),
        "seconds_runs": [round(s, 2) for s in writes],
        "gc_seconds_median": round(statistics.median(paused), 3),
        "smes_per_second": round(written / median),
        "batch_size": BATCH_SIZE,
        "writers": WRITERS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--champions", default="trees_own_cp,hybrid,graphsage")
    parser.add_argument("--generator-seed", type=int, default=42)
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--folds", type=int, default=SelectionConfig().folds,
        help="training folds, one GraphSAGE bag member each (default: `tradegraph train`'s)",
    )  # fmt: skip
    parser.add_argument(
        "--warm-ups", type=int, default=10, help="writes before the timed ones (JVM warm-up)"
    )
    parser.add_argument("--uri", help="an existing empty Neo4j (default: start one)")
    parser.add_argument("--port", type=int, default=7699)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--no-write", action="store_true", help="skip the write-back")
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave the frames in the collector's reach"
    )
    parser.add_argument(
        "--unfrozen-reference",
        action="store_true",
        help="also time each score with nothing frozen, in the same rounds",
    )
    args = parser.parse_args()

    frames, dates, about = market_frames(args.businesses, args.generator_seed)
    figures: dict = {
        "marketplace": about, "score_as_of": str(dates[1].date()), "folds": args.folds,
        "long_lived_frozen": not args.no_freeze, "runs": [],
    }  # fmt: skip
    command = command_line()
    artefacts, trained = {}, {}
    for champion in args.champions.split(","):
        print(f"[{champion}] training ({args.folds} folds)", flush=True)
        artefacts[champion], trained[champion] = train(champion, frames, dates, args.folds)
    if not args.no_freeze:
        freeze_long_lived()  # as `tradegraph score` does once its model and snapshot are read
    print(f"timing score x{args.repeats}, the champions in turn", flush=True)
    reference = args.unfrozen_reference and not args.no_freeze
    with contextlib.ExitStack() as stack:
        writer, warm_ups = None, []
        if not args.no_write:
            writer = stack.enter_context(WriteBack(args, frames, dates[1]))
            print(f"{args.warm_ups} warm-up writes", flush=True)
            first = score(next(iter(artefacts.values())), frames, dates[1])
            warm_ups = [writer.write(first) for _ in range(args.warm_ups)]
        timed = time_rounds(
            artefacts, frames, dates[1], args.repeats, unfrozen_reference=reference,
            writer=writer,
        )  # fmt: skip
        if writer is not None:
            figures["write_back"] = write_back_figures(writer, warm_ups, timed)
            print(f"write-back: {figures['write_back']}", flush=True)
    for champion, timing in timed.items():
        run = summary(champion, artefacts[champion], trained[champion], timing)
        figures["runs"].append(run)
        print(
            f"[{champion}] {run['smes']} SMEs in {run['score_seconds_median']} s "
            f"({run['smes_per_second']}/s; reasons {run['reasons_seconds']} s; GC "
            f"{run['gc_seconds_median']} s, unfrozen {run.get('unfrozen_score_seconds_median')} s"
            f"; with write-back {run.get('end_to_end_smes_per_second')}/s)",
            flush=True,
        )
    path = write_result(
        "score_benchmark", figures, command=command, generator_version=generator_version()
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
