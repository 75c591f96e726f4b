"""Request and response bodies of the scoring API (pydantic), with the examples the OpenAPI
page shows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tradegraph.api.limits import MAX_ID_CHARS, BusinessId, check_as_of


class ScoreOut(BaseModel):
    """One business's score."""

    business_id: str = Field(examples=["S000123"])
    score: float = Field(
        description="Points on the model's scale (higher = safer).", examples=[712.0]
    )
    grade: str = Field(description="Risk grade from the score's cut-offs.", examples=["B"])
    pd: float = Field(
        ge=0.0, le=1.0, description="Calibrated probability of default.", examples=[0.031]
    )
    reasons: list[str] = Field(
        description="Up to four reasons, most important first, in words the applicant may "
        "hear: facts about its own trade, never another business's identity or credit events.",
        examples=[["Sales fell by 38% in the last 90 days against the 90 days before"]],
    )
    reason_codes: list[str] = Field(
        default_factory=list,
        description="The stable code of each reason (see docs/reason-codes.md), aligned with "
        "`reasons`.",
        examples=[["SALES_TREND"]],
    )
    reason_details: list[str] = Field(
        default_factory=list,
        description="The analyst's line for each reason, aligned with `reasons`: names the "
        "counterparties behind it and what is wrong with each.",
        examples=[["Sales fell by 38% in the last 90 days against the 90 days before "
                   "(+0.41 to the log-odds)"]],
    )  # fmt: skip
    model_version: str = Field(
        description="The model that made the score.",
        examples=["m20240101-20240105T101500-a1b2c3"],
    )
    scored_at: dt.datetime | None = Field(
        description="When the score was computed (UTC).", examples=["2024-01-05T10:15:00Z"]
    )
    as_of: dt.date = Field(
        description="Score date: only data before it was used.",
        examples=["2024-01-01"],
    )
    source: Literal["stored", "on_the_fly"] = Field(
        description="`stored`: read from Neo4j; `on_the_fly`: computed now from the graph "
        "(not written back)."
    )
    notice: str | None = Field(
        default=None,
        description="Set on stored scores while the latest score run is incomplete: the "
        "stored scores may mix that run and an earlier one.",
        examples=[None],
    )


class ScoreRequest(BaseModel):
    """A batch of business ids to score."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"business_ids": ["S000123", "B004567"], "as_of": None}]},
    )

    business_ids: list[BusinessId] = Field(
        min_length=1,
        description=f"Ids to score (duplicates are scored once); each 1-{MAX_ID_CHARS} characters.",
    )
    as_of: Annotated[dt.date | None, AfterValidator(check_as_of)] = Field(
        default=None,
        description="Score date, from 1970-01-01 to 2100-01-01. Without it: the latest stored "
        "score, or an on-the-fly score on everything known now. With it: the stored score of "
        "that date, or an on-the-fly score from the graph as it stood before that date.",
    )


class ScoreError(BaseModel):
    """Why one id of a batch got no score."""

    business_id: str = Field(examples=["NOPE"])
    error: Literal["unknown_business", "not_registered_by_as_of", "not_an_sme", "not_scorable"]
    detail: str = Field(examples=["No business with this id in the graph."])


class BatchOut(BaseModel):
    """Scores of a batch, and the ids that got none (never silently dropped)."""

    scores: list[ScoreOut]
    errors: list[ScoreError]
    stored: int = Field(description="How many scores were read from Neo4j.")
    on_the_fly: int = Field(description="How many were computed from the graph now.")


class Neighbour(BaseModel):
    """A business in the neighbourhood (distance 0 is the business asked about)."""

    business_id: str
    distance: int = Field(description="Trade hops from the business (0 = itself).")
    via: str | None = Field(default=None, description="The business it is reached through.")
    kind: str | None = None
    industry: str | None = None
    registered_at: str | None = None
    risk_score: float | None = None
    risk_pd: float | None = None
    risk_grade: str | None = None
    outcomes: list[dict[str, Any]] = Field(default_factory=list)
    link_orders: int | None = Field(default=None, description="Orders on the link from `via`.")
    link_gmv: float | None = None
    link_refunded: int | None = None
    link_disputed: int | None = None
    link_first_ts: str | None = None
    link_last_ts: str | None = None
    latest_orders: list[dict[str, Any]] = Field(
        default_factory=list, description="Latest orders between `via` and this business."
    )
    shares_identifier: bool = Field(
        default=False, description="Shares a non-hub identifier with the business asked about."
    )


class NeighbourhoodOut(BaseModel):
    business_id: str
    hops: int
    neighbours: list[Neighbour]


class ClusterOut(BaseModel):
    """A suspicious cluster found by `tradegraph clusters`."""

    cluster_id: str = Field(examples=["identifier_ring-3f2a9c01b7de"])
    kind: str = Field(examples=["identifier_ring"])
    size: int = Field(examples=[7])
    suspicion: float = Field(ge=0.0, le=1.0, examples=[0.87])
    reasons: list[str] = Field(examples=[["7 businesses share 2 devices and 1 bank account"]])
    found_at: str | None = None
    verdict: str | None = None
    members: list[str]


class ClustersOut(BaseModel):
    clusters: list[ClusterOut]


class ScoreRunOut(BaseModel):
    """The latest recorded `tradegraph score` write-back."""

    run_id: str = Field(examples=["2024-01-01/m20240101-20240105T101500-a1b2c3"])
    as_of: dt.date
    model_version: str
    status: Literal["running", "complete", "failed"] = Field(
        description="`running` also when the writer died without saying so: anything but "
        "`complete` means the stored scores may mix this run and an earlier one."
    )
    written: int = Field(description="Scores committed so far.")
    total: int = Field(description="Scores the run set out to write.")
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    neo4j: Literal["up", "down"]
    model: Literal["loading", "ready", "unavailable"] = Field(
        description="The on-the-fly model: loading at start, ready, or unavailable (none "
        "trained yet or unreadable: on-the-fly scores answer 503; stored scores are served)."
    )
    version: str
    score_run: ScoreRunOut | None = Field(
        default=None, description="The latest score run (absent when Neo4j is down)."
    )


class ErrorOut(BaseModel):
    """Every 4xx/5xx body: what went wrong and what to do next."""

    detail: str = Field(examples=["No business 'NOPE' in the graph."])
