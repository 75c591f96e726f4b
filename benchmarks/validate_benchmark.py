"""Throughput and peak memory of `validate` on N generated orders (default 1M), plus pandera vs
vectorised pandas on the same per-row checks.

Generates a valid export itself (no dependency on the synthetic generator): N/20 businesses
with identifiers and N orders (mixed time zones, an fx currency, blank optional fields), as CSV.
Validation runs in a child process so its peak RSS (sampled every 20 ms) is measured alone.

    python benchmarks/validate_benchmark.py --orders 1000000 [--keep DIR] [--chunk-rows 200000]

The result goes to ``benchmarks/results/validate_benchmark.json`` unless ``--json`` names a file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from results_io import command_line, write_result


def generate(folder: Path, orders: int, seed: int = 0) -> None:
    """Write a valid export with ``orders`` orders and ``orders // 20`` businesses."""
    rng = np.random.default_rng(seed)
    n_biz = max(orders // 20, 10)
    ids = np.char.add("B", np.arange(n_biz).astype(str))
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "business_id": ids,
            "kind": rng.choice(["sme", "consumer", "enterprise"], n_biz),
            "registered_at": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1500, n_biz), unit="D"),
            "region": rng.choice(["ON", "QC", "BC", "AB"], n_biz),
            "industry": rng.choice(["timber", "furniture", "retail", "food"], n_biz),
            "employees": rng.integers(0, 500, n_biz),
            "phone": np.char.add("+1 555 ", rng.integers(10**6, 10**7, n_biz).astype(str)),
            "device_id": np.char.add("dev-", rng.integers(0, n_biz, n_biz).astype(str)),
            "address": np.char.add(rng.integers(1, 999, n_biz).astype(str), " Bench Street"),
            "bank_account": np.char.add("BANK", np.arange(n_biz).astype(str)),
            "owner_id": np.char.add("own", rng.integers(0, n_biz, n_biz).astype(str)),
        }
    ).to_csv(folder / "businesses.csv", index=False, date_format="%Y-%m-%d")
    seller = rng.integers(0, n_biz, orders)
    buyer = (seller + rng.integers(1, n_biz, orders)) % n_biz
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 86400, orders), unit="s"
    )
    ts_text = np.char.add(
        np.asarray(ts.strftime("%Y-%m-%dT%H:%M:%S"), dtype=str),
        rng.choice(["Z", "", "+02:00"], orders),
    )
    pd.DataFrame(
        {
            "txn_id": np.char.add("T", np.arange(orders).astype(str)),
            "buyer_id": ids[buyer],
            "seller_id": ids[seller],
            "ts": ts_text,
            "amount": np.round(rng.lognormal(5, 1.2, orders), 2),
            "currency": rng.choice(["", "USD", "CAD"], orders, p=[0.6, 0.3, 0.1]),
            "status": rng.choice(
                ["completed", "refunded", "disputed", "cancelled"],
                orders,
                p=[0.9, 0.04, 0.02, 0.04],
            ),
            "status_at": "",
            "category": rng.choice(["", "a", "b", "c"], orders),
        }
    ).to_csv(folder / "transactions.csv", index=False)
    pd.DataFrame({"currency": ["CAD"], "rate_to_base": [0.73]}).to_csv(
        folder / "fx_rates.csv", index=False
    )


def validate_child(folder: Path, chunk_rows: int) -> dict[str, float]:
    """Runs in the child: validate and report seconds and peak RSS (MiB)."""
    from loaders.validate import validate_export

    process = psutil.Process()
    peak_bytes = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:  # ru_maxrss would include the parent's RSS at fork time
        nonlocal peak_bytes
        while not done.wait(0.02):
            peak_bytes = max(peak_bytes, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    report = validate_export(folder, b"benchmark-key", rejects_dir=None, chunk_rows=chunk_rows)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    assert report.rejected == 0 and report.reconciles(), report.render()
    peak = max(peak_bytes, process.memory_info().rss) / 2**20
    return {
        "seconds": seconds,
        "orders": report.tables["transactions"].read,
        "businesses": report.tables["businesses"].read,
        "peak_rss_mib": peak,
    }


def pandera_vs_pandas(folder: Path, rows: int) -> dict[str, float]:
    """The transactions column checks on one chunk: our vectorised pandas vs pandera built-ins."""
    import pandera.pandas as pa

    from loaders import contract as c
    from loaders.rowchecks import RowChecks, check_columns
    from loaders.rowchecks import text as _text

    raw = pd.read_csv(
        folder / "transactions.csv", dtype="str", keep_default_na=False, na_filter=False, nrows=rows
    )
    start = time.perf_counter()
    checks = RowChecks(len(raw))
    check_columns(raw, c.TRANSACTIONS, checks, "USD")
    reasons = checks.reasons()
    pandas_s = time.perf_counter() - start

    start = time.perf_counter()
    text = {name: _text(raw[name], len(raw)) for name in raw.columns}
    parsed = pd.DataFrame(
        {
            "txn_id": text["txn_id"],
            "buyer_id": text["buyer_id"],
            "seller_id": text["seller_id"],
            "ts": pd.to_datetime(text["ts"], utc=True, errors="coerce", format="ISO8601"),
            "amount": pd.to_numeric(text["amount"], errors="coerce"),
            "status": text["status"].str.lower(),
            "status_at": pd.to_datetime(
                text["status_at"].where(text["status_at"] != ""),
                utc=True,
                errors="coerce",
                format="ISO8601",
            ),
        }
    )
    ident = pa.Column(str, pa.Check.str_length(1, c.ID_MAX_LENGTH))
    schema = pa.DataFrameSchema(
        {
            "txn_id": ident,
            "buyer_id": ident,
            "seller_id": ident,
            "ts": pa.Column("datetime64[ns, UTC]", nullable=False, coerce=True),
            "amount": pa.Column(float, pa.Check.gt(0), nullable=False),
            "status": pa.Column(str, pa.Check.isin(c.ORDER_STATUSES)),
            "status_at": pa.Column("datetime64[ns, UTC]", nullable=True, coerce=True),
        }
    )
    try:
        schema.validate(parsed, lazy=True)
        failed = 0
    except pa.errors.SchemaErrors as errors:
        failed = errors.failure_cases["index"].nunique()
    pandera_s = time.perf_counter() - start
    assert failed == 0 and (reasons == "").all()
    return {
        "rows": len(raw),
        "pandas_rows_per_s": len(raw) / pandas_s,
        "pandera_rows_per_s": len(raw) / pandera_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the result (default: benchmarks/results/validate_benchmark.json)",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(validate_child(args.child, args.chunk_rows)))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tradegraph-bench-"))
    if not (folder / "transactions.csv").exists():
        start = time.perf_counter()
        generate(folder, args.orders)
        print(f"generated {args.orders:,} orders in {time.perf_counter() - start:.1f}s -> {folder}")
    size = (folder / "transactions.csv").stat().st_size / 2**20
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(folder), "--chunk-rows", str(args.chunk_rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"validate: {result['orders']:,} orders + {result['businesses']:,} businesses "
        f"({size:.0f} MiB CSV) in {result['seconds']:.1f}s = "
        f"{result['orders'] / result['seconds']:,.0f} orders/s; "
        f"peak RSS {result['peak_rss_mib']:.0f} MiB (chunk_rows={args.chunk_rows:,})"
    )
    compare = pandera_vs_pandas(folder, min(args.orders, args.chunk_rows))
    print(
        f"per-row column checks on {compare['rows']:,} rows: vectorised pandas "
        f"{compare['pandas_rows_per_s']:,.0f} rows/s, "
        f"pandera {compare['pandera_rows_per_s']:,.0f} rows/s"
    )
    figures = {
        "orders": result["orders"],
        "businesses": result["businesses"],
        "csv_mib": round(size),
        "chunk_rows": args.chunk_rows,
        "seconds": round(result["seconds"], 1),
        "orders_per_s": round(result["orders"] / result["seconds"]),
        "peak_rss_mib": round(result["peak_rss_mib"]),
        "row_checks": {k: round(v) for k, v in compare.items()},
    }
    written = write_result("validate_benchmark", figures, command=command_line(), path=args.json)
    print(f"result: {written}")
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
