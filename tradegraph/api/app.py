"""The scoring API: FastAPI over the Neo4j graph and the trained model.

``create_app(driver, settings)`` builds it. Every route but ``/health`` needs the key from
``TRADEGRAPH_API_KEY`` in the ``X-API-Key`` header; the app refuses to be built without one
(``tradegraph serve --demo`` makes a random one and prints it). Handlers are plain ``def``
functions, so FastAPI runs them in its thread pool next to the synchronous Neo4j driver.

Hostile or faulty conditions get fast, plain answers: bodies over 64 KiB are refused unread
(413), ids and dates are bounded (422, without echoing the input), a stopped Neo4j is a 503
within a second (:mod:`tradegraph.api.liveness`) without the server's address, and the access
log never keeps a key sent in the URL (:mod:`tradegraph.api.access_log`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import neo4j
from fastapi import FastAPI

import tradegraph
from tradegraph.api import access_log
from tradegraph.api.dependencies import AppContext
from tradegraph.api.errors import install_handlers
from tradegraph.api.limits import MAX_BODY_BYTES, BodyLimitMiddleware
from tradegraph.api.liveness import Neo4jGate
from tradegraph.api.routers import graph, scores, service
from tradegraph.api.scoring import ScoreFunction, Scorer, artefact_score_function
from tradegraph.settings import Settings


class MissingApiKeyError(RuntimeError):
    """The API would start without a key."""


def _api_key(settings: Settings, api_key: str | None) -> str:
    key = api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not key:
        raise MissingApiKeyError(
            "No API key: set TRADEGRAPH_API_KEY (e.g. in .env) to a long random secret, or run "
            "`tradegraph serve --demo` to use a random key printed at start."
        )
    return key


def create_app(
    driver: neo4j.Driver,
    settings: Settings,
    artefact_dir: Path | None = None,
    *,
    api_key: str | None = None,
    score_function: ScoreFunction | None = None,
    max_batch: int | None = None,
    cache_ttl_s: float = 60.0,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API app. ``api_key`` overrides the settings' key (demo mode); ``score_function``
    overrides the model (default: ``gnn.scoring.score`` with ``artefact_dir`` or the latest
    model in ``settings.models_dir``); ``max_batch`` defaults to ``settings.api_max_batch``;
    on-the-fly scores are cached ``cache_ttl_s`` seconds; bodies over ``max_body_bytes`` are
    refused."""
    key = _api_key(settings, api_key)
    access_log.install(secrets=(key,))
    batch_limit = max_batch or settings.api_max_batch
    database = settings.neo4j_database if settings.neo4j_uri else None
    gate = Neo4jGate(driver, database)
    scorer = Scorer(
        driver,
        score_function
        or artefact_score_function(artefact_dir, settings.models_dir, settings.serving_dir),
        ttl_s=cache_ttl_s,
        database=database,
        gate=gate,
        lake=settings.lake,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Load the model beside the starting server, not inside the first on-the-fly request.
        scorer.start_warm_up()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="tradegraph scoring API",
        version=tradegraph.__version__,
        description=(
            "Risk scores of small businesses on a marketplace, from a trade graph in Neo4j and "
            "a GraphSAGE-based model. Every route but `/health` needs the `X-API-Key` header."
        ),
    )
    app.state.context = AppContext(driver, database, scorer, gate, batch_limit, key)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    install_handlers(app, gate)
    for module in (service, scores, graph):
        app.include_router(module.router)
    return app
