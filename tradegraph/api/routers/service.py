"""``/health``: liveness of the API and of Neo4j, with the latest score run."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from graph.score_runs import ScoreRun
from tradegraph.api.dependencies import Context
from tradegraph.api.liveness import Neo4jDownError
from tradegraph.api.models import HealthOut, ScoreRunOut

router = APIRouter(tags=["service"])


def _run_out(run: ScoreRun | None) -> ScoreRunOut | None:
    if run is None:
        return None
    return ScoreRunOut(
        run_id=run.run_id, as_of=run.as_of.date(), model_version=run.model_version,
        status=run.status,  # type: ignore[arg-type]
        written=run.written, total=run.total,
        started_at=run.started_at, finished_at=run.finished_at,
    )  # fmt: skip


@router.get("/health", response_model=HealthOut, summary="Liveness")
def health(context: Context, request: Request) -> JSONResponse:
    """No key needed. 200 when Neo4j answers (with the latest score run), 503 within a
    second when it does not."""
    up = context.gate.is_up()
    run = None
    if up:
        try:
            run = context.score_run()
        except Neo4jDownError:  # went down between the probe and the read
            up = False
    body = HealthOut(
        status="ok" if up else "degraded",
        neo4j="up" if up else "down",
        model=context.scorer.model_state,
        version=request.app.version,
        score_run=_run_out(run),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if up else 503)
