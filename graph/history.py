"""Loading contract v2's history: business versions (``updated_at``) and credit events.

A business that only ever had one version loads exactly as before (``graph.load``): its node
and its ``HAS_IDENTIFIER`` links, plus ``updated_at``. Once a business has two versions - in
one export, or a later export re-sends it with a later ``updated_at`` - it goes through
:func:`load_versions`: every version becomes a ``(:BusinessVersion)`` (see the history
section of ``graph.cypher``), in force from its ``updated_at`` until the next one's (the
first from registration), holding the identifiers that version carried. ``graph.snapshot``
then reads the version in force strictly before a score date, so a later version never
changes an earlier snapshot. Versions are never deleted; re-sending one with the same
``updated_at`` and other values corrects it.

Credit events become ``(:Business)-[:HAD_EVENT]->(:CreditEvent {event, at})``, keyed by
(business_id, event, at): loading one twice changes nothing.

Each batch is one write transaction, like every table of ``graph.load``; this module builds
on that module's helpers (so ``graph.load`` imports it lazily).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import neo4j
import pandas as pd

from graph import cypher
from graph.load import LoadError, TableCounts, _fetch, _micros, _plain, _records
from graph.session import read_frame
from graph.session import write_work as _write
from loaders.columns import BUSINESS_COLUMNS, CREDIT_EVENT_COLUMNS

#: The contract's version column, on businesses and (which version carried it) identifiers.
VERSION_COLUMN = "updated_at"
_ATTRIBUTES = BUSINESS_COLUMNS[1:]  # kind, registered_at, region, industry, employees, revenue
_LOOKUP_BATCH = 50_000


@dataclass(frozen=True)
class _Version:
    """One version of a business: its values (timestamps as epoch micros) and identifiers
    (``type|hash``)."""

    values: tuple[Any, ...]
    identifiers: frozenset[str]


def _key(id_type: str, id_hash: str) -> str:
    return f"{id_type}|{id_hash}"


def _normal(values: Any) -> tuple[Any, ...]:
    """Values as comparable Python objects, whichever side (pandas, Neo4j) they came from."""
    out: list[Any] = []
    for column, value in zip(_ATTRIBUTES, values, strict=True):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        elif column in ("employees", "registered_at"):
            out.append(int(value))
        elif column == "declared_revenue":
            out.append(float(value))
        else:
            out.append(str(value))
    return tuple(out)


def split_versioned(
    driver: neo4j.Driver,
    businesses: pd.DataFrame,
    identifiers: pd.DataFrame,
    *,
    database: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(plain businesses, plain identifiers, versioned businesses, versioned identifiers).

    Versioned: a business with several rows here, or one row whose ``updated_at`` differs
    from the stored one (a new version, or a correction of a versioned business), or one
    already stored with versions. Without an ``updated_at`` column everything is plain.
    """
    if VERSION_COLUMN not in businesses.columns:
        return businesses, identifiers, businesses.iloc[0:0], identifiers.iloc[0:0]
    ids = businesses["business_id"].astype(str)
    several = ids.duplicated(keep=False)
    single = businesses[~several]
    incoming = pd.Series(_micros(single[VERSION_COLUMN]), index=single["business_id"].astype(str))
    stored = _stored_updated_at(driver, incoming.index.tolist(), database)
    known = incoming.index.isin(stored.index)
    stored_rows = stored.reindex(incoming.index)
    moved = known & (
        stored_rows["versioned"].fillna(False).astype(bool).to_numpy()
        | (stored_rows["updated_at"].to_numpy() != incoming.to_numpy())
    )
    versioned = set(ids[several]) | set(incoming.index[moved])
    in_b = ids.isin(versioned)
    in_i = identifiers["business_id"].astype(str).isin(versioned)
    return businesses[~in_b], identifiers[~in_i], businesses[in_b], identifiers[in_i]


def _stored_updated_at(driver: neo4j.Driver, ids: list[str], database: str | None) -> pd.DataFrame:
    frames = [
        read_frame(driver, cypher.STORED_UPDATED_AT, database, ids=ids[i : i + _LOOKUP_BATCH])
        for i in range(0, len(ids), _LOOKUP_BATCH)
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["versioned", "updated_at"], index=pd.Index([], dtype=str))
    return pd.concat(frames, ignore_index=True).set_index("business_id")


def _stored_chains(stored: pd.DataFrame) -> dict[str, dict[int, _Version]]:
    """Per stored business, its versions by ``updated_at`` (an unversioned business has one:
    its node's values and links)."""
    chains: dict[str, dict[int, _Version]] = {}
    for row in stored.to_dict("records"):
        if row["versioned"]:
            chains[row["business_id"]] = {
                int(v["updated_at"]): _Version(
                    _normal(v[c] for c in _ATTRIBUTES), frozenset(v["identifiers"])
                )
                for v in row["versions"]
            }
        else:
            chains[row["business_id"]] = {
                int(row["updated_at"]): _Version(
                    _normal(row[c] for c in _ATTRIBUTES), frozenset(row["identifiers"])
                )
            }
    return chains


def _incoming_chains(
    businesses: pd.DataFrame, identifiers: pd.DataFrame
) -> dict[str, dict[int, _Version]]:
    """Per business, the versions in this batch; identifiers go to the version whose
    ``updated_at`` they carry, or to every version of their business when they carry none."""
    values = pd.DataFrame({c: _plain(businesses[c]) for c in _ATTRIBUTES}, index=businesses.index)
    stamps = _micros(businesses[VERSION_COLUMN])
    ids = businesses["business_id"].astype(str).tolist()
    if pd.Series(list(zip(ids, stamps, strict=True))).duplicated().any():
        raise LoadError(
            "businesses repeat a (business_id, updated_at): one row per version; validate "
            "the export first"
        )
    per_version: dict[tuple[str, int | None], set[str]] = {}
    per_business: dict[str, set[str]] = {}
    keys = [_key(t, h) for t, h in zip(identifiers["id_type"], identifiers["id_hash"], strict=True)]
    owners = identifiers["business_id"].astype(str).tolist()
    carriers: list[int | None] = (
        _micros(identifiers[VERSION_COLUMN])
        if VERSION_COLUMN in identifiers.columns
        else [None] * len(identifiers)
    )
    for owner, stamp, key in zip(owners, carriers, keys, strict=True):
        if stamp is None:  # no version named: carried by all of them
            per_business.setdefault(owner, set()).add(key)
        else:
            per_version.setdefault((owner, stamp), set()).add(key)
    chains: dict[str, dict[int, _Version]] = {}
    for business_id, stamp, row in zip(ids, stamps, values.itertuples(index=False), strict=True):
        if stamp is None:
            raise LoadError(f"business {business_id}: a version without updated_at")
        carried = per_version.get((business_id, stamp), set()) | per_business.get(
            business_id, set()
        )
        chains.setdefault(business_id, {})[stamp] = _Version(_normal(row), frozenset(carried))
    return chains


def _merge(
    stored: dict[str, dict[int, _Version]], incoming: dict[str, dict[int, _Version]]
) -> tuple[dict[str, dict[int, _Version]], TableCounts, TableCounts]:
    """Stored versions with the incoming ones applied, and the per-row counts."""
    rows, links = TableCounts(), TableCounts()
    merged: dict[str, dict[int, _Version]] = {}
    for business_id, versions in incoming.items():
        chain = dict(stored.get(business_id, {}))
        linked = frozenset().union(*(v.identifiers for v in chain.values()))
        for stamp, version in versions.items():
            before = chain.get(stamp)
            rows.read += 1
            if business_id not in stored:
                rows.inserted += 1
            elif before == version:
                rows.unchanged += 1
            else:
                rows.updated += 1
            # An identifier row is new unless the version it belongs to (or, for a new
            # version, the business) already carried it.
            reference = before.identifiers if before is not None else linked
            new_links = len(version.identifiers - reference)
            links.read += len(version.identifiers)
            links.inserted += new_links
            links.unchanged += len(version.identifiers) - new_links
            chain[stamp] = version
        merged[business_id] = chain
    return merged, rows, links


def _chain_rows(
    business_id: str, chain: dict[int, _Version]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The WRITE_VERSIONS row of one business and its LINK_VERSIONED_IDENTIFIERS rows."""
    stamps = sorted(chain)
    first = chain[stamps[0]].values[_ATTRIBUTES.index("registered_at")]
    starts = [min(stamps[0], first) if first is not None else stamps[0], *stamps[1:]]
    ends: list[int | None] = [*stamps[1:], None]
    versions = []
    held: dict[str, list[int]] = {}
    for k, stamp in enumerate(stamps):
        version = chain[stamp]
        ordered = sorted(version.identifiers)
        versions.append(
            dict(zip(_ATTRIBUTES, version.values, strict=True))
            | {
                "updated_at": stamp,
                "valid_from": starts[k],
                "valid_to": ends[k],
                "id_types": [key.split("|", 1)[0] for key in ordered],
                "id_hashes": [key.split("|", 1)[1] for key in ordered],
            }
        )
        for key in ordered:
            held.setdefault(key, []).append(k)
    links = [
        {
            "business_id": business_id,
            "id_type": key.split("|", 1)[0],
            "id_hash": key.split("|", 1)[1],
            "valid_from": starts[ks[0]],
            "valid_to": ends[ks[-1]],
        }
        for key, ks in sorted(held.items())
    ]
    latest = versions[-1]
    row = {c: latest[c] for c in _ATTRIBUTES} | {
        "business_id": business_id,
        "updated_at": latest["updated_at"],
        "versions": versions,
    }
    return row, links


def _version_batch(
    tx: neo4j.ManagedTransaction, businesses: pd.DataFrame, identifiers: pd.DataFrame
) -> tuple[TableCounts, TableCounts]:
    ids = businesses["business_id"].astype(str).unique().tolist()
    stored = _stored_chains(_fetch(tx, cypher.STORED_VERSIONS, ids=ids))
    chains, counts, link_counts = _merge(stored, _incoming_chains(businesses, identifiers))
    rows, links = [], []
    for business_id, chain in chains.items():
        row, chain_links = _chain_rows(business_id, chain)
        rows.append(row)
        links.extend(chain_links)
    tx.run(cypher.WRITE_VERSIONS, rows=rows).consume()
    tx.run(cypher.UNLINK_STALE_IDENTIFIERS, rows=_kept_links(links, ids)).consume()
    if links:
        linked = tx.run(cypher.LINK_VERSIONED_IDENTIFIERS, rows=links).single()
        if linked is None or linked["linked"] != len(links):
            raise LoadError("versioned identifiers could not be linked; validate the export first")
    return counts, link_counts


def _kept_links(links: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    keep: dict[str, list[str]] = {b: [] for b in ids}
    for link in links:
        keep[link["business_id"]].append(_key(link["id_type"], link["id_hash"]))
    return [{"business_id": b, "keep": k} for b, k in keep.items()]


def _by_business(frame: pd.DataFrame, size: int) -> Iterator[list[str]]:
    """Business ids in groups of about ``size`` rows, every version of a business together."""
    counts = frame.groupby(frame["business_id"].astype(str), sort=True).size()
    group: list[str] = []
    rows = 0
    for business_id, n in counts.items():
        group.append(str(business_id))
        rows += int(n)
        if rows >= size:
            yield group
            group, rows = [], 0
    if group:
        yield group


Report = Callable[[str, TableCounts], None]


def load_versions(
    driver: neo4j.Driver,
    businesses: pd.DataFrame,
    identifiers: pd.DataFrame,
    report: Report,
    *,
    batch_size: int,
    database: str | None = None,
) -> None:
    """Load the versioned businesses of :func:`split_versioned` with their identifiers."""
    if businesses.empty:
        return
    owners = identifiers["business_id"].astype(str)
    for group in _by_business(businesses, batch_size):
        rows = businesses[businesses["business_id"].astype(str).isin(group)]
        carried = identifiers[owners.isin(group)]
        counts, link_counts = _write(driver, database, _version_batch, rows, carried)
        report("businesses", counts)
        report("identifiers", link_counts)


def _credit_event_batch(tx: neo4j.ManagedTransaction, batch: pd.DataFrame) -> TableCounts:
    at = _micros(batch["at"])
    keys = list(zip(batch["business_id"].astype(str), batch["event"].astype(str), at, strict=True))
    stored = _fetch(tx, cypher.EXISTING_CREDIT_EVENTS, ids=sorted({k[0] for k in keys}))
    known = (
        set(map(tuple, stored[CREDIT_EVENT_COLUMNS].itertuples(index=False)))
        if len(stored)
        else set()
    )
    is_new = [k not in known for k in keys]
    new = batch[is_new]
    if len(new):
        written = tx.run(
            cypher.CREATE_CREDIT_EVENTS, rows=_records(new, CREDIT_EVENT_COLUMNS)
        ).single()
        if written is None or written["written"] != len(new):
            raise LoadError(
                "credit events refer to businesses that are not loaded; validate the export first"
            )
    return TableCounts(read=len(batch), inserted=len(new), unchanged=len(batch) - len(new))


def load_credit_events(
    driver: neo4j.Driver,
    events: pd.DataFrame | None,
    report: Report,
    *,
    batch_size: int,
    database: str | None = None,
) -> None:
    """Load ``credit_events`` (CREDIT_EVENT_COLUMNS) after the businesses they name."""
    if events is None or events.empty:
        return
    missing = [c for c in CREDIT_EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise LoadError(f"credit events lack column(s) {missing}; expected {CREDIT_EVENT_COLUMNS}")
    frame = events[CREDIT_EVENT_COLUMNS].copy()
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    if frame.duplicated().any():
        raise LoadError(
            "credit events repeat a (business_id, event, at); validate the export first"
        )
    frame = frame.sort_values("business_id", kind="stable", ignore_index=True)
    for start in range(0, len(frame), batch_size):
        batch = frame.iloc[start : start + batch_size]
        report("credit_events", _write(driver, database, _credit_event_batch, batch))


def count_history(driver: neo4j.Driver, *, database: str | None = None) -> dict[str, int]:
    """How many versions, versioned businesses and credit events the graph holds."""
    row = read_frame(driver, cypher.COUNT_HISTORY, database).iloc[0]
    return {k: int(v) for k, v in row.items()}
