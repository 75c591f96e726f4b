"""Offline first load: CSVs for ``neo4j-admin database import full``, and running it.

Only for an EMPTY database (import full replaces the store) on a STOPPED server - stopping
it is the caller's job (``graph.server.local.stop``). The CSVs hold the same graph the
online path builds, including ``TRADES_WITH`` summed in pandas, hub flags and the
``(:SchemaInfo)`` record; constraints and indexes are created by ``ensure_schema`` on the
first online use (``load_frames`` does it), after which an online load of the same export
finds everything unchanged.

Every import goes through :func:`guard_bulk_target` (``bulk_import`` calls it; callers may
call it earlier to fail before writing CSVs). It never touches a data folder tradegraph did
not create (no ``VERSION`` marker), and it replaces a database only when it is empty or the
caller passes ``overwrite=True``. Emptiness is checked whether or not the server runs: over
Bolt when it runs, from the store files when it is stopped (``neo4j-admin database info``
for an unclean shutdown or a server tradegraph does not know of, then the node store's
in-use flags).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graph.pairs import combine_pair_totals, pair_totals
from graph.schema import SCHEMA_VERSION
from graph.server import local
from graph.server.errors import Neo4jSetupError
from loaders.columns import HUB_THRESHOLD, IDENTIFIER_COLUMNS

logger = logging.getLogger(__name__)

_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Node records of Neo4j 5's ``record-aligned`` store format: 15 bytes, bit 0 of the first
#: byte is "in use", and records never straddle an 8 KiB page (the page's tail is padding).
_ALIGNED_FORMAT = "record-aligned"
_NODE_RECORD_BYTES = 15
_PAGE_BYTES = 8192


@dataclass(frozen=True)
class BulkResult:
    """Rows imported and time taken by ``neo4j-admin``."""

    nodes: int
    relationships: int
    orders: int
    seconds: float


def _iso(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series, utc=True)
    return values.dt.strftime(_ISO).where(values.notna(), None)


def _one_version_each(businesses: pd.DataFrame) -> None:
    """The import writes one node per business: versions need the online load."""
    if businesses["business_id"].duplicated().any():
        raise Neo4jSetupError(
            "The export holds several versions (updated_at) of some businesses; the bulk "
            "import takes one row per business. Load it online (`tradegraph load` without "
            "--bulk), or bulk-load the first versions and then load the export online."
        )


#: The import's files: name -> (typed header, whether it holds nodes). Both writers (pandas
#: here, Spark in :mod:`graph.bulk_spark`) write these files with the row functions below.
IMPORT_FILES: dict[str, tuple[list[str], bool]] = {
    "businesses": ([
        "business_id:ID(Business)", "kind", "registered_at:datetime", "region", "industry",
        "employees:long", "declared_revenue:double", "updated_at:datetime", ":LABEL",
    ], True),
    "credit_events": ([":ID(CreditEvent)", "business_id", "event", "at:datetime", ":LABEL"], True),
    "had_event": ([":START_ID(Business)", ":END_ID(CreditEvent)", ":TYPE"], False),
    "identifiers": (
        [":ID(Identifier)", "type", "hash", "hub:boolean", "degree:long", ":LABEL"], True
    ),
    "has_identifier": ([":START_ID(Business)", ":END_ID(Identifier)", ":TYPE"], False),
    "schema_info": ([":ID(Meta)", "version:long", "key_fingerprint", ":LABEL"], True),
    "outcomes": ([
        ":ID(Outcome)", "business_id", "as_of:datetime", "defaulted:long", "fraud:long",
        "source", ":LABEL",
    ], True),
    "has_outcome": ([":START_ID(Business)", ":END_ID(Outcome)", ":TYPE"], False),
    "sold_to": ([
        ":START_ID(Business)", ":END_ID(Business)", "txn_id", "ts:datetime", "amount:double",
        "currency", "amount_base:double", "status", "status_at:datetime", "category", ":TYPE",
    ], False),
    "trades_with": ([
        ":START_ID(Business)", ":END_ID(Business)", "orders:long", "gmv:double",
        "refunded:long", "disputed:long", "cancelled:long", "first_ts:datetime",
        "last_ts:datetime", ":TYPE",
    ], False),
}  # fmt: skip


class _ImportFiles:
    """The import's CSV files with their typed headers, as nodes or relationships."""

    def __init__(self, csv_dir: Path) -> None:
        self.csv_dir = csv_dir
        self.nodes: list[Path] = []
        self.relationships: list[Path] = []

    def emit(self, name: str, frame: pd.DataFrame, *, append: bool = False) -> None:
        """Write ``frame`` as ``<name>.csv`` under its header (``append``: add to it)."""
        header, node = IMPORT_FILES[name]
        path = self.csv_dir / f"{name}.csv"
        frame = frame.set_axis(header, axis=1)
        frame.to_csv(path, index=False, mode="a" if append else "w", header=not append)
        if not append:
            (self.nodes if node else self.relationships).append(path)


def business_rows(b: pd.DataFrame) -> pd.DataFrame:
    """``businesses`` rows of the businesses frame (one version each)."""
    return pd.DataFrame(
        {
            "id": b["business_id"],
            "kind": b["kind"],
            "registered_at": _iso(b["registered_at"]),
            "region": b["region"],
            "industry": b["industry"],
            "employees": b["employees"],
            "declared_revenue": b["declared_revenue"],
            "updated_at": _iso(b["updated_at"] if "updated_at" in b else b["registered_at"]),
            "label": "Business",
        }
    )


def _event_key(events: pd.DataFrame) -> pd.Series:
    at = _iso(events["at"])
    return events["business_id"].astype(str) + "|" + events["event"].astype(str) + "|" + at


def credit_event_rows(events: pd.DataFrame) -> pd.DataFrame:
    """``(:CreditEvent {business_id, event, at})`` node rows."""
    return pd.DataFrame(
        {"id": _event_key(events), "b": events["business_id"], "e": events["event"],
         "at": _iso(events["at"]), "l": "CreditEvent"}
    )  # fmt: skip


def had_event_rows(events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"s": events["business_id"], "e": _event_key(events), "t": "HAD_EVENT"})


def identifier_rows(degree: pd.DataFrame, hub_threshold: int) -> pd.DataFrame:
    """Identifier nodes from ``(id_type, id_hash, degree)``, with the hub flag."""
    return pd.DataFrame(
        {
            "id": degree["id_type"] + "|" + degree["id_hash"],
            "type": degree["id_type"],
            "hash": degree["id_hash"],
            "hub": (degree["degree"] > hub_threshold).map({True: "true", False: "false"}),
            "degree": degree["degree"],
            "label": "Identifier",
        }
    )


def identifier_link_rows(ids: pd.DataFrame) -> pd.DataFrame:
    """``HAS_IDENTIFIER`` rows of distinct ``IDENTIFIER_COLUMNS`` rows."""
    return pd.DataFrame(
        {"s": ids["business_id"], "e": ids["id_type"] + "|" + ids["id_hash"], "t": "HAS_IDENTIFIER"}
    )


def outcome_rows(o: pd.DataFrame) -> pd.DataFrame:
    as_of = _iso(o["as_of"])
    return pd.DataFrame(
        {
            "id": o["business_id"] + "|" + as_of,
            "business_id": o["business_id"],
            "as_of": as_of,
            "defaulted": o["defaulted"],
            "fraud": o["fraud"],
            "source": "export",
            "label": "Outcome",
        }
    )


def has_outcome_rows(o: pd.DataFrame) -> pd.DataFrame:
    as_of = _iso(o["as_of"])
    return pd.DataFrame(
        {"s": o["business_id"], "e": o["business_id"] + "|" + as_of, "t": "HAS_OUTCOME"}
    )


def order_rows(chunk: pd.DataFrame) -> pd.DataFrame:
    """``SOLD_TO`` rows, one per order."""
    return pd.DataFrame(
        {
            "s": chunk["seller_id"],
            "e": chunk["buyer_id"],
            "txn_id": chunk["txn_id"],
            "ts": _iso(chunk["ts"]),
            "amount": chunk["amount"],
            "currency": chunk["currency"],
            "amount_base": chunk["amount_base"],
            "status": chunk["status"],
            "status_at": _iso(chunk["status_at"]),
            "category": chunk["category"],
            "t": "SOLD_TO",
        }
    )


def pair_rows(pairs: pd.DataFrame) -> pd.DataFrame:
    """``TRADES_WITH`` rows of :func:`graph.pairs.pair_totals` over all orders."""
    out = pairs.copy()
    out["first_ts"] = _iso(out["first_ts"])
    out["last_ts"] = _iso(out["last_ts"])
    out["t"] = "TRADES_WITH"
    return out


def schema_info_rows(key_fingerprint: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["schema"], "v": [SCHEMA_VERSION], "k": [key_fingerprint], "l": ["SchemaInfo"]}
    )


def _emit_credit_events(files: _ImportFiles, events: pd.DataFrame | None) -> None:
    if events is None or events.empty:
        return
    files.emit("credit_events", credit_event_rows(events))
    files.emit("had_event", had_event_rows(events))


def _emit_identifiers(files: _ImportFiles, identifiers: pd.DataFrame, hub_threshold: int) -> None:
    """Identifier nodes with their degree and hub flag, and ``HAS_IDENTIFIER`` links."""
    ids = identifiers[IDENTIFIER_COLUMNS].drop_duplicates()
    degree = ids.groupby(["id_type", "id_hash"]).size().rename("degree").reset_index()
    files.emit("identifiers", identifier_rows(degree, hub_threshold))
    files.emit("has_identifier", identifier_link_rows(ids))


def _emit_outcomes(files: _ImportFiles, outcomes: pd.DataFrame | None) -> None:
    if outcomes is None or not len(outcomes):
        return
    files.emit("outcomes", outcome_rows(outcomes))
    files.emit("has_outcome", has_outcome_rows(outcomes))


def _emit_orders(files: _ImportFiles, order_chunks: Iterable[pd.DataFrame]) -> None:
    """``SOLD_TO`` per order, streamed chunk by chunk, then ``TRADES_WITH`` per pair summed
    over all chunks (:mod:`graph.pairs`)."""
    partials: list[pd.DataFrame] = []
    for chunk in order_chunks:
        files.emit("sold_to", order_rows(chunk), append=bool(partials))
        partials.append(pair_totals(chunk))
    if partials:
        files.emit("trades_with", pair_rows(combine_pair_totals(partials)))


def write_import_csvs(
    csv_dir: Path,
    businesses: pd.DataFrame,
    identifiers: pd.DataFrame,
    order_chunks: Iterable[pd.DataFrame],
    outcomes: pd.DataFrame | None,
    *,
    key_fingerprint: str,
    hub_threshold: int = HUB_THRESHOLD,
    credit_events: pd.DataFrame | None = None,
) -> dict[str, list[Path]]:
    """Write the import CSVs (with typed headers) into ``csv_dir``.

    Returns ``{"nodes": [...], "relationships": [...]}`` file lists for :func:`bulk_import`.
    Orders are streamed chunk by chunk; pair totals are summed over all chunks. Credit
    events (``CREDIT_EVENT_COLUMNS``) are imported too; businesses must have one version
    each (their ``updated_at``, when given, is kept).
    """
    _one_version_each(businesses)
    csv_dir.mkdir(parents=True, exist_ok=True)
    files = _ImportFiles(csv_dir)
    files.emit("businesses", business_rows(businesses))
    _emit_credit_events(files, credit_events)
    _emit_identifiers(files, identifiers, hub_threshold)
    files.emit("schema_info", schema_info_rows(key_fingerprint))
    _emit_outcomes(files, outcomes)
    _emit_orders(files, order_chunks)
    return {"nodes": files.nodes, "relationships": files.relationships}


def guard_bulk_target(
    config: local.LocalServerConfig, *, database: str = "neo4j", overwrite: bool = False
) -> None:
    """Raise :class:`Neo4jSetupError` unless a bulk import may replace ``database`` of
    ``config.data_dir``: the folder is new, empty or tradegraph's own, and the database is
    empty (checked over Bolt if the server runs, from the store files if not) or
    ``overwrite`` is true. A new or empty folder is claimed for tradegraph (its ``VERSION``
    marker is written), so import CSVs may be staged inside it; a folder it refuses is never
    written to."""
    data_dir = Path(config.data_dir)
    if not data_dir.exists() or not any(data_dir.iterdir()):
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        local.write_private(data_dir / "VERSION", config.version + "\n")
        return
    if not (data_dir / "VERSION").is_file():
        raise Neo4jSetupError(
            f"{data_dir} was not created by tradegraph (it has no VERSION file), so a bulk "
            "import will not touch it, --overwrite or not. Point TRADEGRAPH_NEO4J_DATA_DIR at "
            "a new folder, or load online into that server with NEO4J_URI."
        )
    local._check_store_version(config)
    if local.status(config).get("running"):
        if not overwrite and _running_database_holds_data(config, database):
            raise _holds_data(database, "it holds nodes")
        return
    store = data_dir / "data" / "databases" / database
    if not (store / "neostore").exists():
        return
    info = _store_info(config, database)
    if str(info.get("inUse")).lower() == "true":
        raise Neo4jSetupError(
            f"A Neo4j server tradegraph does not know of is using {store}. Stop it before a "
            "bulk import (`tradegraph neo4j stop` for the local one)."
        )
    if overwrite:
        return
    if str(info.get("recoveryRequired")).lower() == "true":
        raise _holds_data(database, "it was not shut down cleanly and may hold unrecovered data")
    if not str(info.get("storeFormat", "")).startswith(_ALIGNED_FORMAT):
        raise _holds_data(database, f"its store format {info.get('storeFormat')!r} is unknown")
    if node_store_has_nodes(store):
        raise _holds_data(database, "it holds nodes")


def _holds_data(database: str, why: str) -> Neo4jSetupError:
    return Neo4jSetupError(
        f"The database {database!r} is not known to be empty ({why}), and a bulk import "
        "replaces it. Load online instead (drop --bulk), or pass --overwrite to replace it "
        "(its data is lost)."
    )


def _running_database_holds_data(config: local.LocalServerConfig, database: str) -> bool:
    import neo4j
    from neo4j.exceptions import DriverError, Neo4jError

    password = local.read_password(config.data_dir) or ""
    try:
        with neo4j.GraphDatabase.driver(config.uri, auth=(local.NEO4J_USER, password)) as driver:
            records = driver.execute_query(
                "RETURN EXISTS { MATCH (n) } AS has_data", database_=database
            ).records
    except (DriverError, Neo4jError) as err:
        raise Neo4jSetupError(
            f"Could not ask the running server of {config.data_dir} whether {database!r} is "
            f"empty ({type(err).__name__}), so a bulk import will not replace it."
        ) from None
    return bool(records[0]["has_data"])


def _store_info(config: local.LocalServerConfig, database: str) -> dict[str, Any]:
    completed = local.admin_command(config, "database", "info", database, "--format=json")
    lines = [ln for ln in completed.stdout.splitlines() if ln.strip().startswith("{")]
    if completed.returncode != 0 or not lines:
        raise Neo4jSetupError(
            f"Could not read the store of {database!r} with neo4j-admin database info, so a "
            f"bulk import will not replace it:\n{completed.stderr[-1500:]}"
        )
    return json.loads(lines[0])


def node_store_has_nodes(store: Path) -> bool:
    """True when the node store of a cleanly shut down ``record-aligned`` database has a
    record in use (deleted nodes leave their records, marked unused)."""
    path = Path(store) / "neostore.nodestore.db"
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return False
    data = np.memmap(path, dtype=np.uint8, mode="r")
    per_page = _PAGE_BYTES // _NODE_RECORD_BYTES
    used = per_page * _NODE_RECORD_BYTES
    full = size // _PAGE_BYTES
    pages = np.asarray(data[: full * _PAGE_BYTES]).reshape(full, _PAGE_BYTES)[:, :used]
    if (pages.reshape(-1, _NODE_RECORD_BYTES)[:, 0] & 1).any():
        return True
    tail = np.asarray(data[full * _PAGE_BYTES :])
    tail = tail[: len(tail) // _NODE_RECORD_BYTES * _NODE_RECORD_BYTES]
    return bool((tail.reshape(-1, _NODE_RECORD_BYTES)[:, 0] & 1).any())


def import_groups(csv_dir: Path) -> dict[str, list[Path]]:
    """The import's files under ``csv_dir`` by name: ``<name>.csv`` (header on its first
    line, as :func:`write_import_csvs` writes), or a ``<name>/`` folder of ``header.csv`` and
    headerless parts (as Spark writes, :mod:`graph.bulk_spark`), header first."""
    groups: dict[str, list[Path]] = {}
    for name in IMPORT_FILES:
        single, folder = csv_dir / f"{name}.csv", csv_dir / name
        if single.exists():
            groups[name] = [single]
        elif (folder / "header.csv").exists():
            parts = sorted(p for p in folder.glob("part-*.csv") if p.stat().st_size)
            groups[name] = [folder / "header.csv", *parts]
    return groups


def _data_rows(files: list[Path]) -> int:
    """Data rows of one import group (its first file's first line is the header)."""
    return sum(sum(1 for _ in f.open()) for f in files) - 1


def bulk_import(
    config: local.LocalServerConfig,
    csv_dir: Path,
    *,
    database: str = "neo4j",
    overwrite: bool = False,
) -> BulkResult:
    """Run ``neo4j-admin database import full`` on the CSVs of :func:`write_import_csvs`.

    The server of ``config.data_dir`` must be stopped. The database is replaced only after
    :func:`guard_bulk_target` passes (an empty database, or ``overwrite``).
    """
    if local.status(config).get("running"):
        raise Neo4jSetupError(
            f"The server of {config.data_dir} is running; stop it first "
            "(`tradegraph neo4j stop`): a bulk import replaces the whole database."
        )
    guard_bulk_target(config, database=database, overwrite=overwrite)
    local.make_private(config.data_dir)
    groups = import_groups(Path(csv_dir))
    node_files = [n for n in groups if IMPORT_FILES[n][1]]
    rel_files = [n for n in groups if not IMPORT_FILES[n][1]]
    started = time.perf_counter()
    completed = local.admin_command(
        config,
        "database",
        "import",
        "full",
        database,
        "--overwrite-destination=true",
        "--skip-duplicate-nodes=false",
        "--threads=2",
        *[f"--nodes={','.join(map(str, groups[n]))}" for n in node_files],
        *[f"--relationships={','.join(map(str, groups[n]))}" for n in rel_files],
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise Neo4jSetupError(
            "neo4j-admin import failed; its output follows. Fix the CSVs or start from an "
            f"empty data folder.\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    counts = {name: _data_rows(files) for name, files in groups.items()}
    logger.info("neo4j-admin import of %d files took %.1fs: %s", len(groups), seconds, counts)
    return BulkResult(
        nodes=sum(counts[n] for n in node_files),
        relationships=sum(counts[n] for n in rel_files),
        orders=counts.get("sold_to", 0),
        seconds=seconds,
    )


def bulk_load_export(
    config: local.LocalServerConfig,
    export_dir: Path,
    key: bytes,
    *,
    rejects_dir: Path | None,
    options: Any = None,
    hub_threshold: int = HUB_THRESHOLD,
    overwrite: bool = False,
    lake: Path | None = None,
    say: Any = logger.info,
) -> tuple[BulkResult, Any]:
    """The first load of an export into the EMPTY database of the local server: validate,
    write the import CSVs (and, with ``lake``, the same kept rows to a Parquet lake, committed
    once the import succeeded), stop the server, import, start it again and add the schema.
    Returns the import's :class:`BulkResult` and the validation report.

    Raises :class:`Neo4jSetupError` when the database may not be replaced
    (:func:`guard_bulk_target`): nothing is written then."""
    from graph.schema import key_fingerprint
    from loaders.options import ExportOptions
    from loaders.validate import ExportReader

    guard_bulk_target(config, overwrite=overwrite)  # fail before minutes of CSV writing
    csv_dir = config.data_dir / "import" / "tradegraph-bulk"
    fingerprint = key_fingerprint(key)
    say("writing import CSVs ...")
    # Rejects and report.json are published when the reader closes without an error.
    with ExportReader(
        export_dir, key, rejects_dir=rejects_dir, options=options or ExportOptions()
    ) as reader:
        businesses, identifiers = reader.businesses()
        outcomes, events = reader.outcomes(), reader.credit_events()
        orders: Iterable[pd.DataFrame] = reader.iter_orders()
        writer = None
        if lake is not None:
            from loaders.lake import LakeRows, LakeWriter

            writer = LakeWriter.for_reader(lake, reader, source=str(export_dir))
            orders = writer.tee(LakeRows(businesses, identifiers, orders, outcomes, events))
        write_import_csvs(
            csv_dir, businesses, identifiers, orders, outcomes,
            key_fingerprint=fingerprint, hub_threshold=hub_threshold, credit_events=events,
        )  # fmt: skip
    result = import_and_start(config, csv_dir, fingerprint, overwrite=overwrite, say=say)
    if writer is not None:
        writer.commit()
    return result, reader.report


def import_and_start(
    config: local.LocalServerConfig,
    csv_dir: Path,
    fingerprint: str,
    *,
    overwrite: bool,
    say: Any = logger.info,
) -> BulkResult:
    """Stop the local server, import ``csv_dir`` (:func:`bulk_import`, guarded), start it
    again and add the schema (constraints, indexes) for key ``fingerprint``."""
    import neo4j

    from graph.schema import ensure_schema

    local.stop(config)
    say("running neo4j-admin database import full ...")
    result = bulk_import(config, csv_dir, overwrite=overwrite)
    info = local.start(config, say=say)
    with neo4j.GraphDatabase.driver(info.uri, auth=(info.user, info.password)) as driver:
        ensure_schema(driver, fingerprint)
    return result
