"""Latency and throughput of the scoring API on loopback, against the configured graph and model.

Run after ``tradegraph demo`` (or load + train + score)::

    python benchmarks/api_latency.py [--requests 200] [--fly-requests 30] [--concurrency 8]

It serves ``tradegraph.api.create_app`` with uvicorn on 127.0.0.1 (a free port) in a process of
its own, as in production (clients and server in one Python process would share its lock),
and measures from this process:

* **stored**: ``GET /businesses/{id}/score`` for businesses with a stored score;
* **on the fly, warm**: ``POST /score`` for one id at a score date with no stored scores, so the
  model runs on the graph; the snapshot is cached between requests (the API's default);
* **on the fly, cold**: the same with the cache off, so every request reads the snapshot from
  Neo4j first (fewer requests: each costs a full snapshot read);
* **throughput**: ``GET /businesses/{id}/score`` from ``--concurrency`` clients, each a thread
  with its own keep-alive connection (``http.client``: a load generator should not spend the
  server's CPU, and these clients share the machine with it; the CPU each side spent per
  request, Neo4j included, is measured and stored beside the figures), errors counted; then
  the same load against ``tradegraph serve --workers N`` (``--workers``, default 2: one
  process per core), measured in the same run;
* **on the fly under load**: ``POST /score`` for one id from ``--concurrency`` threads, each
  request at one of ``--fly-dates`` score dates without stored scores (so several snapshots are
  read and scored side by side), errors counted.

Request counts are bounded by the options. It only reads the graph (nothing is written). The
result goes to ``benchmarks/results/api_latency.json`` unless ``--json`` names a file.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import pandas as pd
import psutil
import uvicorn
from results_io import command_line, write_result

from tradegraph.api import create_app
from tradegraph.api.scoring import next_midnight
from tradegraph.cli.common import open_driver
from tradegraph.settings import get_settings

SCORED_SMES = """
MATCH (b:Business) WHERE b.risk_pd IS NOT NULL AND coalesce(b.kind, 'sme') = 'sme'
RETURN b.business_id AS id ORDER BY b.business_id LIMIT $limit
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_worker(port: int, key: str, ttl: float) -> None:
    """The server side, in a process of its own (as in production): the app on ``port``."""
    settings = get_settings()
    driver = open_driver(settings)
    try:
        app = create_app(driver, settings, api_key=key, cache_ttl_s=ttl)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    finally:
        driver.close()


def _serve(key: str, ttl: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start the API in another process and wait until ``/health`` says it is up and its
    model is no longer loading (a server takes traffic once ready, as a load balancer's
    readiness check would have it; the first on-the-fly request is timed on its own)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-worker", str(port), "--key", key, "--ttl", str(ttl)]
    )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(server, base, seconds=60)
    return server, base


def _wait_ready(
    server: subprocess.Popen[bytes], base: str, *, seconds: int, answers: int = 1, workers: int = 0
) -> None:
    """Until ``answers`` ``/health`` answers in a row (each on a fresh connection, which the
    kernel spreads over the workers) say the server is up and no model is still loading, and
    ``workers`` worker processes run; exits the benchmark after ``seconds``."""
    ready = 0
    for _ in range(seconds * 10):
        try:
            health = httpx.get(f"{base}/health", timeout=1.0)
            ok = health.status_code == 200 and health.json().get("model") != "loading"
        except httpx.TransportError:
            ok = False
        ready = ready + 1 if ok else 0
        if ready >= answers and len(psutil.Process(server.pid).children(recursive=True)) >= workers:
            return
        time.sleep(0.1)
    server.kill()
    sys.exit(f"the API was not ready within {seconds} s")


def _latency(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return {"p50_ms": round(statistics.median(ms), 1), "p99_ms": round(p99, 1), "n": len(ms)}


def _percentiles(seconds: list[float]) -> str:
    stats = _latency(seconds)
    return f"p50 {stats['p50_ms']:8.1f} ms   p99 {stats['p99_ms']:8.1f} ms   (n={stats['n']})"


def _timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def _cpu_s(process: psutil.Process | None, *, workers: bool = False) -> float:
    """CPU seconds of ``process`` (and of its child processes with ``workers``)."""
    if process is None:
        return 0.0
    total = 0.0
    for p in (process, *(process.children(recursive=True) if workers else ())):
        times = p.cpu_times()
        total += times.user + times.system
    return total


def _neo4j_process() -> psutil.Process | None:
    """The local Neo4j's JVM, to count its CPU (None for a remote server)."""
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if "java" in line and "org.neo4j" in line:
            return process
    return None


def _stored_under_load(
    base: str, key: str, ids: list[str], server: subprocess.Popen[bytes], rng: random.Random, args
) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """``GET /businesses/{id}/score`` from ``--concurrency`` clients, each with a keep-alive
    connection of its own; requests/s, latency, errors and CPU per request of each process."""
    host, port = base.rsplit("//", 1)[1].rsplit(":", 1)
    local = threading.local()
    errors: list[int] = []

    def one(business_id: str) -> float | None:
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        started = time.perf_counter()
        local.conn.request("GET", f"/businesses/{business_id}/score", headers={"X-API-Key": key})
        response = local.conn.getresponse()
        response.read()
        if response.status != 200:
            errors.append(response.status)
            return None
        return time.perf_counter() - started

    jobs = [rng.choice(ids) for _ in range(args.load_requests)]
    processes = {
        "client": psutil.Process(),
        "server": psutil.Process(server.pid),
        "neo4j": _neo4j_process(),
    }
    measured = {name: p for name, p in processes.items() if p is not None}

    def cpu_now() -> dict[str, float]:
        return {name: _cpu_s(p, workers=name == "server") for name, p in measured.items()}

    before = cpu_now()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        timings = [t for t in pool.map(one, jobs) if t is not None]
    wall = time.perf_counter() - started
    cpu_ms = {
        f"cpu_ms_per_request_{name}": round((after - before[name]) * 1000 / len(jobs), 2)
        for name, after in cpu_now().items()
    }
    print(
        f"throughput, {args.concurrency} concurrent clients: {len(jobs) / wall:,.0f} "
        f"requests/s  {_percentiles(timings) if timings else '-'}  errors {len(errors)}  "
        + "  ".join(f"{k.rsplit('_', 1)[1]} {v} ms CPU" for k, v in cpu_ms.items())
    )
    return {
        "requests_per_s": round(len(jobs) / wall, 1),
        "errors": len(errors),
        **(_latency(timings) if timings else {}),
        **cpu_ms,
    }


def _fly_under_load(
    client: httpx.Client, ids: list[str], first_date: str, rng: random.Random, args
) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """``POST /score`` for one id at one of several score dates, from concurrent clients."""
    base = pd.Timestamp(first_date)
    dates = [str((base + pd.Timedelta(days=7 * k)).date()) for k in range(args.fly_dates)]
    jobs = [(rng.choice(ids), dates[i % len(dates)]) for i in range(args.fly_load_requests)]
    errors: list[int] = []

    def one(job: tuple[str, str]) -> float | None:
        started = time.perf_counter()
        response = client.post("/score", json={"business_ids": [job[0]], "as_of": job[1]})
        if response.status_code != 200:
            errors.append(response.status_code)
            return None
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        timings = [t for t in pool.map(one, jobs) if t is not None]
    wall = time.perf_counter() - started
    print(
        f"on the fly under load, {args.concurrency} clients, {len(dates)} dates: "
        f"{len(jobs) / wall:,.1f} requests/s  {_percentiles(timings) if timings else '-'}  "
        f"errors {len(errors)}"
    )
    return {
        "dates": dates,
        "requests": len(jobs),
        "errors": len(errors),
        "requests_per_s": round(len(jobs) / wall, 2),
        **(_latency(timings) if timings else {}),
    }


def _wait_idle(process: psutil.Process, timeout_s: float = 180.0) -> None:
    """Until ``process`` and its workers spend under a tenth of a core (warm-ups done)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = _cpu_s(process, workers=True)
        time.sleep(1.0)
        if _cpu_s(process, workers=True) - before < 0.1:
            return


def _serve_workers(key: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """``tradegraph serve --workers`` on a free port, once every worker is up and ready (ten
    ready answers in a row) and idle."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from tradegraph.cli.main import app; app()", "serve",
         "--port", str(port), "--workers", str(workers)],
        env=os.environ | {"TRADEGRAPH_API_KEY": key},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _wait_ready(server, base, seconds=300, answers=10, workers=workers)
    _wait_idle(psutil.Process(server.pid))
    return server, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="stored-score requests")
    parser.add_argument("--fly-requests", type=int, default=30, help="warm on-the-fly requests")
    parser.add_argument("--cold-requests", type=int, default=5, help="cold on-the-fly requests")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load-requests", type=int, default=800, help="requests under load")
    parser.add_argument("--fly-load-requests", type=int, default=48, help="on the fly, loaded")
    parser.add_argument("--fly-dates", type=int, default=3, help="score dates under load")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes of the second load (0: skip)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the result (default: benchmarks/results/api_latency.json)",
    )
    parser.add_argument("--serve-worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--key", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ttl", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_worker is not None:
        _serve_worker(args.serve_worker, args.key, args.ttl)
        return
    figures: dict[str, object] = {"concurrency": args.concurrency, "server": "own process"}
    lake = get_settings().lake
    figures["snapshots_from"] = f"lake {lake}" if lake else "Neo4j over Bolt"

    settings = get_settings()
    key = "bench-" + os.urandom(8).hex()
    rng = random.Random(args.seed)
    driver = open_driver(settings)
    try:
        ids = [r["id"] for r in driver.execute_query(SCORED_SMES, limit=5000).records]
        if not ids:
            sys.exit("No stored scores in the graph: run `tradegraph demo` (or train and score).")
        # A score date with no stored scores, so POST /score runs the model on the graph.
        fly_date = str(next_midnight().date())
        print(f"graph: {len(ids)} scored SMEs sampled; on-the-fly score date {fly_date}")
        headers = {"X-API-Key": key}
        for label, ttl in (("warm", 600.0), ("cold", 0.0)):
            server, base = _serve(key, ttl)
            with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                if label == "warm":
                    for bid in rng.sample(ids, min(10, len(ids))):  # warm-up
                        client.get(f"/businesses/{bid}/score").raise_for_status()
                    stored = [
                        _timed(partial(client.get, f"/businesses/{rng.choice(ids)}/score"))
                        for _ in range(args.requests)
                    ]
                    print(
                        f"stored score      GET  /businesses/{{id}}/score  {_percentiles(stored)}"
                    )
                    figures["stored"] = _latency(stored)
                    first = _timed(
                        lambda: client.post(
                            "/score", json={"business_ids": [ids[0]], "as_of": fly_date}
                        )
                    )
                    print(f"on the fly, first request (reads the snapshot) {first * 1000:.0f} ms")
                    figures["fly_first_ms"] = round(first * 1000, 1)
                n = args.fly_requests if label == "warm" else args.cold_requests
                fly = [
                    _timed(
                        partial(
                            client.post,
                            "/score",
                            json={"business_ids": [rng.choice(ids)], "as_of": fly_date},
                        )
                    )
                    for _ in range(n)
                ]
                print(f"on the fly, {label}  POST /score (1 id)          {_percentiles(fly)}")
                figures[f"fly_{label}"] = _latency(fly)
                if label == "warm":
                    figures["concurrent"] = _stored_under_load(base, key, ids, server, rng, args)
                    figures["fly_concurrent"] = _fly_under_load(client, ids, fly_date, rng, args)
            server.terminate()
            server.wait(timeout=30)
        if args.workers:
            server, base = _serve_workers(key, args.workers)
            try:
                with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                    # Warm-up on one keep-alive connection (so mostly one worker; the
                    # others opened their Neo4j connections while getting ready).
                    for bid in rng.sample(ids, min(50, len(ids))):
                        client.get(f"/businesses/{bid}/score").raise_for_status()
                figures["concurrent_workers"] = {
                    "workers": args.workers,
                    **_stored_under_load(base, key, ids, server, rng, args),
                }
            finally:
                server.terminate()
                server.wait(timeout=60)
    finally:
        driver.close()
    print(f"machine: {os.cpu_count()} CPUs; Neo4j at {settings.neo4j_uri or 'the local server'}")
    figures["scored_smes_sampled"] = len(ids)
    written = write_result("api_latency", figures, command=command_line(), path=args.json)
    print(f"result: {written}")


if __name__ == "__main__":
    main()
