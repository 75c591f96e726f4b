"""Benchmark: online (idempotent) load vs offline bulk import of the same orders, and analytics.

Usage (starts its own local servers under --work-dir unless --uri is given)::

    python benchmarks/load_benchmark.py --orders 200000 --businesses 10000

Prints orders/s of the online path (first load, then a re-run that finds everything
unchanged), orders per second of server CPU (comparable across runs on a busy shared
machine, where wall-clock rates swing with other load), bulk-import rows/s on the same data,
each analytic's time, store size and the server's RSS. Defaults finish in a few minutes on
a 2-core machine; ``--orders 1000000`` is the issue's full size. Data is a random power-law
marketplace made here with numpy, so the benchmark does not depend on the generator's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import neo4j

    from graph.analytics import run_all
    from graph.bulk import bulk_import, write_import_csvs
    from graph.load import graph_counts, load_frames
    from graph.server import local

    figures: dict[str, float | int | str] = {
        "orders": args.orders,
        "businesses": args.businesses,
        "batch_size": args.batch_size,
        "rust_ext": _rust_ext(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count() or 0,
    }
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="tradegraph-bench-"))
    started = time.perf_counter()
    businesses, identifiers, orders = make_marketplace(args.businesses, args.orders)
    print(f"generated {len(orders):,} orders in {time.perf_counter() - started:.1f}s", flush=True)

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
        for attempt in ("first", "rerun"):
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
            )
            total = time.perf_counter() - t
            server_cpu = (
                _cpu_seconds(server.pid) - cpu_before if server is not None else float("nan")
            )
            rate = result.orders_per_second
            figures[f"online_{attempt}_orders_per_s"] = round(rate)
            figures[f"online_{attempt}_total_s"] = round(total, 1)
            figures[f"online_{attempt}_server_cpu_s"] = round(server_cpu, 1)
            print(
                f"online {attempt}: {result.tables['orders']} in {result.order_seconds:.1f}s "
                f"orders -> {rate:,.0f} orders/s (whole load {total:.1f}s, server CPU "
                f"{server_cpu:.1f}s -> {args.orders / server_cpu:,.0f} orders per CPU-second)",
                flush=True,
            )
        print(graph_counts(driver))
        if server is not None:
            figures["server_rss_mb_after_load"] = round(_rss_mb(server.pid))
        if not args.skip_analytics:
            for name, seconds in run_all(driver).items():
                figures[f"analytics_{name}_s"] = round(seconds, 2)
                print(f"analytics {name}: {seconds:.2f}s", flush=True)
    finally:
        driver.close()
        if server is not None:
            local.stop(config)
            figures["online_store_mb"] = round(_du(config.data_dir / "data") / 2**20)

    if not args.skip_bulk:
        csv_dir = work / "csv"
        t = time.perf_counter()
        write_import_csvs(
            csv_dir, businesses, identifiers, [orders], None, key_fingerprint="benchmark"
        )
        figures["bulk_csv_write_s"] = round(time.perf_counter() - t, 1)
        bulk_config = local.LocalServerConfig(
            data_dir=work / "bulk",
            bolt_port=args.port + 1,
            heap=args.heap,
            pagecache=args.pagecache,
            apoc=False,
        )
        t = time.perf_counter()
        bulk_import(bulk_config, csv_dir)
        seconds = time.perf_counter() - t
        figures["bulk_import_s"] = round(seconds, 1)
        figures["bulk_orders_per_s"] = round(len(orders) / seconds)
        print(
            f"bulk import: {seconds:.1f}s -> {len(orders) / seconds:,.0f} orders/s "
            f"(+ CSV writing {figures['bulk_csv_write_s']}s)",
            flush=True,
        )
        figures["bulk_store_mb"] = round(_du(bulk_config.data_dir / "data") / 2**20)

    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)


def _rust_ext() -> str:
    try:
        import neo4j._rust  # noqa: F401
    except ImportError:
        return "off"
    return "off" if os.environ.get("TRADEGRAPH_NO_RUST") else "on"


if __name__ == "__main__":
    main()
