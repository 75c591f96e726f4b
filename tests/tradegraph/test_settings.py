"""Settings: secrets never show, and a non-demo run refuses to hash without a key."""

from __future__ import annotations

import pytest

from tradegraph.settings import DEMO_HASH_KEY, MissingHashKeyError, Settings


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("TRADEGRAPH_HASH_KEY", "key-secret-123")
    monkeypatch.setenv("TRADEGRAPH_API_KEY", "api-secret-456")
    settings = Settings(_env_file=None)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("hunter2-secret", "key-secret-123", "api-secret-456"):
        assert secret not in shown
    assert settings.neo4j_password.get_secret_value() == "hunter2-secret"


def test_conventional_neo4j_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://db.example:7687")
    monkeypatch.setenv("NEO4J_USERNAME", "analyst")
    settings = Settings(_env_file=None)
    assert settings.neo4j_uri == "bolt://db.example:7687"
    assert settings.neo4j_user == "analyst"


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRADEGRAPH_SEED", raising=False)
    env = tmp_path / ".env"
    env.write_text("TRADEGRAPH_SEED=7\nTRADEGRAPH_HUB_THRESHOLD=5\n")
    settings = Settings(_env_file=env)
    assert (settings.seed, settings.hub_threshold) == (7, 5)


def test_real_runs_need_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRADEGRAPH_HASH_KEY", raising=False)
    settings = Settings(_env_file=None)
    with pytest.raises(MissingHashKeyError, match="TRADEGRAPH_HASH_KEY"):
        settings.identifier_key()
    assert settings.identifier_key(demo=True) == DEMO_HASH_KEY.encode()


def test_configured_key_wins_over_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEGRAPH_HASH_KEY", "deployment-key")
    assert Settings(_env_file=None).identifier_key(demo=True) == b"deployment-key"
