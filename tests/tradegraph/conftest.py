"""Fixtures for the CLI tests: the CLI pointed at the suite's own Neo4j."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tradegraph.settings import get_settings


@pytest.fixture
def cli_env(neo4j_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Settings that name the suite's server and a fresh home (``tmp_path / "home"``, yielded),
    without a hash key of the caller's; the settings cache is cleared on either side."""
    monkeypatch.setenv("NEO4J_URI", neo4j_server.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_server.user)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.password)
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRADEGRAPH_HASH_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()
