"""The analysts' Cypher library: parse the headers of ``graph/queries/*.cypher``, check and
coerce parameters against them, and run queries in read-only transactions with a timeout.

Each library file starts with a block of ``//`` comment lines::

    // name: identifier_rings
    // title: Rings of businesses joined by shared identifiers
    // finds: what the query returns (may continue on following "//   " lines)
    // param min_size: int = 3 [2..50] | smallest ring reported
    // hit: what a returned row means for an analyst
    // seconds: 10   (stated time budget on the default synthetic marketplace)

Parameter types: ``int``, ``float``, ``str``, ``bool``, ``date``, ``datetime``, ``list[str]``;
a default is a JSON literal (``null`` = no value, the query handles it) or ``required``. An optional
``[lo..hi]`` bounds a number. Everything runs under ``execute_read`` in a session opened with
``READ`` access, so a query that tries to write is refused by the server itself.

READ access alone does not make a query harmless: administration commands (``SHOW USERS``,
``TERMINATE TRANSACTIONS``), procedures declared read-only that still change the server
(``gds.graph.project`` fills memory, ``db.clearQueryCaches`` drops every plan) and ``LOAD CSV``
all run under it. :func:`check_read_only` therefore refuses, before anything runs, every
administration command, ``LOAD CSV`` and every procedure call outside
:data:`READ_ONLY_PROCEDURES`; :func:`run_query` then asks the server to plan the query
(``EXPLAIN``) and runs it only when the server classifies it as a read (query type ``r``).
The detectors' own GDS projections never come through here: ``graph.analytics`` runs them on
its write-capable session (:mod:`graph.session`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import neo4j

#: Where the library's ``.cypher`` files live (shipped as package data).
QUERIES_DIR = Path(__file__).parent / "queries"
#: Timeout, in seconds, for a query whose header states no time budget (ad-hoc ``--file``).
DEFAULT_TIMEOUT_S = 60.0

PARAM_TYPES = ("int", "float", "str", "bool", "date", "datetime", "list[str]")
_HEADER_KEY = re.compile(r"^//\s*(?:(param)\s+|(name|title|finds|hit|seconds|narrow)\s*:)\s*(.*)$")
_PARAM = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<type>[a-z\[\]]+)\s*=\s*(?P<default>.*?)\s*"
    r"(?:\[(?P<lo>[-+\d.eE]+)\.\.(?P<hi>[-+\d.eE]+)\])?\s*\|\s*(?P<doc>.+)$"
)


#: Procedures an analyst's query may ``CALL``: they only read the schema or the server's
#: identity. Anything else (GDS, APOC, ``db.*`` maintenance, ``dbms.*`` administration) is
#: refused by :func:`check_read_only`. Compared case-insensitively.
READ_ONLY_PROCEDURES: frozenset[str] = frozenset(
    {
        "db.labels",
        "db.relationshiptypes",
        "db.propertykeys",
        "db.schema.visualization",
        "db.schema.nodetypeproperties",
        "db.schema.reltypeproperties",
        "db.info",
        "db.ping",
        "dbms.components",
    }
)

#: Statement keywords of administration and server commands (SHOW ..., TERMINATE ...,
#: privileges) and of clauses that reach outside the graph (LOAD CSV).
_ADMIN_COMMAND = re.compile(
    r"(?<![.$:\w])(?:SHOW|TERMINATE|GRANT|DENY|REVOKE|ALTER|RENAME|DEALLOCATE|REALLOCATE"
    r"|(?:CREATE|DROP)(?:\s+OR\s+REPLACE)?\s+(?:USER|ROLE|DATABASE|COMPOSITE|ALIAS|SERVER)"
    r"|(?:START|STOP)\s+DATABASE|ENABLE\s+SERVER|LOAD\s+CSV)\b(?!\s*:)",
    re.IGNORECASE,
)
#: ``CALL name.space.proc`` (not ``CALL {`` or ``CALL (x) {``, which are subqueries).
_PROCEDURE_CALL = re.compile(r"(?<![.$\w])CALL\s+([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)", re.I)
_COMMENT_OR_LITERAL = re.compile(
    r"//[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`]|``)*`", re.S
)


class QueryLibraryError(ValueError):
    """A problem the user can fix: unknown query or parameter, bad value, malformed header."""


class QueryRefusedError(QueryLibraryError):
    """The query is not a plain read: an administration command, a procedure outside the
    read-only allow-list, ``LOAD CSV``, or something the server does not plan as a read."""


@dataclass(frozen=True)
class QueryParam:
    """One declared parameter: its type, default (already coerced), optional bounds and doc."""

    name: str
    type: str
    default: Any
    doc: str
    lo: float | None = None
    hi: float | None = None
    required: bool = False

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this parameter's type (strings from the CLI are parsed), or raise
        :class:`QueryLibraryError` saying what is expected."""
        if value is None:
            return None
        try:
            coerced = _coerce(self.type, value)
        except (TypeError, ValueError) as exc:
            raise QueryLibraryError(
                f"Parameter {self.name!r} expects {self.type}, got {value!r} ({exc})."
            ) from None
        if self.lo is not None and self.hi is not None and not self.lo <= coerced <= self.hi:
            raise QueryLibraryError(
                f"Parameter {self.name!r} must be between {_num(self.lo)} and {_num(self.hi)}, "
                f"got {coerced!r}."
            )
        return coerced


@dataclass(frozen=True)
class LibraryQuery:
    """One library query: header fields, declared parameters and the Cypher text."""

    name: str
    title: str
    finds: str
    hit: str
    seconds: float
    params: tuple[QueryParam, ...]
    text: str
    path: Path | None = None
    #: Parameters of a narrower scope to retry with when the query runs past its budget
    #: (header ``// narrow: name=value, ...``); empty when it has none.
    narrow: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str) -> QueryParam:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise QueryLibraryError(
            f"Query {self.name!r} has no parameter {name!r}; its parameters are: {known}."
        )

    def bind(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every declared parameter with its default, overridden by ``values`` (coerced and
        checked). Unknown names raise :class:`QueryLibraryError`."""
        bound = {p.name: p.default for p in self.params}
        for key, value in (values or {}).items():
            bound[key] = self.param(key).coerce(value)
        missing = [p.name for p in self.params if p.required and bound[p.name] is None]
        if missing:
            raise QueryLibraryError(
                f"Query {self.name!r} needs a value for {', '.join(missing)} "
                f"(e.g. --param {missing[0]}=...)."
            )
        return bound


@dataclass
class QueryResult:
    """Rows of one run, as plain Python values (Neo4j temporals are kept as ISO strings)."""

    query: str
    keys: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def parse_query(text: str, path: Path | None = None) -> LibraryQuery:
    """Parse a ``.cypher`` file with a library header. Raises :class:`QueryLibraryError` naming
    the file and what is missing."""
    where = str(path) if path else "query text"
    fields: dict[str, str] = {}
    params: list[QueryParam] = []
    last: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("//"):
            if stripped:
                break
            continue
        match = _HEADER_KEY.match(stripped)
        if match:
            key, rest = match.group(1) or match.group(2), match.group(3).strip()
            if key == "param":
                params.append(_parse_param(rest, where))
                last = None
            else:
                fields[key] = rest
                last = key
        elif last in ("finds", "hit", "title") and stripped[2:].strip():
            fields[last] += " " + stripped[2:].strip()
    missing = [k for k in ("name", "title", "finds", "hit") if not fields.get(k)]
    if missing:
        raise QueryLibraryError(f"{where}: header lacks {', '.join(missing)} (see graph/queries).")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise QueryLibraryError(f"{where}: a parameter is declared twice.")
    used = set(re.findall(r"\$([A-Za-z_]\w*)", _strip_comments(text)))
    undeclared = used - set(names)
    if undeclared:
        raise QueryLibraryError(f"{where}: uses undeclared parameters {sorted(undeclared)}.")
    seconds = float(fields.get("seconds", str(DEFAULT_TIMEOUT_S)).split()[0])
    query = LibraryQuery(
        name=fields["name"],
        title=fields["title"],
        finds=fields["finds"],
        hit=fields["hit"],
        seconds=seconds,
        params=tuple(params),
        text=text,
        path=path,
    )
    return replace(query, narrow=_parse_narrow(query, fields.get("narrow", ""), where))


def _parse_narrow(query: LibraryQuery, text: str, where: str) -> tuple[tuple[str, Any], ...]:
    """``name=value, ...`` of a ``// narrow:`` header, each a declared parameter's value."""
    narrow: list[tuple[str, Any]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise QueryLibraryError(f"{where}: narrow expects name=value, got {item!r}.")
        param = query.param(name.strip())
        narrow.append((param.name, param.coerce(value.strip())))
    return tuple(narrow)


def load_library(directory: Path = QUERIES_DIR) -> dict[str, LibraryQuery]:
    """Every query in ``directory``, by name (sorted). File stem and header name must agree."""
    library: dict[str, LibraryQuery] = {}
    for path in sorted(directory.glob("*.cypher")):
        query = parse_query(path.read_text(encoding="utf-8"), path)
        if query.name != path.stem:
            raise QueryLibraryError(f"{path}: header name {query.name!r} differs from file name.")
        library[query.name] = query
    return library


def get_query(name: str, directory: Path = QUERIES_DIR) -> LibraryQuery:
    """One library query by name; an unknown name lists the known ones."""
    library = load_library(directory)
    if name not in library:
        raise QueryLibraryError(
            f"No query named {name!r}. Known queries: {', '.join(library)} "
            "(see `tradegraph query list`)."
        )
    return library[name]


def adhoc_query(path: Path) -> LibraryQuery:
    """An analyst's own ``.cypher`` file: its header is used when it has one; otherwise every
    ``$param`` it uses becomes a ``str``-typed parameter without default (values given on the
    command line are then parsed as JSON when they look like JSON)."""
    if not path.is_file():
        raise QueryLibraryError(f"No such query file: {path}.")
    text = path.read_text(encoding="utf-8")
    try:
        return parse_query(text, path)
    except QueryLibraryError:
        used = sorted(set(re.findall(r"\$([A-Za-z_]\w*)", _strip_comments(text))))
        params = tuple(QueryParam(n, "json", None, "ad-hoc parameter") for n in used)
        return LibraryQuery(
            path.stem, path.stem, "ad-hoc query", "", DEFAULT_TIMEOUT_S, params, text
        )


def run_query(
    driver: neo4j.Driver,
    query: LibraryQuery,
    params: dict[str, Any] | None = None,
    *,
    database: str | None = None,
    timeout_s: float | None = None,
) -> QueryResult:
    """Run ``query`` with checked parameters in a read-only transaction.

    The timeout is ``timeout_s`` or the header's stated budget (``seconds``) times three, so a
    query that blows its budget is stopped by the server rather than hanging a terminal.
    """
    import time

    bound = query.bind(params)
    check_read_only(query.text, name=query.name)
    timeout = timeout_s if timeout_s is not None else max(query.seconds * 3, 10.0)

    @neo4j.unit_of_work(timeout=timeout)
    def work(tx: neo4j.ManagedTransaction) -> tuple[list[str], list[dict[str, Any]]]:
        _check_planned_as_read(tx, query, bound)
        result = tx.run(query.text, bound)
        keys = list(result.keys())
        return keys, [{k: to_plain(record[k]) for k in keys} for record in result]

    started = time.perf_counter()
    with driver.session(
        database=database,
        default_access_mode=neo4j.READ_ACCESS,
        notifications_min_severity="OFF",
    ) as session:
        keys, rows = session.execute_read(work)
    return QueryResult(query.name, keys, rows, time.perf_counter() - started)


def check_read_only(text: str, *, name: str = "query") -> None:
    """Refuse (:class:`QueryRefusedError`) administration commands, ``LOAD CSV`` and
    procedure calls outside :data:`READ_ONLY_PROCEDURES`, before the text reaches the server.

    Comments and string literals are ignored; a backquoted name counts as one word, so
    ``CALL `gds.graph.project`(...)`` is refused like ``CALL gds.graph.project(...)``.
    """
    code = _COMMENT_OR_LITERAL.sub(_blank_out, text)
    if admin := _ADMIN_COMMAND.search(code):
        command = " ".join(admin.group(0).split()).upper()
        raise QueryRefusedError(
            f"{name}: {command} is an administration or server command; the query library runs "
            "read-only graph queries only. Ask the database administrator to run it."
        )
    for call in _PROCEDURE_CALL.finditer(code):
        procedure = re.sub(r"\s+", "", call.group(1))
        if procedure.lower() not in READ_ONLY_PROCEDURES:
            raise QueryRefusedError(
                f"{name}: CALL {procedure} is not one of the read-only procedures the query "
                f"library allows ({', '.join(sorted(READ_ONLY_PROCEDURES))}). Graph algorithms "
                "run through `tradegraph analytics` instead."
            )


def _blank_out(match: re.Match[str]) -> str:
    """Comments and string literals become blanks; a backquoted name becomes one word."""
    token = match.group(0)
    if token.startswith("`"):
        return "q" + re.sub(r"\W", "_", token[1:-1])
    return " " if token.startswith("/") else "''"


def _check_planned_as_read(
    tx: neo4j.ManagedTransaction, query: LibraryQuery, bound: dict[str, Any]
) -> None:
    """Plan the query (``EXPLAIN``, nothing runs) and refuse it unless the server says it only
    reads (query type ``r``)."""
    text = re.sub(r"^\s*(?:EXPLAIN|PROFILE)\b", "", query.text, flags=re.IGNORECASE)
    summary = tx.run("EXPLAIN " + text, bound).consume()
    if summary.query_type != "r":
        what, kind = {
            "rw": ("a write", "reads and writes"),
            "w": ("a write", "writes"),
            "s": ("a schema change", "changes the schema"),
        }.get(str(summary.query_type), ("a query", f"is of type {summary.query_type!r}"))
        raise QueryRefusedError(
            f"{query.name}: refused {what}: the server plans this query as one that {kind}, "
            "and the query library runs read-only queries only. Use the loading and clusters "
            "commands to change the graph."
        )


def to_plain(value: Any) -> Any:
    """Neo4j values as JSON-friendly Python: temporals to ISO strings, nodes and relationships
    to property dicts, lists and maps recursively."""
    if isinstance(value, neo4j.graph.Node | neo4j.graph.Relationship):
        return {k: to_plain(v) for k, v in dict(value).items()}
    if isinstance(value, neo4j.graph.Path):
        return [to_plain(n) for n in value.nodes]
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return value


def _coerce(type_: str, value: Any) -> Any:
    if type_ == "json":
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value
    if type_ == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("not a whole number")
        return int(value)
    if type_ == "float":
        if isinstance(value, bool):
            raise ValueError("not a number")
        return float(value)
    if type_ == "str":
        if not isinstance(value, str):
            raise ValueError("not text")
        return value
    if type_ == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
        raise ValueError("use true or false")
    if type_ == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value))
    if type_ == "datetime":
        if isinstance(value, dt.datetime):
            parsed = value
        elif isinstance(value, dt.date):
            parsed = dt.datetime(value.year, value.month, value.day)
        else:
            parsed = dt.datetime.fromisoformat(str(value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if type_ == "list[str]":
        if isinstance(value, str):
            text = value.strip()
            items = json.loads(text) if text.startswith("[") else text.split(",")
        else:
            items = list(value)
        return [str(v).strip() for v in items if str(v).strip()]
    raise ValueError(f"unknown type {type_!r}")


def _parse_param(spec: str, where: str) -> QueryParam:
    match = _PARAM.match(spec)
    if not match:
        raise QueryLibraryError(
            f"{where}: cannot read parameter line {spec!r}; expected "
            "'name: type = default [lo..hi] | description'."
        )
    type_ = match.group("type")
    if type_ not in PARAM_TYPES:
        raise QueryLibraryError(f"{where}: parameter type {type_!r} is not one of {PARAM_TYPES}.")
    required = match.group("default") == "required"
    try:
        raw_default = None if required else json.loads(match.group("default"))
    except json.JSONDecodeError:
        raise QueryLibraryError(
            f"{where}: default of {match.group('name')!r} is not a JSON literal."
        ) from None
    lo, hi = match.group("lo"), match.group("hi")
    param = QueryParam(
        name=match.group("name"),
        type=type_,
        default=None,
        doc=match.group("doc").strip(),
        lo=float(lo) if lo is not None else None,
        hi=float(hi) if hi is not None else None,
    )
    return QueryParam(
        param.name, param.type, param.coerce(raw_default), param.doc, param.lo, param.hi, required
    )


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
