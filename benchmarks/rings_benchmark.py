"""How well the fraud-query library finds the synthetic generator's planted rings, and how fast
each library query runs, on the default marketplace and on one ``--scales`` times larger.

Usage (WIPES the database it is pointed at; use a scratch server)::

    python benchmarks/rings_benchmark.py --uri bolt://127.0.0.1:7687 --wipe [--scales 1 10]
        [--password PW] [--json out.json]  # default: benchmarks/results/rings_benchmark.json
    python benchmarks/rings_benchmark.py --uri ... --reuse --scales 1   # already loaded + analysed

Per scale: generate the marketplace (``SyntheticConfig(n_businesses=10_000 * scale)``), load it
with ``graph.load.load_frames``, run the analytics (Louvain communities are needed by
``risky_communities``), then

- **ring detection** at the library's default thresholds (``identifier_rings``): business-level
  precision/recall against the ground truth's ``ring_id``, and ring-level recall (a planted ring
  counts as found when one reported ring overlaps it with Jaccard >= 0.5);
- **innocent sharing**: how many family members and shared-warehouse tenants are reported, at
  the defaults and with the internal-trade guard switched off (``min_internal_share=0``);
- **circular_trading and bust_out**: business-level precision/recall of the businesses they
  flag (any business on a reported cycle, from the batched search; every reported business)
  against the ring members;
- **time of every library query** with its defaults (``neighbourhood`` on a ring member;
  ``--skip-queries`` leaves some out), of the batched searches ``clusters`` uses
  (``graph.wash``, ``graph.cycles``) against each query's stated budget (``seconds``
  header), and of the whole ``clusters`` run (``graph.clusters.refresh_clusters``: each
  detector's time and status, then the write), whose clusters the suspicion ranking scores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import neo4j
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results_io import command_line, generator_version, write_result

from graph.analytics import run_all
from graph.clusters import refresh_clusters
from graph.cycles import circular_trading
from graph.load import load_frames
from graph.query_library import load_library, run_query
from graph.schema import key_fingerprint
from graph.wash import wash_trading
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames

DEMO_KEY = "tradegraph-DEMO-KEY-public-not-for-real-data"
#: Longest a library query is timed for; one still running then is recorded as timed out.
QUERY_TIMEOUT_S = 600
#: Server errors that stop one query without ending the run, and how the result names them.
STOPPED = {
    "TimedOut": f"timed out after {QUERY_TIMEOUT_S} s",
    "Terminated": f"timed out after {QUERY_TIMEOUT_S} s",
    "MemoryPoolOutOfMemory": "ran out of the server's transaction memory",
}


def wipe(driver: neo4j.Driver) -> None:
    """Delete every relationship, then every node, in batches (constraints and indexes stay).
    Relationships first: detaching a hub with hundreds of thousands of them inside one batch
    runs past the server's transaction memory limit."""
    with driver.session() as session:
        session.run(
            "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
        session.run("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


def ring_scores(reported: list[list[str]], truth: pd.DataFrame) -> dict[str, Any]:
    """Business- and ring-level precision/recall of ``reported`` member lists vs ``truth``
    (one row per business: ring_id, family_group, shared_warehouse)."""
    planted = truth.dropna(subset=["ring_id"]).groupby("ring_id")["business_id"].apply(set)
    ring_members = set().union(*planted) if len(planted) else set()
    flagged = set().union(*map(set, reported)) if reported else set()
    hits = flagged & ring_members
    found = sum(
        any(len(set(r) & ring) / len(set(r) | ring) >= 0.5 for r in reported) for ring in planted
    )
    pure = sum(
        any(len(set(r) & ring) / len(set(r) | ring) >= 0.5 for ring in planted) for r in reported
    )
    family = set(truth.loc[truth["family_group"].notna(), "business_id"])
    tenants = set(truth.loc[truth["shared_warehouse"].notna(), "business_id"])
    return {
        "planted_rings": len(planted),
        "planted_members": len(ring_members),
        "reported_rings": len(reported),
        "reported_members": len(flagged),
        "member_precision": round(len(hits) / len(flagged), 4) if flagged else None,
        "member_recall": round(len(hits) / len(ring_members), 4) if ring_members else None,
        "rings_found": found,
        "ring_recall": round(found / len(planted), 4) if len(planted) else None,
        "ring_precision": round(pure / len(reported), 4) if reported else None,
        "family_members_total": len(family),
        "family_members_reported": len((flagged - ring_members) & family),
        "warehouse_tenants_total": len(tenants),
        "warehouse_tenants_reported": len((flagged - ring_members) & tenants),
    }


def member_scores(flagged: set[str], truth: pd.DataFrame) -> dict[str, Any]:
    """Business-level precision/recall of ``flagged`` ids against the planted ring members."""
    members = set(truth.dropna(subset=["ring_id"])["business_id"])
    hits = flagged & members
    return {
        "flagged": len(flagged),
        "ring_members_flagged": len(hits),
        "member_precision": round(len(hits) / len(flagged), 4) if flagged else None,
        "member_recall": round(len(hits) / len(members), 4) if members else None,
    }


def suspicion_ranking(clusters: list[Any], truth: pd.DataFrame) -> dict[str, Any]:
    """The combined ranking an analyst works down: of the top ``2 x planted rings`` clusters
    by suspicion, how many planted rings they find (Jaccard >= 0.5; and by the goal's rule, a
    top cluster holding half of the ring's members or more) and what share of their members
    are ring members. Among them, the **non-ring** clusters (mostly not ring members) and the
    **innocent groups** the goal counts: a non-ring cluster that is one of the generator's
    look-alike groups (a family, a warehouse's tenants, an accountant's clients, co-working
    tenants, a lent device's users, an aggregator's account holders) - at least two of its
    members and half of the cluster from the same group, so what was flagged is that group's
    innocent sharing. Beside it, the looser count of non-ring clusters half made of look-alike
    members of any groups (one of a pair; about 16% of businesses are look-alikes, so chance
    alone puts one in about 3 of 10 random pairs), with the family groups among the innocent."""
    planted = truth.dropna(subset=["ring_id"]).groupby("ring_id")["business_id"].apply(set)
    top = [set(c.members) for c in clusters[: 2 * len(planted)]]
    scores = ring_scores([sorted(t) for t in top], truth)
    ring_members = set().union(*planted) if len(planted) else set()
    groups = lookalike_groups(truth)
    lookalikes = set().union(*groups.values()) if groups else set()
    non_ring = [t for t in top if 2 * len(t & ring_members) < len(t)]
    innocent = [t for t in non_ring if _is_group(t, groups.values())]
    family = [g for (column, _), g in groups.items() if column == "family_group"]
    # The goal's own rule: a ring is found when one top cluster holds half of its members or
    # more (less strict than Jaccard >= 0.5, which also counts the cluster's other members).
    held = sum(any(2 * len(t & ring) >= len(ring) for t in top) for ring in planted)
    with_lookalikes = [t for t in non_ring if 2 * len(t & lookalikes) >= len(t)]
    return {
        "top_clusters": len(top),
        "rings_found": scores["rings_found"],
        "ring_recall": scores["ring_recall"],
        "rings_half_held": held,
        "ring_recall_half_held": round(held / len(planted), 4) if len(planted) else None,
        "member_precision": scores["member_precision"],
        "non_ring_clusters": len(non_ring),
        "non_ring_share": round(len(non_ring) / len(top), 4) if top else None,
        "innocent_clusters": len(innocent),
        "innocent_share": round(len(innocent) / len(top), 4) if top else None,
        "innocent_family_clusters": sum(_is_group(t, family) for t in innocent),
        "lookalike_member_clusters": len(with_lookalikes),
        "lookalike_member_share": round(len(with_lookalikes) / len(top), 4) if top else None,
        "lookalike_business_share": round(len(lookalikes) / len(truth), 4) if len(truth) else None,
    }


def lookalike_groups(truth: pd.DataFrame) -> dict[tuple[str, Any], set[str]]:
    """Each innocent look-alike group of the ground truth, keyed by (column, group id)."""
    groups: dict[tuple[str, Any], set[str]] = {}
    for column in ("family_group", "shared_warehouse", "lookalike_group"):
        if column not in truth:
            continue
        known = truth.dropna(subset=[column])
        for group_id, members in known.groupby(column)["business_id"]:
            groups[(column, group_id)] = set(members)
    return groups


def _is_group(cluster: set[str], groups: Any) -> bool:
    """Whether ``cluster`` is mostly one of ``groups``: two or more of its members and at least
    half of the cluster come from the same group."""
    return any(len(cluster & g) >= 2 and 2 * len(cluster & g) >= len(cluster) for g in groups)


def bulk_load(server: Any, market: Any, work: Path) -> None:
    """The first load at scale: the marketplace written as an export and bulk-imported into the
    local server's database (``graph.bulk.bulk_load_export``, as ``load --bulk`` does)."""
    from graph.bulk import bulk_load_export
    from loaders.synthetic import write_export

    shutil.rmtree(work, ignore_errors=True)
    write_export(market, work / "export")
    bulk_load_export(
        server, work / "export", DEMO_KEY.encode(), rejects_dir=work / "rejects",
        overwrite=True, say=lambda m: print(f"  {m}", flush=True),
    )  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


def bench_scale(
    driver: neo4j.Driver,
    scale: int,
    seed: int,
    reuse: bool,
    camouflage: bool = False,
    server: Any = None,
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Generate (and, unless ``reuse``, load and analyse) one scale, then score and time.
    With ``server`` (a ``LocalServerConfig``) the load is a bulk import into it."""
    config = SyntheticConfig(n_businesses=10_000 * scale, seed=seed, camouflage=camouflage)
    started = time.perf_counter()
    market = generate_marketplace(config)
    about = {"scale": scale, "seed": seed, "camouflage": camouflage}
    if reuse:
        return score_and_time(driver, market, scale, {**about, "reused_database": True}, skip)
    businesses, identifiers, orders, outcomes = to_contract_frames(market, DEMO_KEY)
    out: dict[str, Any] = {
        **about,
        "businesses": len(businesses),
        "orders": len(orders),
        "generate_s": round(time.perf_counter() - started, 1),
    }
    print(f"[x{scale}] generated {len(orders):,} orders", flush=True)
    started = time.perf_counter()
    if server is not None:
        bulk_load(server, market, server.data_dir.parent / f"{server.data_dir.name}-bulk-work")
        out["load"] = "bulk import (validate, CSVs, neo4j-admin import, restart)"
    else:
        wipe(driver)
        load_frames(
            driver,
            businesses,
            identifiers,
            [orders],
            outcomes,
            key_fingerprint=key_fingerprint(DEMO_KEY.encode()),
        )
        out["load"] = "online (graph.load.load_frames)"
    out["load_s"] = round(time.perf_counter() - started, 1)
    print(f"[x{scale}] loaded in {out['load_s']}s", flush=True)
    out["analytics_s"] = {k: round(v, 1) for k, v in run_all(driver).items()}
    return score_and_time(driver, market, scale, out, skip)


def score_and_time(
    driver: neo4j.Driver,
    market: Any,
    scale: int,
    out: dict[str, Any],
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Precision/recall against the planted rings and each library query's time (the
    queries named in ``skip`` are not run)."""
    truth = market.ground_truth.drop_duplicates("business_id")[
        ["business_id", "ring_id", "family_group", "shared_warehouse", "lookalike_group"]
    ]
    library = load_library()
    default_rings = run_query(driver, library["identifier_rings"]).rows
    out["rings_default"] = ring_scores([r["members"] for r in default_rings], truth)
    unguarded = run_query(driver, library["identifier_rings"], {"min_internal_share": 0.0}).rows
    out["rings_no_internal_trade_guard"] = ring_scores([r["members"] for r in unguarded], truth)

    some_ring_member = truth.dropna(subset=["ring_id"])["business_id"].iloc[0]
    timings: dict[str, Any] = {}
    for name, query in library.items():
        if name in skip:
            timings[name] = {"budget_s": query.seconds, "stopped": "not run (--skip-queries)"}
            continue
        params = {"business_id": some_ring_member} if name == "neighbourhood" else {}
        if name in ("circular_trading", "bust_out"):
            params["limit"] = 1_000_000  # score everything found, not the first page
        started = time.perf_counter()
        try:
            result = run_query(driver, query, params, timeout_s=QUERY_TIMEOUT_S)
        except (neo4j.exceptions.ClientError, neo4j.exceptions.TransientError) as error:
            code = error.code or ""
            stopped = next((why for key, why in STOPPED.items() if key in code), None)
            if stopped is None:
                raise
            timings[name] = {
                "seconds": round(time.perf_counter() - started, 2),
                "budget_s": query.seconds,
                "stopped": stopped,
            }
            print(f"[x{scale}] {name}: stopped ({stopped})", flush=True)
            continue
        timings[name] = {
            "seconds": round(result.seconds, 2),
            "budget_s": query.seconds,
            "rows": len(result.rows),
        }
        print(f"[x{scale}] {name}: {result.seconds:.2f}s, {len(result.rows)} rows", flush=True)
        if name == "bust_out":
            out["bust_out"] = member_scores({r["business_id"] for r in result.rows}, truth)
    started = time.perf_counter()
    batched = wash_trading(driver)
    timings["wash_trading.batched"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "budget_s": library["wash_trading"].seconds,
        "rows": len(batched),
    }
    print(f"[x{scale}] wash_trading (batched): {timings['wash_trading.batched']}", flush=True)
    # Detection is scored on the batched search's rows (the library query's rows, by test),
    # which finish at every scale.
    started = time.perf_counter()
    loops = circular_trading(driver, {"limit": 1_000_000})
    timings["circular_trading.batched"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "budget_s": library["circular_trading"].seconds,
        "rows": len(loops),
    }
    print(f"[x{scale}] circular_trading (batched): {timings['circular_trading.batched']}")
    out["circular_trading"] = member_scores({b for r in loops for b in r["businesses"]}, truth)
    # The whole `tradegraph clusters` run: every detector within its budget, then the write.
    started = time.perf_counter()
    run = refresh_clusters(driver)
    timings["clusters"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "rows": len(run.clusters),
        "partial": run.partial,
        "detectors": {
            d.name: {"status": d.status, "seconds": round(d.seconds, 2), "budget_s": d.budget_s}
            for d in run.detectors
        },
    }
    out["suspicion_ranking"] = suspicion_ranking(run.clusters, truth)
    out["query_times"] = timings
    return out


def print_summary(result: dict[str, Any]) -> None:
    """One line per detector (precision/recall) and per query (time against budget)."""
    scale = result["scale"]
    for name in ("rings_default", "circular_trading", "bust_out", "suspicion_ranking"):
        s = result.get(name, {})
        print(
            f"[x{scale}] {name}: member precision {s.get('member_precision')}, "
            f"recall {s.get('member_recall')}"
            + (f", ring recall {s['ring_recall']}" if "ring_recall" in s else "")
        )
    for name, timing in result["query_times"].items():
        if "seconds" not in timing:
            print(f"[x{scale}] {name}: {timing.get('stopped')}")
            continue
        budget = timing.get("budget_s")
        verdict = "" if budget is None else (" OK" if timing["seconds"] <= budget else " OVER")
        stated = "no budget" if budget is None else f"budget {budget}s"
        print(f"[x{scale}] {name}: {timing['seconds']}s ({stated}){verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True, help="Bolt URI of a scratch server.")
    parser.add_argument("--user", default="neo4j")
    parser.add_argument("--password", default=None)
    parser.add_argument("--wipe", action="store_true", help="Confirm the database may be wiped.")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument(
        "--camouflage", action="store_true", help="Generate with SyntheticConfig(camouflage=True)."
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="Where to write the result (default: benchmarks/results/rings_benchmark.json).",
    )
    parser.add_argument(
        "--bulk-data-dir",
        type=Path,
        default=None,
        help="Bulk-import each scale into the local server tradegraph runs from this data "
        "folder (the server --uri names; its database is replaced).",
    )
    parser.add_argument(
        "--skip-queries",
        nargs="*",
        default=[],
        help="Library queries not to time (e.g. circular_trading at 10x, whose in-server "
        "expansion runs out of transaction memory there); their batched paths still run.",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="The database already holds this seed's marketplace, loaded and analysed "
        "(one scale only): skip wipe, load and analytics.",
    )
    args = parser.parse_args()
    if args.reuse and len(args.scales) != 1:
        parser.error("--reuse needs exactly one --scales value (the one that is loaded)")
    if not args.wipe and not args.reuse:
        parser.error("this benchmark deletes everything in the database: pass --wipe to confirm")
    auth = (args.user, args.password) if args.password else None
    server = None
    if args.bulk_data_dir is not None:
        from graph.server.local import LocalServerConfig

        port = int(args.uri.rsplit(":", 1)[1])
        server = LocalServerConfig(data_dir=args.bulk_data_dir, bolt_port=port, apoc=False)
    results = []
    with neo4j.GraphDatabase.driver(args.uri, auth=auth) as driver:
        for seed in args.seeds:
            for scale in args.scales:
                results.append(
                    bench_scale(
                        driver,
                        scale,
                        seed,
                        args.reuse,
                        args.camouflage,
                        server,
                        frozenset(args.skip_queries),
                    )
                )
                print(json.dumps(results[-1], indent=2), flush=True)
                print_summary(results[-1])
                written = write_result(  # after every scale: a later failure keeps these
                    "rings_benchmark",
                    results,
                    command=command_line(),
                    generator_version=generator_version(),
                    path=args.json,
                )
    print(f"result: {written}")


if __name__ == "__main__":
    main()
