"""All of tradegraph's configuration, in one place.

Values come from the environment (``TRADEGRAPH_*``, plus the conventional ``NEO4J_URI``,
``NEO4J_USER`` and ``NEO4J_PASSWORD``) and from a ``.env`` file in the working directory.
Secrets are :class:`pydantic.SecretStr`, so printing or logging a ``Settings`` never shows
them. The lower layers (``loaders``, ``graph``, ``gnn``) never read settings themselves: the
application passes them the values they need.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from loaders.columns import HUB_THRESHOLD
from loaders.options import ExportOptions

#: The fixed key that demo and test runs hash identifiers with. It is public (it is in this
#: file), so hashes made with it protect nothing: never use it on real data.
DEMO_HASH_KEY = "tradegraph-DEMO-KEY-public-not-for-real-data"


class MissingHashKeyError(RuntimeError):
    """Raised when a non-demo run has no identifier-hashing key."""


class Settings(BaseSettings):
    """tradegraph's settings; see the README's Configuration table for every variable."""

    model_config = SettingsConfigDict(
        env_prefix="TRADEGRAPH_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- Neo4j: a server named here is used as is; without one the local server is started.
    neo4j_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_URI", "TRADEGRAPH_NEO4J_URI")
    )
    neo4j_user: str = Field(
        default="neo4j",
        validation_alias=AliasChoices("NEO4J_USER", "NEO4J_USERNAME", "TRADEGRAPH_NEO4J_USER"),
    )
    neo4j_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NEO4J_PASSWORD", "TRADEGRAPH_NEO4J_PASSWORD"),
    )
    neo4j_database: str = Field(
        default="neo4j",
        validation_alias=AliasChoices("NEO4J_DATABASE", "TRADEGRAPH_NEO4J_DATABASE"),
    )

    # --- The local server the project starts itself.
    home: Path = Path(".tradegraph")
    neo4j_data_dir: Path | None = None  # default: <home>/neo4j
    neo4j_bolt_port: int = 7687
    neo4j_http_port: int = 7474
    neo4j_heap: str = "3g"
    neo4j_pagecache: str = "3g"
    neo4j_version: str = "5.26.30"
    jar_cache: Path = Path.home() / ".cache" / "tradegraph" / "neo4j"
    java_home: Path | None = None

    # --- Data and models.
    seed: int = 42
    hash_key: SecretStr | None = None
    base_currency: str = "USD"
    phone_country_code: str | None = None  # e.g. "44": national numbers "07…" -> "+447…"
    horizon_days: int = 365
    hub_threshold: int = HUB_THRESHOLD
    #: A Parquet lake (``validate --lake`` / ``load --lake``) that snapshots are read from
    #: instead of Neo4j: by train/evaluate/score/snapshot/report and on-the-fly API scores.
    lake: Path | None = None
    #: What cuts snapshots and computes features from the lake: ``pandas`` in this process, or
    #: ``spark`` (``spark_master``; ``local[*]`` when unset and ``SPARK_REMOTE`` is not set).
    engine: Literal["pandas", "spark"] = "pandas"
    spark_master: str | None = None
    #: The local Spark JVM's heap; in local mode it shares the machine with Neo4j's heap and
    #: page cache (``neo4j_heap``, ``neo4j_pagecache``), so keep the three under its memory.
    spark_memory: str = "3g"
    batch_size: int = 10_000
    #: Concurrent write transactions of a score write-back (commits stay in batch order);
    #: more suit a server with more cores.
    score_writers: int = Field(default=2, ge=1)
    api_key: SecretStr | None = None
    api_max_batch: int = 1000
    torch_threads: int | None = None  # CPU threads for training/scoring; None: torch's default

    @property
    def local_data_dir(self) -> Path:
        """Where the local Neo4j keeps its data, logs and generated password."""
        return (self.neo4j_data_dir or self.home / "neo4j").resolve()

    @property
    def models_dir(self) -> Path:
        return (self.home / "models").resolve()

    @property
    def serving_dir(self) -> Path:
        """The neighbourhood store of the latest full score run (``gnn.neighbourhood``)."""
        return (self.home / "serving").resolve()

    @property
    def runs_dir(self) -> Path:
        return (self.home / "runs").resolve()

    def export_options(self) -> ExportOptions:
        """How exports are read here: the base currency and the phone country code."""
        return ExportOptions(self.base_currency, self.phone_country_code)

    def identifier_key(self, *, demo: bool = False) -> bytes:
        """The HMAC key for identifiers: the configured one, or the public demo key in demo
        and test runs. Any other run without a key stops, because hashes made under a key
        that later changes stop matching the ones already stored."""
        if self.hash_key is not None:
            return self.hash_key.get_secret_value().encode()
        if demo:
            return DEMO_HASH_KEY.encode()
        raise MissingHashKeyError(
            "No identifier-hashing key: set TRADEGRAPH_HASH_KEY (e.g. in .env) to a long random "
            "secret and keep it for the life of the deployment, or pass --demo to use the public "
            "demo key on synthetic data."
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
