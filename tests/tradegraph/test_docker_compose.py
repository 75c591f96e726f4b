"""docker-compose.yml agrees with the settings the CLI expects (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tradegraph.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _neo4j_service() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]["neo4j"]


def test_image_is_neo4j_526_community() -> None:
    assert _neo4j_service()["image"] == "neo4j:5.26-community"


def test_bolt_port_matches_settings_and_stays_on_loopback() -> None:
    settings = Settings(_env_file=None)
    ports = _neo4j_service()["ports"]
    assert f"127.0.0.1:{settings.neo4j_bolt_port}:7687" in ports
    assert all(p.startswith("127.0.0.1:") for p in ports)


def test_auth_is_on_for_the_default_user() -> None:
    auth = _neo4j_service()["environment"]["NEO4J_AUTH"]
    assert auth.startswith(f"{Settings(_env_file=None).neo4j_user}/")
    assert auth.lower() != "none"


def test_healthcheck_runs_return_1_and_data_is_a_named_volume() -> None:
    service = _neo4j_service()
    assert "RETURN 1" in " ".join(service["healthcheck"]["test"])
    volume = service["volumes"][0].split(":")[0]
    assert volume in yaml.safe_load(COMPOSE.read_text())["volumes"]


def test_apoc_and_gds_plugins_requested() -> None:
    plugins = _neo4j_service()["environment"]["NEO4J_PLUGINS"]
    assert "apoc" in plugins and "graph-data-science" in plugins
