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

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated, Any

import neo4j
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, status
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator

import tradegraph
from graph.clusters import list_clusters
from graph.query_library import QueryLibraryError, get_query, run_query
from graph.score_runs import ScoreRun, latest_run
from tradegraph.api import access_log
from tradegraph.api.errors import install_handlers
from tradegraph.api.limits import MAX_BODY_BYTES, MAX_ID_CHARS, BodyLimitMiddleware, check_id
from tradegraph.api.liveness import Neo4jGate
from tradegraph.api.models import (
    BatchOut,
    ClusterOut,
    ClustersOut,
    ErrorOut,
    HealthOut,
    Neighbour,
    NeighbourhoodOut,
    ScoreError,
    ScoreOut,
    ScoreRequest,
    ScoreRunOut,
)
from tradegraph.api.scoring import (
    ScoreFunction,
    Scorer,
    artefact_score_function,
    as_reasons,
    next_midnight,
)
from tradegraph.settings import Settings

API_KEY_HEADER = "X-API-Key"

_ERRORS: dict[int | str, dict[str, Any]] = {
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


def _has_stored(row: dict[str, Any]) -> bool:
    """A stored score the API can vouch for: with its score date and model."""
    return all(row.get(k) is not None for k in ("pd", "as_of", "model_version"))


def _run_notice(run: ScoreRun | None, row: dict[str, Any]) -> str | None:
    """What a stored score's reader must know while the latest score run is incomplete."""
    if run is None or run.complete:
        return None
    state = (
        f"The latest score run (as of {run.as_of.date()}, model {run.model_version}) is "
        f"incomplete ({run.status}, {run.written} of {run.total} written); re-run "
        f"`tradegraph score --as-of {run.as_of.date()}` to complete it."
    )
    as_of = pd.Timestamp(row["as_of"]).date()
    if as_of == run.as_of.date() and row.get("model_version") == run.model_version:
        return state + " This score is from that run."
    return state + f" It did not reach this business: this score is from an earlier run ({as_of})."


def _run_out(run: ScoreRun | None) -> ScoreRunOut | None:
    if run is None:
        return None
    return ScoreRunOut(
        run_id=run.run_id, as_of=run.as_of.date(), model_version=run.model_version,
        status=run.status,  # type: ignore[arg-type]
        written=run.written, total=run.total,
        started_at=run.started_at, finished_at=run.finished_at,
    )  # fmt: skip


def _score_out(row: dict[str, Any], source: str, notice: str | None = None) -> ScoreOut:
    return ScoreOut(
        business_id=str(row["business_id"]),
        score=float(row["score"]),
        grade=str(row["grade"]),
        pd=float(row["pd"]),
        reasons=as_reasons(row.get("reasons")),
        model_version=str(row["model_version"]),
        scored_at=row.get("scored_at"),
        as_of=pd.Timestamp(row["as_of"]).date(),
        source=source,  # type: ignore[arg-type]
        notice=notice,
    )


def _score_now(
    scorer: Scorer, rows: list[dict[str, Any]], as_of: pd.Timestamp
) -> tuple[list[ScoreOut], list[ScoreError]]:
    """On-the-fly scores of known businesses without a stored score, and why others got none."""
    errors: list[ScoreError] = []
    smes: list[dict[str, Any]] = []
    for row in rows:
        if (row.get("kind") or "sme") != "sme":
            errors.append(
                ScoreError(
                    business_id=row["business_id"],
                    error="not_an_sme",
                    detail=f"Only SMEs are scored; this business is a {row['kind']}.",
                )
            )
        else:
            smes.append(row)
    if not smes:
        return [], errors
    fresh = scorer.on_the_fly([r["business_id"] for r in smes], as_of)
    scored_at = dt.datetime.now(dt.UTC)
    scores: list[ScoreOut] = []
    for row in smes:
        bid = row["business_id"]
        if bid in fresh.index:
            values = fresh.loc[bid].to_dict() | {"business_id": bid, "scored_at": scored_at}
            scores.append(_score_out(values | {"as_of": as_of}, "on_the_fly"))
        elif row["registered_at"] is not None and pd.Timestamp(row["registered_at"]) >= as_of:
            errors.append(
                ScoreError(
                    business_id=bid,
                    error="not_registered_by_as_of",
                    detail=f"Registered on or after the score date {as_of.date()}: "
                    "ask for a later as_of.",
                )
            )
        else:
            errors.append(
                ScoreError(
                    business_id=bid,
                    error="not_scorable",
                    detail=f"The model gave no score as of {as_of.date()} "
                    "(no registration date in the graph?).",
                )
            )
    return scores, errors


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
    scorer = Scorer(
        driver,
        score_function or artefact_score_function(artefact_dir, settings.models_dir),
        ttl_s=cache_ttl_s,
        database=database,
    )
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="The API key.")

    def require_key(given: str | None = Depends(header)) -> None:
        if not given or not secrets.compare_digest(given.encode(), key.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"Missing or wrong API key: send it in the {API_KEY_HEADER} header.",
            )

    app = FastAPI(
        title="tradegraph scoring API",
        version=tradegraph.__version__,
        description=(
            "Risk scores of small businesses on a marketplace, from a trade graph in Neo4j and "
            "a GraphSAGE-based model. Every route but `/health` needs the `X-API-Key` header."
        ),
    )
    gate = Neo4jGate(driver, database)
    app.state.scorer = scorer
    app.state.neo4j = gate
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    install_handlers(app, gate)
    guarded = [Depends(require_key)]  # then input validation (422), then gate.require (503)

    def score_run() -> ScoreRun | None:
        return latest_run(driver, database=database)

    @app.get("/health", response_model=HealthOut, tags=["service"], summary="Liveness")
    def health() -> JSONResponse:
        """No key needed. 200 when Neo4j answers (with the latest score run), 503 within a
        second when it does not."""
        up = gate.is_up()
        body = HealthOut(
            status="ok" if up else "degraded",
            neo4j="up" if up else "down",
            version=app.version,
            score_run=_run_out(score_run()) if up else None,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if up else 503)

    @app.get(
        "/businesses/{business_id}/score",
        response_model=ScoreOut,
        dependencies=guarded,
        tags=["scores"],
        summary="Latest stored score of one business",
        responses={
            404: {"model": ErrorOut, "description": "No business with this id."},
            409: {"model": ErrorOut, "description": "Known business, not scored yet."},
            **_ERRORS,
        },
    )
    def business_score(business_id: BusinessIdPath) -> ScoreOut:
        """The latest score written by `tradegraph score`: score, grade, PD, reasons, model
        version, score date and when it was scored (with a notice while the latest score run
        is incomplete)."""
        gate.require()
        row = scorer.stored([business_id], None)[0]
        if not row["known"]:
            raise HTTPException(404, f"No business {business_id!r} in the graph.")
        if not _has_stored(row):
            raise HTTPException(
                409,
                f"Business {business_id!r} has no stored score yet: POST /score with "
                f'{{"business_ids": ["{business_id}"]}} scores it on the fly, or run '
                "`tradegraph score` to score everyone.",
            )
        return _score_out(row, "stored", _run_notice(score_run(), row))

    @app.post(
        "/score",
        response_model=BatchOut,
        dependencies=guarded,
        tags=["scores"],
        summary="Score a batch of businesses",
        responses={
            413: {"model": ErrorOut, "description": "More ids than the batch limit."},
            422: {"description": "Malformed body."},
            **_ERRORS,
        },
    )
    def score_batch(request: ScoreRequest) -> BatchOut:
        """Stored scores where they exist; the rest are scored on the fly from the graph
        (also businesses that arrived after the model was trained). Ids that cannot be scored
        are listed in `errors` with the reason."""
        gate.require()
        ids = list(dict.fromkeys(request.business_ids))
        if len(ids) > batch_limit:
            raise HTTPException(
                413,
                f"{len(ids)} ids in one request; at most {batch_limit} are allowed: "
                "split the batch.",
            )
        as_of = pd.Timestamp(request.as_of, tz="UTC") if request.as_of else None
        rows = scorer.stored(ids, as_of)
        run = score_run() if any(_has_stored(r) for r in rows) else None
        scores: list[ScoreOut] = []
        errors: list[ScoreError] = []
        pending: list[dict[str, Any]] = []
        for row in rows:
            if not row["known"]:
                errors.append(
                    ScoreError(
                        business_id=row["business_id"],
                        error="unknown_business",
                        detail="No business with this id in the graph.",
                    )
                )
            elif not _has_stored(row):
                pending.append(row)
            else:
                scores.append(_score_out(row, "stored", _run_notice(run, row)))
        stored = len(scores)
        if pending:
            date = as_of if as_of is not None else next_midnight()
            scores_now, more_errors = _score_now(scorer, pending, date)
            scores += scores_now
            errors += more_errors
        order = {bid: i for i, bid in enumerate(ids)}
        scores.sort(key=lambda s: order[s.business_id])
        return BatchOut(
            scores=scores, errors=errors, stored=stored, on_the_fly=len(scores) - stored
        )

    @app.get(
        "/businesses/{business_id}/neighbourhood",
        response_model=NeighbourhoodOut,
        dependencies=guarded,
        tags=["graph"],
        summary="Counterparties up to k hops, with their scores and orders",
        responses={404: {"model": ErrorOut, "description": "No business with this id."}, **_ERRORS},
    )
    def neighbourhood(
        business_id: BusinessIdPath,
        hops: Annotated[int, Query(ge=1, le=3, description="Trade hops out.")] = 2,
        orders_per_link: Annotated[
            int, Query(ge=0, le=50, description="Latest orders per link.")
        ] = 5,
        limit: Annotated[int, Query(ge=1, le=1000, description="Most neighbours returned.")] = 200,
    ) -> NeighbourhoodOut:
        """The library's `neighbourhood` query: who the business trades with, how risky they
        are, and whether they share identifiers with it (nearest and riskiest first)."""
        gate.require()
        try:
            result = run_query(
                driver,
                get_query("neighbourhood"),
                {
                    "business_id": business_id,
                    "hops": hops,
                    "orders_per_link": orders_per_link,
                    "limit": limit,
                },
                database=database,
            )
        except QueryLibraryError as err:
            raise HTTPException(422, str(err)) from err
        if not result.rows:
            raise HTTPException(404, f"No business {business_id!r} in the graph.")
        return NeighbourhoodOut(
            business_id=business_id,
            hops=hops,
            neighbours=[
                Neighbour(**{k: v for k, v in r.items() if v is not None}) for r in result.rows
            ],
        )

    @app.get(
        "/clusters",
        response_model=ClustersOut,
        dependencies=guarded,
        tags=["graph"],
        summary="Top suspicious clusters",
        responses=_ERRORS,
    )
    def clusters(
        limit: Annotated[
            int, Query(ge=1, le=500, description="How many, most suspicious first.")
        ] = 20,
        kind: Annotated[
            str | None, Query(description="Only this kind, e.g. identifier_ring.")
        ] = None,
        include_decided: Annotated[
            bool, Query(description="Also clusters with a verdict.")
        ] = False,
    ) -> ClustersOut:
        """Clusters written by `tradegraph clusters`, with their members and reasons."""
        gate.require()
        rows = list_clusters(
            driver, kind=kind, include_decided=include_decided, limit=limit, database=database
        )
        return ClustersOut(
            clusters=[
                ClusterOut(
                    cluster_id=r["cluster_id"],
                    kind=r["kind"],
                    size=int(r["size"] or len(r["members"])),
                    suspicion=float(r["suspicion"] or 0.0),
                    reasons=as_reasons(r.get("reasons")),
                    found_at=r.get("found_at"),
                    verdict=r.get("verdict"),
                    members=list(r["members"]),
                )
                for r in rows
            ]
        )

    return app
