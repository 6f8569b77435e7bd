"""The service's request and response bodies: what the OpenAPI spec publishes and what
schemathesis fuzzes. Strict: unknown fields, wrong types and oversized lists are a 422."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

from shared.http_guard import DateTimeText
from shared.schema import DEVICES, IdText

MAX_CANDIDATES = 100  # an ad break picks from tens of eligible ads; more is a client bug
# Ids are short and plain; anything else is refused before it reaches a lookup or a log line.
Id = IdText


class RankRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    device: Literal[DEVICES]  # type: ignore[valid-type]
    time: DateTimeText = Field(description="When the break starts, with a time zone.")
    title_id: Id | None = Field(None, description="The title being watched.")
    candidate_ad_ids: list[Id] = Field(
        min_length=1, max_length=MAX_CANDIDATES, json_schema_extra={"uniqueItems": True}
    )

    @field_validator("candidate_ad_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("candidate_ad_ids must not repeat an id")
        return ids


class RankedAd(BaseModel):
    ad_id: str
    p_click: float = Field(description="Predicted click probability in the first slot.")
    bid: float = Field(description="Dollars per click; 0 for an ad without a known bid.")
    ecpm: float = Field(description="p_click x bid x 1000: expected dollars per 1,000 showings.")
    known: bool = Field(description="False: the ad has no bid on record (ranked last).")


class RankResponse(BaseModel):
    ads: list[RankedAd]
    model_version: str
    feature_snapshot: str = Field(description="The day the features are as of.")
    user_known: bool = Field(description="False: a new user, scored with default features.")


class HomeTitle(BaseModel):
    title_id: str
    p_click: float


class HomeResponse(BaseModel):
    user_id: str
    titles: list[HomeTitle]
    source: Literal["batch", "popular"] = Field(description="popular: the user has no batch row.")
    generated_for: dt.date = Field(description="The day the batch job scored for.")
    published_at: dt.datetime | None = Field(description="When the batch output was published.")


class Status(BaseModel):
    status: str
    detail: str | None = None


class ReloadResponse(BaseModel):
    previous_version: str
    model_version: str
    changed: bool
