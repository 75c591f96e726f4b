"""Benchmark: online (idempotent) load vs offline bulk import of the same orders, and analytics.

Usage (starts its own local servers under --work-dir unless --uri is given)::

    python benchmarks/load_benchmark.py --orders 200000 --businesses 10000

Prints orders/s of the online path (first load, then a re-run that finds everything
unchanged), orders per second of server CPU (comparable across runs on a busy shared
machine, where wall-clock rates swing with other load), bulk-import rows/s on the same data,
each analytic's time, store sizes (store files and transaction logs apart), peak RSS of the
server, of ``neo4j-admin`` and of this client, and the machine's load average while it ran.
Defaults finish in a few minutes on a 2-core machine; ``--orders 1000000`` is the issue's
full size. For 10M orders use ``--bulk-first --skip-rerun`` and leave Louvain out
(``--analytics degree_strength,pagerank,identifier_wcc``: networkx Louvain took ~2 min at 1M
and does not scale to 10M pairs). The figures are written after every phase, to
``benchmarks/results/load_benchmark.json`` unless ``--json`` names a file. Data is a
random power-law marketplace made here with numpy, so the benchmark does not depend on the
generator's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results_io import command_line, write_result

from loaders.columns import BUSINESS_COLUMNS, IDENTIFIER_COLUMNS, ORDER_COLUMNS


def make_marketplace(
    n_businesses: int, n_orders: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Businesses, identifiers and orders with heavy-tailed activity (a few large sellers)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"B{i:08d}" for i in range(n_businesses)], dtype=object)
    t0 = pd.Timestamp("2023-01-01", tz="UTC")
    businesses = pd.DataFrame(
        {
            "business_id": pd.Series(ids, dtype="str"),
            "kind": pd.Series(rng.choice(["sme", "consumer"], n_businesses), dtype="str"),
            "registered_at": pd.Series(
                t0 + pd.to_timedelta(rng.integers(0, 365, n_businesses), unit="D"),
                dtype="datetime64[us, UTC]",
            ),
            "region": pd.Series(
                rng.choice([f"R{i}" for i in range(30)], n_businesses), dtype="str"
            ),
            "industry": pd.Series(
                rng.choice([f"I{i}" for i in range(20)], n_businesses), dtype="str"
            ),
            "employees": pd.array(rng.integers(1, 200, n_businesses), dtype="Int64"),
            "declared_revenue": rng.gamma(2.0, 1e5, n_businesses),
        }
    )[BUSINESS_COLUMNS]
    identifiers = pd.DataFrame(
        {
            "business_id": np.repeat(ids, 2),
            "id_type": np.tile(["phone", "device_id"], n_businesses),
            "id_hash": [f"h{x:012x}" for x in rng.integers(0, n_businesses * 2, n_businesses * 2)],
        }
    ).astype("str")[IDENTIFIER_COLUMNS]
    weights = rng.pareto(1.2, n_businesses) + 1
    weights /= weights.sum()
    seller = rng.choice(n_businesses, n_orders, p=weights)
    buyer = rng.integers(0, n_businesses, n_orders)
    buyer = np.where(buyer == seller, (buyer + 1) % n_businesses, buyer)
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 365 * 86400, n_orders), unit="s"
    )
    status = rng.choice(
        ["completed", "refunded", "disputed", "cancelled"], n_orders, p=[0.85, 0.06, 0.04, 0.05]
    )
    amount = np.round(rng.gamma(2.0, 40.0, n_orders), 2)
    orders = pd.DataFrame(
        {
            "txn_id": pd.Series([f"T{i:010d}" for i in range(n_orders)], dtype="str"),
            "seller_id": pd.Series(ids[seller], dtype="str"),
            "buyer_id": pd.Series(ids[buyer], dtype="str"),
            "ts": pd.Series(ts, dtype="datetime64[us, UTC]"),
            "amount": amount,
            "currency": pd.Series(np.full(n_orders, "USD", dtype=object), dtype="str"),
            "amount_base": amount,
            "status": pd.Series(status, dtype="str"),
            "status_at": pd.Series(ts, dtype="datetime64[us, UTC]")
            + pd.to_timedelta(np.where(status == "completed", 0, 86400 * 3), unit="s"),
            "category": pd.Series(rng.choice(["a", "b", "c"], n_orders), dtype="str"),
        }
    )[ORDER_COLUMNS]
    return businesses, identifiers, orders


def _chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (NaN if it is gone)."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return float("nan")
    return times.user + times.system


def _peak_rss_mb(pid: int) -> float:
    """Peak resident set (VmHWM) of a live process in MiB (NaN if unreadable)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _store_mb(data_dir: Path) -> dict[str, int]:
    """Sizes in MiB under a server's ``data`` folder: store files and transaction logs."""
    return {
        "store_files_mb": round(_du(data_dir / "databases" / "neo4j") / 2**20),
        "tx_logs_mb": round(_du(data_dir / "transactions" / "neo4j") / 2**20),
        "total_mb": round(_du(data_dir) / 2**20),
    }


class _PeriodicSampler:
    """Calls :meth:`_sample` every ``every_s`` seconds in a daemon thread while in a ``with``."""

    def __init__(self, every_s: float) -> None:
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._every)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class _LoadSampler(_PeriodicSampler):
    """Samples the 1-minute load average every ``every_s`` seconds."""

    def __init__(self, every_s: float = 10.0) -> None:
        super().__init__(every_s)
        self.samples: list[float] = []

    def _sample(self) -> None:
        self.samples.append(os.getloadavg()[0])


class _ChildrenPeakRss(_PeriodicSampler):
    """Peak summed RSS (MiB) of this process's children, sampled every 0.5 s
    (``neo4j-admin`` during a bulk import; ``RUSAGE_CHILDREN`` would also count the server)."""

    def __init__(self) -> None:
        super().__init__(0.5)
        self.peak_mb = 0.0

    def _sample(self) -> None:
        import psutil

        total = 0
        for child in psutil.Process().children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        self.peak_mb = max(self.peak_mb, total / 2**20)


def _rss_mb(pid: int) -> float:
    import psutil

    try:
        info = psutil.Process(pid).memory_info()
    except psutil.Error:
        return float("nan")
    return info.rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--heap", default="3g")
    parser.add_argument("--pagecache", default="2g")
    parser.add_argument("--port", type=int, default=17950)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--uri", default=None, help="use this server (no auth) for the online path")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--skip-analytics", action="store_true")
    parser.add_argument(
        "--analytics",
        default="degree_strength,pagerank,identifier_wcc,louvain",
        help="comma-separated analytics to time (default all)",
    )
    parser.add_argument("--skip-rerun", action="store_true")
    parser.add_argument(
        "--bulk-first",
        action="store_true",
        help="bulk import (and analytics on its store) before the online load",
    )
    parser.add_argument(
        "--skip-online", action="store_true", help="with --bulk-first: bulk and analytics only"
    )
    parser.add_argument("--report-every", type=int, default=500_000, help="progress every N orders")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the result (default: benchmarks/results/load_benchmark.json)",
    )
    args = parser.parse_args()

    figures: dict[str, float | int | str] = {
        "orders": args.orders,
        "businesses": args.businesses,
        "batch_size": args.batch_size,
        "heap": args.heap,
        "pagecache": args.pagecache,
        "rust_ext": _rust_ext(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count() or 0,
    }
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="tradegraph-bench-"))
    with _LoadSampler() as sampler:
        _run(args, figures, work)
    figures["load_average_1m_mean"] = round(sum(sampler.samples) / len(sampler.samples), 2)
    figures["load_average_1m_max"] = round(max(sampler.samples), 2)
    figures["client_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures, indent=2))
    write_result("load_benchmark", figures, command=command_line(), path=args.json)
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)


Figures = dict[str, float | int | str]


def _run(args: argparse.Namespace, figures: Figures, work: Path) -> None:
    """Online phase and bulk phase; with ``--bulk-first`` the bulk import runs first and the
    analytics are timed on the bulk-imported store (the same graph), so a long online load
    that is cut short still leaves the bulk and analytics figures."""

    def save() -> None:  # after each phase, so a long run that dies late keeps its figures
        write_result("load_benchmark", figures, command=command_line(), path=args.json)

    started = time.perf_counter()
    businesses, identifiers, orders = make_marketplace(args.businesses, args.orders)
    print(f"generated {len(orders):,} orders in {time.perf_counter() - started:.1f}s", flush=True)
    frames = (businesses, identifiers, orders)
    if args.bulk_first:
        if not args.skip_bulk:
            _bulk_phase(args, figures, frames, work, save)
            if not args.skip_analytics:
                _analytics_on_bulk_store(args, figures, work, save)
        if not args.skip_online:
            _online_phase(args, figures, frames, work, save, analytics=False)
    else:
        _online_phase(args, figures, frames, work, save, analytics=not args.skip_analytics)
        if not args.skip_bulk:
            _bulk_phase(args, figures, frames, work, save)


def _time_analytics(
    args: argparse.Namespace, figures: Figures, driver: object, save: Callable[[], None]
) -> None:
    from graph.analytics import run_all

    only = [a.strip() for a in args.analytics.split(",") if a.strip()]

    def say(name: str, seconds: float) -> None:
        figures[f"analytics_{name}_s"] = round(seconds, 2)
        print(f"analytics {name}: {seconds:.2f}s", flush=True)
        save()

    run_all(driver, only=only, progress=say)  # type: ignore[arg-type]


def _online_phase(
    args: argparse.Namespace,
    figures: Figures,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    work: Path,
    save: Callable[[], None],
    *,
    analytics: bool,
) -> None:
    import neo4j

    from graph.load import graph_counts, load_frames
    from graph.server import local

    businesses, identifiers, orders = frames
    config = local.LocalServerConfig(
        data_dir=work / "online",
        bolt_port=args.port,
        heap=args.heap,
        pagecache=args.pagecache,
        apoc=False,
    )
    server = None
    if args.uri:
        driver = neo4j.GraphDatabase.driver(args.uri, auth=None)
    else:
        server = local.start(config, say=print)
        driver = neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password))
    try:
        attempts = ("first",) if args.skip_rerun else ("first", "rerun")
        for attempt in attempts:
            cpu_before = _cpu_seconds(server.pid) if server is not None else float("nan")
            t = time.perf_counter()
            result = load_frames(
                driver,
                businesses,
                identifiers,
                _chunks(orders, 100_000),
                None,
                key_fingerprint="benchmark",
                batch_size=args.batch_size,
                progress=_ProgressPrinter(f"online {attempt}", every=args.report_every),
            )
            total = time.perf_counter() - t
            server_cpu = (
                _cpu_seconds(server.pid) - cpu_before if server is not None else float("nan")
            )
            rate = result.orders_per_second
            figures[f"online_{attempt}_orders_per_s"] = round(rate)
            figures[f"online_{attempt}_orders_s"] = round(result.order_seconds, 1)
            figures[f"online_{attempt}_total_s"] = round(total, 1)
            figures[f"online_{attempt}_server_cpu_s"] = round(server_cpu, 1)
            print(
                f"online {attempt}: {result.tables['orders']} in {result.order_seconds:.1f}s "
                f"orders -> {rate:,.0f} orders/s (whole load {total:.1f}s, server CPU "
                f"{server_cpu:.1f}s -> {args.orders / server_cpu:,.0f} orders per CPU-second)",
                flush=True,
            )
            save()
        figures["client_peak_rss_mb_after_load"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )
        counts = graph_counts(driver)
        print(counts, flush=True)
        figures.update({f"graph_{k}": v for k, v in counts.items()})
        if server is not None:
            figures["server_rss_mb_after_load"] = round(_rss_mb(server.pid))
            figures["server_peak_rss_mb_load"] = round(_peak_rss_mb(server.pid))
        if analytics:
            _time_analytics(args, figures, driver, save)
            if server is not None:
                figures["server_peak_rss_mb_with_analytics"] = round(_peak_rss_mb(server.pid))
    finally:
        driver.close()
        if server is not None:
            local.stop(config)
            for key, value in _store_mb(config.data_dir / "data").items():
                figures[f"online_{key}"] = value
            save()
        print(
            f"client peak RSS so far: "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB",
            flush=True,
        )


def _bulk_config(args: argparse.Namespace, work: Path) -> object:
    from graph.server import local

    return local.LocalServerConfig(
        data_dir=work / "bulk",
        bolt_port=args.port + 1,
        heap=args.heap,
        pagecache=args.pagecache,
        apoc=False,
    )


def _bulk_phase(
    args: argparse.Namespace,
    figures: Figures,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    work: Path,
    save: Callable[[], None],
) -> None:
    from graph.bulk import bulk_import, write_import_csvs

    businesses, identifiers, orders = frames
    csv_dir = work / "csv"
    t = time.perf_counter()
    write_import_csvs(csv_dir, businesses, identifiers, [orders], None, key_fingerprint="benchmark")
    figures["bulk_csv_write_s"] = round(time.perf_counter() - t, 1)
    bulk_config = _bulk_config(args, work)
    t = time.perf_counter()
    with _ChildrenPeakRss() as admin_rss:
        imported = bulk_import(bulk_config, csv_dir)  # type: ignore[arg-type]
    figures["bulk_import_call_s"] = round(time.perf_counter() - t, 1)
    seconds = imported.seconds  # neo4j-admin alone
    figures["bulk_import_s"] = round(seconds, 1)
    figures["bulk_orders_per_s"] = round(len(orders) / seconds)
    rows = imported.nodes + imported.relationships
    figures["bulk_rows"] = rows
    figures["bulk_rows_per_s"] = round(rows / seconds)
    print(
        f"bulk import: {seconds:.1f}s -> {len(orders) / seconds:,.0f} orders/s, "
        f"{rows / seconds:,.0f} rows/s (+ CSV writing {figures['bulk_csv_write_s']}s)",
        flush=True,
    )
    figures["bulk_csv_mb"] = round(_du(csv_dir) / 2**20)
    figures["bulk_import_peak_rss_mb"] = round(admin_rss.peak_mb)
    for key, value in _store_mb(bulk_config.data_dir / "data").items():  # type: ignore[attr-defined]
        figures[f"bulk_{key}"] = value
    shutil.rmtree(csv_dir, ignore_errors=True)
    save()


def _analytics_on_bulk_store(
    args: argparse.Namespace, figures: Figures, work: Path, save: Callable[[], None]
) -> None:
    """Start a server on the bulk-imported store, create the schema, time the analytics."""
    import neo4j

    from graph.load import graph_counts
    from graph.schema import ensure_schema
    from graph.server import local

    config = _bulk_config(args, work)
    server = local.start(config, say=print)  # type: ignore[arg-type]
    driver = neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password))
    try:
        t = time.perf_counter()
        ensure_schema(driver, "benchmark")
        figures["bulk_schema_s"] = round(time.perf_counter() - t, 1)
        counts = graph_counts(driver)
        print(counts, flush=True)
        figures.update({f"bulk_graph_{k}": v for k, v in counts.items()})
        _time_analytics(args, figures, driver, save)
        figures["bulk_server_peak_rss_mb_with_analytics"] = round(_peak_rss_mb(server.pid))
    finally:
        driver.close()
        local.stop(config)  # type: ignore[arg-type]
        save()


class _ProgressPrinter:
    """Prints orders loaded, and orders/s since the first order batch, every ``every`` orders."""

    def __init__(self, label: str, every: int) -> None:
        self.label, self.every = label, every
        self.orders = 0
        self.next_report = every
        self.started: float | None = None

    def __call__(self, table: str, rows: int) -> None:
        if table != "orders":  # orders start when the tables before them are done
            self.started = time.perf_counter()
            return
        if self.started is None:
            self.started = time.perf_counter() - 1e-9
        self.orders += rows
        if self.orders >= self.next_report:
            seconds = time.perf_counter() - self.started
            print(
                f"  {self.label}: {self.orders:,} orders in {seconds:.0f}s "
                f"({self.orders / seconds:,.0f}/s, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            self.next_report += self.every


def _rust_ext() -> str:
    try:
        import neo4j._rust  # noqa: F401
    except ImportError:
        return "off"
    return "off" if os.environ.get("TRADEGRAPH_NO_RUST") else "on"


if __name__ == "__main__":
    main()
