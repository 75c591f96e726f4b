"""Scores: the latest stored score of one business, and batches scored stored-or-on-the-fly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException

from graph.score_runs import ScoreRun
from tradegraph.api.dependencies import ERRORS, GUARDED, BusinessIdPath, Context
from tradegraph.api.models import BatchOut, ErrorOut, ScoreError, ScoreOut, ScoreRequest
from tradegraph.api.scoring import Scorer, as_reasons, next_midnight

router = APIRouter(tags=["scores"])


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


def _score_out(row: dict[str, Any], source: str, notice: str | None = None) -> ScoreOut:
    return ScoreOut(
        business_id=str(row["business_id"]),
        score=float(row["score"]),
        grade=str(row["grade"]),
        pd=float(row["pd"]),
        reasons=as_reasons(row.get("reasons")),
        reason_codes=as_reasons(row.get("reason_codes")),
        reason_details=as_reasons(row.get("reason_details")),
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


@router.get(
    "/businesses/{business_id}/score",
    response_model=ScoreOut,
    dependencies=GUARDED,
    summary="Latest stored score of one business",
    responses={
        404: {"model": ErrorOut, "description": "No business with this id."},
        409: {"model": ErrorOut, "description": "Known business, not scored yet."},
        **ERRORS,
    },
)
def business_score(business_id: BusinessIdPath, context: Context) -> ScoreOut:
    """The latest score written by `tradegraph score`: score, grade, PD, reasons, model
    version, score date and when it was scored (with a notice while the latest score run
    is incomplete)."""
    row = context.scorer.stored([business_id], None)[0]  # guarded by the gate: 503 if down
    if not row["known"]:
        raise HTTPException(404, f"No business {business_id!r} in the graph.")
    if not _has_stored(row):
        raise HTTPException(
            409,
            f"Business {business_id!r} has no stored score yet: POST /score with "
            f'{{"business_ids": ["{business_id}"]}} scores it on the fly, or run '
            "`tradegraph score` to score everyone.",
        )
    return _score_out(row, "stored", _run_notice(context.score_run(), row))


@router.post(
    "/score",
    response_model=BatchOut,
    dependencies=GUARDED,
    summary="Score a batch of businesses",
    responses={
        413: {"model": ErrorOut, "description": "More ids than the batch limit."},
        422: {"description": "Malformed body."},
        **ERRORS,
    },
)
def score_batch(request: ScoreRequest, context: Context) -> BatchOut:
    """Stored scores where they exist; the rest are scored on the fly from the graph
    (also businesses that arrived after the model was trained). Ids that cannot be scored
    are listed in `errors` with the reason."""
    ids = list(dict.fromkeys(request.business_ids))
    if len(ids) > context.batch_limit:
        raise HTTPException(
            413,
            f"{len(ids)} ids in one request; at most {context.batch_limit} are allowed: "
            "split the batch.",
        )
    as_of = pd.Timestamp(request.as_of, tz="UTC") if request.as_of else None
    rows = context.scorer.stored(ids, as_of)
    run = context.score_run() if any(_has_stored(r) for r in rows) else None
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
        scores_now, more_errors = _score_now(context.scorer, pending, date)
        scores += scores_now
        errors += more_errors
    order = {bid: i for i, bid in enumerate(ids)}
    scores.sort(key=lambda s: order[s.business_id])
    return BatchOut(scores=scores, errors=errors, stored=stored, on_the_fly=len(scores) - stored)
