"""Throughput of the synthetic generator: time to generate (and write) about N orders.

Run: ``python benchmarks/generate_benchmark.py [--orders 1000000] [--write csv|parquet|none]``.
A small pilot run sets how many businesses give the requested number of orders; the figures
are for the full run only. Goal: 1M orders in under a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

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
    args = parser.parse_args()

    n = businesses_for(args.orders, args.seed)
    started = time.perf_counter()
    market = generate_marketplace(SyntheticConfig(n_businesses=n, seed=args.seed))
    generated = time.perf_counter() - started
    rows = len(market.transactions)
    print(f"businesses={n:,} orders={rows:,}")
    print(f"generate: {generated:.1f}s  {rows / generated:,.0f} orders/s")
    if args.write != "none":
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            write_export(market, Path(tmp), args.write)
            written = time.perf_counter() - t
        print(f"write {args.write}: {written:.1f}s  {rows / written:,.0f} orders/s")
        print(f"generate+write: {generated + written:.1f}s")
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
