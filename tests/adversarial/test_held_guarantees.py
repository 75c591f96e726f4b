"""Guarantees that held when the system was probed, kept as tests: the API key is compared in
constant time, and no raw identifier from an export is at rest in the graph, the server's
logs or the rejects after a load."""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from graph.load import load_export
from graph.session import read_frame
from tradegraph.api import create_app
from tradegraph.settings import DEMO_HASH_KEY, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "export"
IDENTIFIER_COLUMNS = ("phone", "device_id", "address", "bank_account", "owner_id")
KEY = "held-guarantee-key-0123456789"

EVERY_VALUE = """
CALL () { MATCH (n) UNWIND keys(n) AS k RETURN n[k] AS v
          UNION ALL MATCH ()-[r]->() UNWIND keys(r) AS k RETURN r[k] AS v }
RETURN collect(DISTINCT toString(v)) AS values
"""


def test_api_key_is_compared_in_constant_time(neo4j_driver, monkeypatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = secrets.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(secrets, "compare_digest", recording)
    app = create_app(neo4j_driver, Settings(_env_file=None, api_key=KEY))  # type: ignore[call-arg]
    client = TestClient(app)
    assert client.get("/businesses/B001/score", headers={"X-API-Key": "wrong"}).status_code == 401
    assert seen == [(b"wrong", KEY.encode())]  # the only comparison of the key, constant-time


def _raw_identifiers() -> set[str]:
    with (EXAMPLE / "businesses.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row[c] for row in rows for c in IDENTIFIER_COLUMNS if row.get(c)}


def test_no_raw_identifier_is_at_rest_after_a_load(neo4j_driver, neo4j_server, tmp_path) -> None:
    raw = _raw_identifiers()
    assert len(raw) > 10
    rejects = tmp_path / "rejects"
    load_export(neo4j_driver, EXAMPLE, DEMO_HASH_KEY.encode(), rejects_dir=rejects)
    stored = set(read_frame(neo4j_driver, EVERY_VALUE)["values"].iloc[0])
    assert len(stored) > 50  # the graph really holds the export
    leaked = {r for r in raw for value in stored if r.strip().lower() in value.lower()}
    assert not leaked, f"raw identifiers stored in the graph: {sorted(leaked)[:3]}"
    written = [p for p in rejects.rglob("*") if p.is_file()]
    if neo4j_server.data_dir is not None:
        written += [p for p in neo4j_server.data_dir.rglob("*.log") if p.is_file()]
    for path in written:
        text = path.read_text(errors="replace").lower()
        assert not [r for r in raw if r.lower() in text], f"raw identifier in {path}"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch) -> None:
    monkeypatch.delenv("TRADEGRAPH_API_KEY", raising=False)
