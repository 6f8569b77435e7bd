"""Marquee's web app (FastAPI, server-rendered Jinja2 pages, a little JavaScript).

    GET  /                      the viewer: pick a user, see their home row and an ad break
    GET  /dashboard             operations: pipeline runs and gates, models and promotions,
                                serving latency, online click rate against the oracle, alerts
    POST /api/visits            one visit: home row + ranked ad break, impressions logged
    POST /api/events            clicks (and plays) on impressions this app served, checked, logged;
                                impressions come only from /api/visits; a re-sent id is kept once
    GET  /api/feedback          the open day's event counts and latest clicks
    GET  /api/status            is the service ready, which model, which day is open
    POST /api/admin/open-day    Bearer token: start logging a business day
    POST /api/admin/flush       Bearer token: ship the day's events to S3 raw

The app never ranks anything itself: it is the ranking service's client (infra_mle), and the
pages read what the loop wrote (`history.json`, and the model registry in the MLflow store at
`MARQUEE_APP_TRACKING_URI`). When the service is down, or there is no model yet, the pages and
the API say so in words instead of failing.
"""

from __future__ import annotations

import datetime as dt
import hmac
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fullstack_mle.dashboard import dashboard_context
from fullstack_mle.feedback import EventError, FeedbackLog
from fullstack_mle.registry import Registry
from fullstack_mle.settings import AppSettings
from fullstack_mle.visit import Catalogue, ServiceError, make_visit
from infra_mle.sources import fetch_file
from shared.http_guard import DateTimeText, StrictJSONBodies, refusals
from shared.lake import ENTITIES, entity_key
from shared.schema import DEVICES, EVENTS, IdText
from shared.settings import get_settings

HERE = Path(__file__).resolve().parent
PICKER_USERS = 24  # users offered in the viewer's picker (any id can be typed)


class VisitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: IdText
    device: str | None = Field(None, description="Default: the user's primary device.")
    time: DateTimeText | None = Field(None, description="Default: now, on the open day.")


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Published as the event contract, checked by `feedback.check_events` (not by FastAPI), so
    # each refused event gets ingest's reason and its index in one 422.
    events: list[dict[str, Any]] = Field(
        min_length=1, json_schema_extra={"items": EVENTS.pydantic().model_json_schema()}
    )


class DayRequest(BaseModel):
    day: dt.date


class State:
    """What the app holds: the event log, the service client, the entity tables, the registry."""

    def __init__(self, settings: AppSettings):
        self.settings = settings
        self.registry = Registry(settings.tracking_uri)  # opened on the first dashboard view
        self.log = FeedbackLog(settings.spool_dir, get_settings().bucket)
        self.client = httpx.Client(
            base_url=settings.service_url, timeout=settings.service_timeout_s
        )
        self._catalogue: Catalogue | None = None
        self.rng = np.random.default_rng()

    def catalogue(self) -> Catalogue:
        """The users and ads tables from S3 (`shared.lake.ENTITIES`), fetched once."""
        if self._catalogue is None:
            cache = self.settings.state_dir / "cache"
            bucket = get_settings().bucket
            try:
                users, ads = (
                    pd.read_parquet(fetch_file(f"s3://{bucket}/{entity_key(name)}", cache))
                    for name in ("users", "ads")
                )
            except Exception as error:  # any storage failure: not published
                raise ServiceError(
                    f"the entity tables are not in s3://{bucket}/{ENTITIES.key()}/ ({error}); "
                    "the loop publishes them when it starts"
                ) from None
            self._catalogue = Catalogue(users, ads)
        return self._catalogue

    def now(self) -> dt.datetime:
        """The app's clock: today's wall-clock time of day on the open business day."""
        if self.log.day is None:
            raise ServiceError("no business day is open yet: the loop opens one when it deploys")
        now = dt.datetime.now(dt.UTC)
        return dt.datetime.combine(self.log.day, now.time().replace(microsecond=0), dt.UTC)

    def service_status(self) -> dict:
        try:
            response = self.client.get("/readyz", timeout=1.0)
        except httpx.TransportError:
            return {
                "ready": False,
                "message": f"the ranking service at {self.settings.service_url} is not reachable",
            }
        detail = response.json().get("detail")
        if response.status_code != 200:
            return {"ready": False, "message": f"the ranking service is not ready: {detail}"}
        return {"ready": True, "message": "ready", "model_version": detail}

    def visit(self, body: VisitRequest) -> dict:
        catalogue = self.catalogue()
        user = catalogue.users.loc[catalogue.users["user_id"] == body.user_id]
        if user.empty:
            raise HTTPException(404, f"no user {body.user_id!r} in the entity table")
        device = body.device or str(user["primary_device"].iloc[0])
        if device not in DEVICES:
            raise HTTPException(422, f"device must be one of {', '.join(DEVICES)}")
        at = body.time or self.now()
        if at.tzinfo is None:
            raise HTTPException(422, "time needs a time zone, e.g. 2026-01-06T20:00:00Z")
        if self.log.day is None or at.astimezone(dt.UTC).date() != self.log.day:
            raise HTTPException(422, f"time {at.isoformat()} is not on the open day {self.log.day}")
        visit = make_visit(
            self.client,
            catalogue,
            body.user_id,
            device,
            at,
            self.rng,
            self.settings.candidates,
            self.settings.pod_size,
        )
        shown = visit.as_json()
        # The app's own events pass the same contract as anyone's: nothing invalid reaches raw.
        # They are the only impressions the log takes: what the app itself served.
        try:
            self.log.accept(shown["impressions"], served_by_app=True)
        except EventError as error:
            raise ServiceError(
                f"the ranking service's answer cannot be logged as events: {error.problems[0]}"
            ) from None
        return shown


def create_app(settings: AppSettings | None = None) -> FastAPI:
    settings = settings or AppSettings()
    state = State(settings)
    templates = Jinja2Templates(directory=HERE / "templates")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if state.log.day is not None:
            state.log.flush()  # nothing acknowledged stays behind on shutdown
        state.client.close()

    app = FastAPI(
        title="Marquee", version="1", lifespan=lifespan, description=__doc__.split("\n\n")[0]
    )
    app.state.app_state = state
    app.add_middleware(StrictJSONBodies, max_bytes=settings.max_body_bytes)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = settings.admin_token
        if token is None:
            raise HTTPException(403, "admin endpoints are off: set MARQUEE_APP_ADMIN_TOKEN")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest((authorization or "").encode(), expected.encode()):
            raise HTTPException(
                401, "a valid Bearer token is needed", {"WWW-Authenticate": "Bearer"}
            )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def viewer(request: Request, user: str | None = None, device: str | None = None):
        context: dict[str, Any] = {
            "status": state.service_status(),
            "day": state.log.day,
            "user": user,
            "devices": DEVICES,
            "device": device,
        }
        try:
            users = state.catalogue().users
            context["users"] = users["user_id"].head(PICKER_USERS).tolist()
            if user:
                request_body = VisitRequest(user_id=user, device=device or None)
                context["visit"] = state.visit(request_body)
        except ValidationError:
            context["error"] = "a user id is 1-64 letters, digits, '_', '.' or '-'"
        except ServiceError as error:
            context["error"] = str(error)
        except HTTPException as error:
            context["error"] = error.detail
        context["feedback"] = feedback()
        return templates.TemplateResponse(request, "viewer.html", context)

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request):
        context = dashboard_context(settings.history_path, state.registry)
        context.update(status=state.service_status(), day=state.log.day, feedback=feedback())
        return templates.TemplateResponse(request, "dashboard.html", context)

    @app.post(
        "/api/visits",
        responses=refusals(
            _404="no such user in the entity table",
            _422="an invalid body, or a time not on the open day",
            _503="the ranking service is down or not ready, or no day is open",
        ),
    )
    def visits(body: VisitRequest) -> dict:
        return state.visit(body)

    @app.post(
        "/api/events",
        responses=refusals(
            _422="the events that break the contract or do not match what was served, each "
            "with its index and reason; nothing of the batch is kept",
            _503="no business day is open",
        ),
    )
    def events(body: EventBatch) -> dict:
        if len(body.events) > settings.max_events:
            raise HTTPException(413, f"at most {settings.max_events} events per request")
        if state.log.day is None:
            raise ServiceError("no business day is open: events have nowhere to go")
        try:
            checked = state.log.accept(body.events)
        except EventError as error:
            raise HTTPException(422, {"message": str(error), "problems": error.problems}) from None
        return {
            "accepted": len(checked.records),
            "resent": len(checked.resent),  # already stored: acknowledged, not stored twice
            "day": state.log.day.isoformat(),
        }

    @app.get("/api/feedback")
    def feedback() -> dict:
        log = state.log
        return {
            "day": log.day.isoformat() if log.day else None,
            "events": log.counts.events,
            "by_type": log.counts.by_type,
            "flushed": log.counts.flushed,
            "recent_clicks": log.recent[:5],
        }

    @app.get("/api/status")
    def status() -> dict:
        return {"service": state.service_status(), "day": state.log.day}

    admin_refusals = refusals(
        _401="no valid Bearer token", _403="admin endpoints are off", _409="the log refused it"
    )

    @app.post("/api/admin/open-day", dependencies=[Depends(admin)], responses=admin_refusals)
    def open_day(body: DayRequest) -> dict:
        try:
            state.log.open_day(body.day)
        except RuntimeError as error:
            raise HTTPException(409, str(error)) from None
        return {"day": body.day.isoformat()}

    @app.post("/api/admin/flush", dependencies=[Depends(admin)], responses=admin_refusals)
    def flush() -> dict:
        try:
            return state.log.flush()
        except RuntimeError as error:
            raise HTTPException(409, str(error)) from None

    return app
