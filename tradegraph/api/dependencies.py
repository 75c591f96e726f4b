"""What every route depends on: the app's context (driver, scorer, liveness gate, limits) and
the API key check, as FastAPI dependencies, plus the shared parameter and response types."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import neo4j
from fastapi import Depends, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator

from graph.score_runs import ScoreRun, latest_run_in
from tradegraph.api.limits import MAX_BODY_BYTES, MAX_ID_CHARS, check_id
from tradegraph.api.liveness import Neo4jGate
from tradegraph.api.models import ErrorOut
from tradegraph.api.scoring import Scorer

API_KEY_HEADER = "X-API-Key"
#: Seconds the latest score run is remembered between requests.
RUN_TTL_S = 2.0

#: Error answers every guarded route may give (for the OpenAPI page).
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong X-API-Key."},
    413: {"model": ErrorOut, "description": f"Request body over {MAX_BODY_BYTES} bytes."},
    503: {"model": ErrorOut, "description": "Neo4j or the model is not available."},
}

#: A business id in a URL: 1-64 characters, no control or format characters (NFKC).
BusinessIdPath = Annotated[
    str,
    AfterValidator(check_id),
    PathParam(description=f"The business id (1-{MAX_ID_CHARS} characters).", examples=["S000123"]),
]


@dataclass
class AppContext:
    """One app's collaborators, kept in ``app.state.context``."""

    driver: neo4j.Driver
    database: str | None
    scorer: Scorer
    gate: Neo4jGate
    batch_limit: int
    key: str
    #: How long the latest score run is remembered: it changes once per `tradegraph score`,
    #: and reading it on every stored-score request would double the round trips to Neo4j.
    run_ttl_s: float = RUN_TTL_S
    _run: tuple[float, ScoreRun | None] | None = field(default=None, repr=False)
    _run_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def score_run(self) -> ScoreRun | None:
        """The latest score write-back (read at most once per ``run_ttl_s``), to say when
        stored scores mix two runs."""
        with self._run_lock:
            if self._run is not None and time.monotonic() - self._run[0] < self.run_ttl_s:
                return self._run[1]
        run = self.gate.read(latest_run_in)  # bounded like the stored read: 503 if down
        with self._run_lock:
            self._run = (time.monotonic(), run)
        return run


# The dependencies are ``async``: they never block, and FastAPI would run a plain ``def`` in
# its thread pool, one hand-over per dependency and request.
async def get_context(request: Request) -> AppContext:
    return request.app.state.context


Context = Annotated[AppContext, Depends(get_context)]

_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="The API key.")


async def require_key(context: Context, given: Annotated[str | None, Depends(_header)]) -> None:
    """401 unless the request carries the key (compared in constant time)."""
    if not given or not secrets.compare_digest(given.encode(), context.key.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"Missing or wrong API key: send it in the {API_KEY_HEADER} header.",
        )


#: Route dependencies of every guarded route: the key first, then input validation (422),
#: then each handler's ``context.gate.require()`` (503).
GUARDED = [Depends(require_key)]
