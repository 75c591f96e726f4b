"""The API's error answers: what went wrong and what to do, never internals.

No body carries the Neo4j address, a driver message, a stack trace or the client's own input
back (validation errors keep where and what, not the value). The details go to the server
log instead.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from tradegraph.api.limits import clean_errors
from tradegraph.api.liveness import NEO4J_DOWN_DETAIL, Neo4jDownError, Neo4jGate
from tradegraph.api.scoring import ScoringUnavailableError

logger = logging.getLogger(__name__)

INTERNAL_DETAIL = "Internal error; the API's log has the details."


def install_handlers(app: FastAPI, gate: Neo4jGate) -> None:
    """Register the handlers turning failures into short, safe JSON answers."""

    @app.exception_handler(Neo4jDownError)
    def neo4j_down(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": NEO4J_DOWN_DETAIL}, status_code=503)

    @app.exception_handler(ServiceUnavailable)
    @app.exception_handler(SessionExpired)
    def neo4j_lost(request: Request, exc: Exception) -> JSONResponse:
        gate.mark_down()
        logger.warning("Neo4j failed during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": NEO4J_DOWN_DETAIL}, status_code=503)

    @app.exception_handler(ScoringUnavailableError)
    def no_model(_request: Request, exc: ScoringUnavailableError) -> JSONResponse:
        logger.warning("no model for on-the-fly scores: %s", exc)
        return JSONResponse(
            {
                "detail": "No model for on-the-fly scores: train one with `tradegraph train` "
                "(the API's log says why the model could not be loaded)."
            },
            status_code=503,
        )

    @app.exception_handler(RequestValidationError)
    def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": clean_errors(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    def internal(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": INTERNAL_DETAIL}, status_code=500)
