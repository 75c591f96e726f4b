"""Scale-out: snapshots and features from the Parquet lake, and GraphSAGE training in one
process against DDP.

**Features** (``--orders-millions 1,10``): a synthetic marketplace of about that many orders
(businesses scaled from the default's ~84 orders each) is written to a lake
(``loaders.lake``), then, in a fresh process per size, the snapshot as of the last score date
is read from the lake and every feature computed (pandas, one core), for one date and for that
date with ``--stack-months`` earlier monthly cohorts; wall time, orders per core-second and
peak memory.

**Floor** (``--parts floor``): on the same kind of lake, the least work any feature engine
does: per side (seller, buyer), orders, GMV and orders not completed in the 90 and 365 days
before the date, from the orders placed before it. Pandas reads the lake with pyarrow and
counts with ``numpy.bincount`` (one core); Spark SQL runs the same aggregates as native
expressions in ``local[2]`` (both cores, no Python workers). Each engine in a fresh process:
one warm-up run, then ``--repeats`` timed runs (median); both must give the same totals. It
says whether any Spark implementation of the features could match pandas per core on this
machine.

**Training**: on the default synthetic marketplace (``--businesses``, generator seed
``--generator-seed``; one cohort, or ``--stack-months`` stacked ones for more labelled
rows), the labelled rows are split by business into fitting (64%), early stopping (16%) and
held-out (20%) rows. The same
GraphSAGE (``SAGEConfig()``, ``TrainConfig()`` defaults) is trained

- full batch in one process (the embedded default, the reference);
- on sampled neighbourhoods in one process (``gnn.sampler``, batch ``--batch-size``);
- data-parallel with ``torch.distributed`` (``gnn.distributed``, ``gloo``), launched by
  ``torchrun`` with 1 and with 2 processes, each on its share of the seeds;

each with one torch thread per process, so 2 processes use the machine's 2 cores. It reports
labelled businesses per second per process (training steps only; validation excluded), epochs,
and the held-out AUC of each with a paired bootstrap interval of its difference from the
full-batch model. DDP with 1 and 2 processes is launched ``--ddp-repeats`` times, alternating;
its rates and the ratio of each adjacent pair are medians. In the same run, the reference for
the DDP ratio: the same sampled step without gradient exchange, in 1 process alone and in 2
independent processes at once (``--contention-epochs`` epochs each), which is as much as two
processes get from these cores.

Run: ``python benchmarks/scale_benchmark.py``; figures go to
``benchmarks/results/scale_benchmark.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from model_benchmark import market_frames
from results_io import command_line, generator_version, write_result

from gnn import distributed
from gnn.bootstrap import paired_bootstrap
from gnn.evaluate import FeatureSet
from gnn.scoring import TrainingConfig, training_table_for
from gnn.selection import grouped_folds
from gnn.train import TrainConfig, TrainedSAGE, train_sage
from tradegraph.cli.common import earlier_months

REFERENCE = "full_batch_1_process"


ORDERS_PER_BUSINESS = 84  # the default marketplace: 837,351 orders over 10,000 businesses
#: Spark in every worker of this benchmark: both cores of this machine, and a driver heap that
#: holds 10M orders' blocks.
SPARK_MASTER, SPARK_DRIVER_MEMORY = "local[2]", "6g"
#: Cores each engine runs on (pandas: one process; Spark: ``SPARK_MASTER``).
ENGINE_CORES = {"pandas": 1, "spark": 2}


class TreeMemory:
    """Peak resident memory of this process and its children (Spark's JVM and Python
    workers), sampled every ``interval`` seconds on a thread."""

    def __init__(self, interval: float = 0.25) -> None:
        import threading

        import psutil

        self.peak = {"driver_mib": 0.0, "children_mib": 0.0}
        self._stop = threading.Event()

        def sample() -> None:
            me = psutil.Process()
            while not self._stop.is_set():
                children = 0.0
                for child in me.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        children += child.memory_info().rss
                self.peak["children_mib"] = max(self.peak["children_mib"], children / 2**20)
                self._stop.wait(interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        from gnn.train import peak_rss_mib

        self._stop.set()
        self._thread.join()
        return self.peak | {"driver_mib": peak_rss_mib()}


def features_worker(lake: Path, as_of: str, stack_months: int, out: Path, engine: str) -> None:
    """Time snapshot + features from ``lake`` for one date, then for the stacked dates, with
    ``engine`` (pandas in this process, or Spark ``local[2]``); write the figures (with peak
    memory of this process and of its children) to ``out``."""
    import pandas as pd

    memory = TreeMemory()
    stamp = pd.Timestamp(as_of, tz="UTC")
    features = FeatureSet.default()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    read = _reader(engine)
    timings["engine_start_s"] = time.perf_counter() - started
    started = time.perf_counter()
    snapshot = read(lake, stamp)
    orders = snapshot.orders_sdf.count() if engine == "spark" else len(snapshot.orders)
    timings["snapshot_s"] = time.perf_counter() - started
    table = features.frame(snapshot, stamp)
    timings["one_date_s"] = time.perf_counter() - started
    timings["features_s"] = timings["one_date_s"] - timings["snapshot_s"]
    started = time.perf_counter()
    stacked_orders = 0
    for date in [*reversed(earlier_months(stamp, stack_months)), stamp] if stack_months else []:
        frames = read(lake, date)
        features.frame(frames, date)
        stacked_orders += frames.orders_sdf.count() if engine == "spark" else len(frames.orders)
    timings["stacked_s"] = time.perf_counter() - started
    cores = ENGINE_CORES[engine]
    figures = {
        "engine": engine,
        "cores": cores,
        "orders_in_snapshot": orders,
        "businesses_in_snapshot": len(table),
        "feature_columns": table.shape[1],
        **timings,
        "orders_per_core_second": orders / timings["one_date_s"] / cores,
        "stacked_dates": stack_months + 1 if stack_months else 0,
        "stacked_orders": stacked_orders,
        "stacked_orders_per_core_second": (
            stacked_orders / timings["stacked_s"] / cores if stack_months else None
        ),
    }
    peaks = memory.stop()
    figures |= {"peak_rss_mib": peaks["driver_mib"], "peak_children_rss_mib": peaks["children_mib"]}
    out.write_text(json.dumps(figures))


def _reader(engine: str):  # type: ignore[no-untyped-def]
    """``read(lake, date)`` for the engine (Spark's session is started here, and timed)."""
    if engine == "pandas":
        from loaders.lake import read_lake_snapshot

        return read_lake_snapshot
    from loaders.spark.session import SparkOptions, buckets, spark_session
    from loaders.spark.snapshot import read_spark_snapshot

    options = SparkOptions(master=SPARK_MASTER, driver_memory=SPARK_DRIVER_MEMORY)
    spark = spark_session(options)
    return lambda lake, date: read_spark_snapshot(
        spark, lake, date, buckets=buckets(options, spark)
    )


def features_at(
    millions: float, stack_months: int, seed: int, engines: list[str], spark_stacked_up_to: float,
    repeats: int = 1,
) -> list[dict]:  # fmt: skip
    """Generate about ``millions`` million orders, write them to a lake, and time the
    snapshot + features with each engine, each run in a fresh process, ``repeats`` times
    (the median one-date run is reported; only the first run stacks dates)."""
    with synthetic_lake(millions, seed) as (lake, about):
        runs: dict[str, list[dict]] = {engine: [] for engine in engines}
        for repeat in range(repeats):  # engines alternate, so drift reaches both alike
            for engine in engines:
                stacks = engine == "pandas" or millions <= spark_stacked_up_to
                stack = stack_months if stacks and repeat == 0 else 0
                runs[engine].append(_run_worker(
                    ["--features-worker", str(lake), "--as-of", about["as_of"],
                     "--stack-months", str(stack), "--engine", engine],
                    lake.parent / f"features-{engine}-{repeat}.json",
                ))  # fmt: skip
    return [about | _median_run(done) for done in runs.values()]


def _run_worker(arguments: list[str], out: Path) -> dict:
    """This script run as a worker in a fresh process (one OpenMP thread) with
    ``arguments``; the figures it wrote to ``out``."""
    command = [sys.executable, __file__, *arguments, "--worker-out", str(out)]
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.read_text())


@contextlib.contextmanager
def synthetic_lake(millions: float, seed: int) -> Iterator[tuple[Path, dict]]:
    """A synthetic marketplace of about ``millions`` million orders written to a lake in a
    temporary folder: ``(lake, about)``, ``about`` with its size, score date and the seconds
    it took to generate and to write."""
    from loaders.lake import LakeRows, write_lake_frames
    from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames

    businesses = round(millions * 1e6 / ORDERS_PER_BUSINESS)
    started = time.perf_counter()
    market = generate_marketplace(SyntheticConfig(n_businesses=businesses, seed=seed))
    generated_s = time.perf_counter() - started
    as_of = str(market.as_of_dates[-1].date())
    frames = to_contract_frames(market, "scale-benchmark-key")
    rows = LakeRows(*frames[:2], [frames[2]], frames[3], market.credit_events)
    total_orders = len(frames[2])
    del market, frames
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        started = time.perf_counter()
        write_lake_frames(lake, rows, key_fingerprint="scale", base_currency="USD", source="bench")
        written_s = time.perf_counter() - started
        del rows
        yield lake, {"businesses": businesses, "orders": total_orders, "as_of": as_of,
                     "generate_s": generated_s, "lake_write_s": written_s}  # fmt: skip


#: The floor's aggregates: per side, orders, GMV and orders not completed in each window.
FLOOR_WINDOWS = (90, 365)
FLOOR_SIDES = ("seller_id", "buyer_id")


def _pandas_floor(lake: Path, as_of: Any) -> dict[str, float]:
    """The floor's aggregates with pyarrow and numpy, one core; their column totals."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(lake / "orders", format="parquet", partitioning="hive")
    before = ds.field("ts") < pa.scalar(as_of.to_pydatetime(), pa.timestamp("us", tz="UTC"))
    columns = [*FLOOR_SIDES, "ts", "amount_base", "status"]
    orders = dataset.to_table(columns=columns, filter=before).to_pandas()
    age = (as_of - orders["ts"]).dt.total_seconds().to_numpy() / 86400
    gmv = orders["amount_base"].to_numpy(float)
    open_ = (orders["status"] != "completed").to_numpy()
    totals: dict[str, float] = {}
    for side in FLOOR_SIDES:
        codes, ids = pd.factorize(orders[side])
        for days in FLOOR_WINDOWS:
            inside = age < days
            per = {
                "orders": np.bincount(codes[inside], minlength=len(ids)),
                "gmv": np.bincount(codes[inside], weights=gmv[inside], minlength=len(ids)),
                "not_completed": np.bincount(codes[inside & open_], minlength=len(ids)),
            }
            totals |= {f"{side}_{k}_{days}d": float(v.sum()) for k, v in per.items()}
    return totals | {"orders": float(len(orders))}


def _spark_floor(spark: Any, lake: Path, as_of: Any) -> dict[str, float]:
    """The same aggregates as Spark SQL expressions (no Python workers) on the orders the
    Spark engine reads (:func:`loaders.spark.snapshot.read_table`, partitions pruned by
    month), one job per side, collected to the driver as the features are; their totals."""
    from pyspark.sql import functions as F

    from loaders.lake import lake_manifest
    from loaders.spark.snapshot import read_table

    exports = [e["export"] for e in lake_manifest(lake)["exports"]]
    month = F.lit(as_of.strftime("%Y-%m"))
    placed = (F.col("month") <= month) & (F.col("ts") < F.lit(as_of.to_pydatetime()))
    orders = read_table(spark, lake, "orders", exports, placed)
    age = (F.lit(as_of.timestamp()) - F.col("ts").cast("double")) / 86400
    totals: dict[str, float] = {}
    for side in FLOOR_SIDES:
        aggregates = []
        for days in FLOOR_WINDOWS:
            inside = age < days
            open_ = inside & (F.col("status") != "completed")
            aggregates += [
                F.sum(F.when(inside, 1).otherwise(0)).alias(f"{side}_orders_{days}d"),
                F.sum(F.when(inside, F.col("amount_base")).otherwise(0.0)).alias(
                    f"{side}_gmv_{days}d"
                ),
                F.sum(F.when(open_, 1).otherwise(0)).alias(f"{side}_not_completed_{days}d"),
            ]
        # Every order counted in the same job (a separate count() would scan them again).
        per = orders.groupBy(side).agg(F.count(F.lit(1)).alias("orders"), *aggregates)
        totals |= {c: float(v) for c, v in per.toPandas().drop(columns=side).sum().items()}
    return totals


def floor_worker(lake: Path, as_of: str, out: Path, engine: str, repeats: int) -> None:
    """One engine's floor in this fresh process: a warm-up run, then ``repeats`` timed runs."""
    import pandas as pd

    stamp = pd.Timestamp(as_of, tz="UTC")
    started = time.perf_counter()
    if engine == "spark":
        from loaders.spark.session import SparkOptions, spark_session

        options = SparkOptions(master=SPARK_MASTER, driver_memory=SPARK_DRIVER_MEMORY)
        spark = spark_session(options)
        run = functools.partial(_spark_floor, spark, lake, stamp)
    else:
        run = functools.partial(_pandas_floor, lake, stamp)
    start_s = time.perf_counter() - started
    runs = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        totals = run()
        runs.append(time.perf_counter() - started)
    first_s, runs = runs[0], runs[1:]
    cores = ENGINE_CORES[engine]
    median = float(np.median(runs))
    out.write_text(json.dumps({
        "engine": engine, "cores": cores, "engine_start_s": start_s, "first_run_s": first_s,
        "runs_s": runs, "median_s": median, "orders_before_date": int(totals["orders"]),
        "orders_per_core_second": totals["orders"] / median / cores, "totals": totals,
    }))  # fmt: skip


def floor_at(millions: float, seed: int, repeats: int) -> list[dict]:
    """Both engines' floor on one lake of about ``millions`` million orders, each in a fresh
    process; raises when their totals differ (they did not do the same work)."""
    rows = []
    with synthetic_lake(millions, seed) as (lake, about):
        for engine in ENGINE_CORES:
            arguments = ["--floor-worker", str(lake), "--as-of", about["as_of"],
                         "--engine", engine, "--repeats", str(repeats)]  # fmt: skip
            rows.append(about | _run_worker(arguments, lake.parent / f"floor-{engine}.json"))
    reference = rows[0]["totals"]
    for name, value in rows[1]["totals"].items():
        if not np.isclose(value, reference[name], rtol=1e-9, atol=0):
            raise RuntimeError(f"floor totals differ in {name}: {reference[name]} vs {value}")
    return rows


def _median_run(runs: list[dict]) -> dict:
    """The first run's figures (it alone stacks dates) with the one-date timings of the run
    whose one-date time is the median, and every run's one-date time."""
    times = [r["one_date_s"] for r in runs]
    median = runs[int(np.argsort(times)[(len(times) - 1) // 2])]
    figures = dict(runs[0])
    for key in ("engine_start_s", "snapshot_s", "features_s", "one_date_s"):
        figures[key] = median[key]
    figures["orders_per_core_second"] = median["orders_per_core_second"]
    figures["one_date_runs_s"] = times
    return figures


def build_problem(args: argparse.Namespace) -> dict:
    """The graph and the fit / stop / held-out rows, pickled for the ``torchrun`` workers."""
    frames, dates, about = market_frames(args.businesses, args.generator_seed)
    as_of = dates[0]
    config = TrainingConfig(train_dates=tuple(earlier_months(as_of, args.stack_months)))
    table, _ = training_table_for(frames, as_of, FeatureSet.default(), config)
    parts = grouped_folds(table.y, table.groups, 5, 17)
    rest, held = parts[0]
    inner = grouped_folds(table.y[rest], table.groups[rest], 5, 29)[0]
    fit, stop = rest[inner[0]], rest[inner[1]]
    return {
        "graph": table.graph,
        "scaler": table.scaler,
        "fit": table.rows[fit],
        "stop": table.rows[stop],
        "held": table.rows[held],
        "about": {**about, "labelled_rows": len(table.y), "as_of": str(as_of.date())},
    }


def labelled_per_second(sage: TrainedSAGE) -> float:
    """Labelled businesses this process trained on per second of training steps."""
    seconds = sum(h["train_seconds"] for h in sage.history)
    return sum(h["seeds"] for h in sage.history) / max(seconds, 1e-9)


def _figures(sage: TrainedSAGE, problem: dict) -> dict:
    """Epochs, training-step seconds (validation passes excluded), labelled businesses per
    second of this process, and the held-out scores."""
    return {
        "epochs": sage.epochs_run,
        "best_epoch": sage.best_epoch,
        "train_seconds": sum(h["train_seconds"] for h in sage.history),
        "labelled_per_second_per_process": labelled_per_second(sage),
        "held_out_scores": sage.predict_proba(problem["graph"])[problem["held"]].tolist(),
    }


def single_process(problem: dict, batch_size: int | None) -> dict:
    """Train in this process: full batch, or sampled mini-batches of ``batch_size``."""
    sage = train_sage(problem["graph"], problem["fit"], problem["stop"], problem["scaler"],
                      train_config=TrainConfig(batch_size=batch_size), seed=1)  # fmt: skip
    return _figures(sage, problem)


def worker(problem_file: Path, out: Path, batch_size: int) -> None:
    """One ``torchrun`` process: train data-parallel and write rank 0's figures."""
    torch.set_num_threads(1)
    ctx = distributed.init_from_env()
    assert ctx is not None, "the worker runs under torchrun"
    problem = pickle.loads(problem_file.read_bytes())
    config = TrainConfig(batch_size=batch_size)
    sage = train_sage(problem["graph"], problem["fit"], problem["stop"], problem["scaler"],
                      train_config=config, seed=1)  # fmt: skip
    figures = _figures(sage, problem)
    (out / f"rank-{ctx.rank}.json").write_text(json.dumps(figures))
    distributed.finish()


def contention_worker(problem_file: Path, out: Path, batch_size: int, epochs: int) -> None:
    """One plain process (no process group) training sampled for exactly ``epochs`` epochs;
    writes its labelled businesses per second of training steps."""
    torch.set_num_threads(1)
    problem = pickle.loads(problem_file.read_bytes())
    config = TrainConfig(batch_size=batch_size, max_epochs=epochs, patience=epochs)
    sage = train_sage(problem["graph"], problem["fit"], problem["stop"], problem["scaler"],
                      train_config=config, seed=1)  # fmt: skip
    out.write_text(json.dumps({"labelled_per_second": labelled_per_second(sage)}))


def contention(problem_file: Path, batch_size: int, epochs: int) -> dict:
    """What this machine allows two processes: the sampled training step, without any
    gradient exchange, in 1 process alone and then in 2 independent processes at once (one
    torch thread each). Their per-process ratio is the ceiling for DDP's on the same cores;
    DDP's own cost is what it loses below it."""
    rates: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for processes in (1, 2):
            outs = [Path(tmp) / f"{processes}-{i}.json" for i in range(processes)]
            command = [
                sys.executable, __file__, "--contention-worker", str(problem_file),
                "--batch-size", str(batch_size), "--contention-epochs", str(epochs),
            ]  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            workers = [
                subprocess.Popen([*command, "--worker-out", str(out)], env=env) for out in outs
            ]
            codes = [process.wait() for process in workers]
            if any(codes):
                raise RuntimeError(f"contention workers exited with {codes}: see their output")
            rates[processes] = [json.loads(o.read_text())["labelled_per_second"] for o in outs]
    return {
        "epochs": epochs,
        "one_process_labelled_per_second": rates[1][0],
        "two_processes_labelled_per_second": rates[2],
        "two_over_one_per_process": float(np.mean(rates[2]) / rates[1][0]),
    }


def median_ddp(repeats: list[dict]) -> dict:
    """One DDP configuration over its repeats: the median training rate and seconds, every
    repeat's rate (``labelled_per_second_runs``), and the first repeat's other figures, its
    per-rank rates among them (the same seeds train the same model: epochs and best epoch
    must agree)."""
    first = repeats[0]
    if len({(r["epochs"], r["best_epoch"]) for r in repeats}) != 1:
        raise RuntimeError("DDP repeats trained different models: the run is not reproducible")
    rates = [float(np.mean(r["per_rank_labelled_per_second"])) for r in repeats]

    def median(key: str) -> float:
        return float(np.median([r[key] for r in repeats]))

    return first | {
        "labelled_per_second_per_process": float(np.median(rates)),
        "labelled_per_second_runs": rates,
        "train_seconds": median("train_seconds"),
        "wall_seconds_with_launch": median("wall_seconds_with_launch"),
    }


def ddp(problem_file: Path, processes: int, batch_size: int) -> dict:
    """Launch ``processes`` workers with torchrun; rank 0's figures plus every rank's rate."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", str(processes), __file__, "--worker", str(problem_file),
                   "--worker-out", tmp, "--batch-size", str(batch_size)]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env)
        wall = time.perf_counter() - started
        ranks = [json.loads((Path(tmp) / f"rank-{r}.json").read_text()) for r in range(processes)]
    figures = ranks[0]
    figures["per_rank_labelled_per_second"] = [r["labelled_per_second_per_process"] for r in ranks]
    figures["wall_seconds_with_launch"] = wall
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--generator-seed", type=int, default=42)
    parser.add_argument("--stack-months", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--parts", default="features,training")
    parser.add_argument("--orders-millions", default="1,10")
    parser.add_argument("--feature-stack-months", type=int, default=3)
    parser.add_argument("--engines", default="pandas,spark")
    parser.add_argument(
        "--repeats", type=int, default=1,
        help="fresh-process runs of each engine's one-date snapshot + features (median kept)",
    )  # fmt: skip
    parser.add_argument(
        "--spark-stacked-up-to",
        type=float,
        default=1.0,
        help="Spark runs the stacked dates only up to this many million orders",
    )
    parser.add_argument("--engine", default="pandas", help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--features-worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--floor-worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--contention-epochs", type=int, default=8,
        help="epochs of the 1-and-2-process reference without gradient exchange",
    )  # fmt: skip
    parser.add_argument("--contention-worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--ddp-repeats", type=int, default=3,
        help="alternating DDP-1 / DDP-2 launches; rates and their ratio are medians",
    )  # fmt: skip
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.worker_out, args.batch_size)
        return
    if args.contention_worker is not None:
        contention_worker(
            args.contention_worker, args.worker_out, args.batch_size, args.contention_epochs
        )
        return
    if args.features_worker is not None:
        features_worker(
            args.features_worker, args.as_of, args.stack_months, args.worker_out, args.engine
        )
        return
    if args.floor_worker is not None:
        floor_worker(args.floor_worker, args.as_of, args.worker_out, args.engine, args.repeats)
        return
    torch.set_num_threads(1)
    parts = set(args.parts.split(","))
    figures: dict = {}
    if "features" in parts:
        figures["features"] = [
            row
            for m in args.orders_millions.split(",")
            for row in features_at(
                float(m), args.feature_stack_months, args.generator_seed,
                args.engines.split(","), args.spark_stacked_up_to, args.repeats,
            )
        ]  # fmt: skip
        _write(figures, args)
    if "floor" in parts:
        figures["floor"] = [
            row
            for m in args.orders_millions.split(",")
            for row in floor_at(float(m), args.generator_seed, args.repeats)
        ]
        _write(figures, args)
    if "training" in parts:
        figures |= training(args)
        _write(figures, args)
    print(json.dumps({k: v for k, v in figures.items() if k != "training"}, indent=1))


def _write(figures: dict, args: argparse.Namespace) -> None:
    write_result(
        "scale_benchmark", figures, command=command_line(),
        generator_version=generator_version(), path=args.out,
    )  # fmt: skip


def training(args: argparse.Namespace) -> dict:
    """Full batch, sampled, DDP with 1 and 2 processes on the same problem."""
    problem = build_problem(args)
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        problem_file = Path(tmp) / "problem.pkl"
        problem_file.write_bytes(pickle.dumps(problem))
        runs[REFERENCE] = single_process(problem, None)
        runs["sampled_1_process"] = single_process(problem, args.batch_size)
        repeats: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.ddp_repeats):  # alternating, so drift hits both alike
            for processes in (1, 2):
                repeats[processes].append(ddp(problem_file, processes, args.batch_size))
        for processes, done in repeats.items():
            runs[f"ddp_{processes}_process"] = median_ddp(done)
        machine = contention(problem_file, args.batch_size, args.contention_epochs)
    y = problem["graph"].data.y.numpy()[problem["held"]].astype(int)
    scores = {name: [np.asarray(run.pop("held_out_scores"))] for name, run in runs.items()}
    intervals = paired_bootstrap(y, scores, reference=REFERENCE)
    ones, twos = (runs[f"ddp_{n}_process"]["labelled_per_second_runs"] for n in (1, 2))
    ratios = [two / one for one, two in zip(ones, twos, strict=True)]
    return {
        "problem": problem["about"]
        | {part: len(problem[part]) for part in ("fit", "stop", "held")},
        "batch_size": args.batch_size,
        "training": runs,
        "held_out_auc": {n: {k: v.to_dict() for k, v in iv.items()} for n, iv in intervals.items()},
        "ddp_2_over_1_per_process": float(np.median(ratios)),
        "ddp_2_over_1_runs": ratios,
        "machine_2_over_1_per_process": machine,
    }


if __name__ == "__main__":
    main()
