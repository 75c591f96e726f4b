"""Throughput of the synthetic generator: time to generate (and write) about N orders.

Run: ``python benchmarks/generate_benchmark.py [--orders 1000000] [--write csv|parquet|none]
[--json out.json]``; the result goes to ``benchmarks/results/generate_benchmark.json`` unless
``--json`` names a file.
A small pilot run sets how many businesses give the requested number of orders; the figures
are for the full run only. Goal: 1M orders in under a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from results_io import command_line, generator_version, write_result

from loaders.synthetic import SyntheticConfig, generate_marketplace, write_export

PILOT_BUSINESSES = 3_000


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def businesses_for(orders: int, seed: int) -> int:
    """Businesses that yield about ``orders`` orders, from a small pilot's orders per business."""
    pilot = generate_marketplace(SyntheticConfig(n_businesses=PILOT_BUSINESSES, seed=seed))
    per_business = len(pilot.transactions) / PILOT_BUSINESSES
    return max(50, round(orders / per_business))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write", choices=["csv", "parquet", "none"], default="csv")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the result (default: benchmarks/results/generate_benchmark.json)",
    )
    args = parser.parse_args()

    n = businesses_for(args.orders, args.seed)
    started = time.perf_counter()
    market = generate_marketplace(SyntheticConfig(n_businesses=n, seed=args.seed))
    generated = time.perf_counter() - started
    rows = len(market.transactions)
    print(f"businesses={n:,} orders={rows:,}")
    print(f"generate: {generated:.1f}s  {rows / generated:,.0f} orders/s")
    figures: dict[str, object] = {
        "businesses": n,
        "orders": rows,
        "generate_s": round(generated, 2),
        "generate_orders_per_s": round(rows / generated),
        "write_format": args.write,
    }
    if args.write != "none":
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            write_export(market, Path(tmp), args.write)
            written = time.perf_counter() - t
        print(f"write {args.write}: {written:.1f}s  {rows / written:,.0f} orders/s")
        print(f"generate+write: {generated + written:.1f}s")
        figures["write_s"] = round(written, 2)
    figures["peak_rss_mib"] = round(peak_rss_mib())
    print(f"peak RSS: {figures['peak_rss_mib']:,} MiB")
    result = write_result(
        "generate_benchmark",
        figures,
        command=command_line(),
        generator_version=generator_version(),
        path=args.json,
    )
    print(f"result: {result}")


if __name__ == "__main__":
    main()
