"""Graph views for analysts: a business's neighbourhood and the suspicious clusters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from graph.clusters import list_clusters
from graph.query_library import QueryLibraryError, get_query, run_query
from tradegraph.api.dependencies import ERRORS, GUARDED, BusinessIdPath, Context
from tradegraph.api.models import ClusterOut, ClustersOut, ErrorOut, Neighbour, NeighbourhoodOut
from tradegraph.api.scoring import as_reasons

router = APIRouter(tags=["graph"])


@router.get(
    "/businesses/{business_id}/neighbourhood",
    response_model=NeighbourhoodOut,
    dependencies=GUARDED,
    summary="Counterparties up to k hops, with their scores and orders",
    responses={404: {"model": ErrorOut, "description": "No business with this id."}, **ERRORS},
)
def neighbourhood(
    business_id: BusinessIdPath,
    context: Context,
    hops: Annotated[int, Query(ge=1, le=3, description="Trade hops out.")] = 2,
    orders_per_link: Annotated[int, Query(ge=0, le=50, description="Latest orders per link.")] = 5,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most neighbours returned.")] = 200,
) -> NeighbourhoodOut:
    """The library's `neighbourhood` query: who the business trades with, how risky they
    are, and whether they share identifiers with it (nearest and riskiest first)."""
    context.gate.require()
    try:
        result = run_query(
            context.driver,
            get_query("neighbourhood"),
            {
                "business_id": business_id,
                "hops": hops,
                "orders_per_link": orders_per_link,
                "limit": limit,
            },
            database=context.database,
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


@router.get(
    "/clusters",
    response_model=ClustersOut,
    dependencies=GUARDED,
    summary="Top suspicious clusters",
    responses=ERRORS,
)
def clusters(
    context: Context,
    limit: Annotated[int, Query(ge=1, le=500, description="How many, most suspicious first.")] = 20,
    kind: Annotated[str | None, Query(description="Only this kind, e.g. identifier_ring.")] = None,
    include_decided: Annotated[bool, Query(description="Also clusters with a verdict.")] = False,
) -> ClustersOut:
    """Clusters written by `tradegraph clusters`, with their members and reasons."""
    context.gate.require()
    rows = list_clusters(
        context.driver,
        kind=kind,
        include_decided=include_decided,
        limit=limit,
        database=context.database,
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
