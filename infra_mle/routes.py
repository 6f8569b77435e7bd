"""The service's HTTP API: each route, its status codes, and admission control.

    python -m infra_mle.serve        # create_app (app.py) includes `router`
    curl -s localhost:8000/docs      # the OpenAPI page these routes and `schemas.py` publish

Every route reaches the state through `get_service` (`app.state.service`), so a test builds an
app with its own settings and nothing here is global. The routes that do work for a client go
through admission control (`admission.py`, `ADMITTED_PREFIXES`): as many at once as the adaptive
limit allows, the rest refused at once with a 503 and Retry-After. The
bench route is on a router of its own, included only when the settings ask for it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from infra_mle.loaders import load_home_rows, load_serving_model
from infra_mle.schemas import (
    HomeResponse,
    Id,
    RankRequest,
    RankResponse,
    ReloadResponse,
    Status,
)
from infra_mle.service import Service
from shared.artifacts import ArtifactError
from shared.http_guard import REFUSALS
from shared.storage import ChecksumError

log = logging.getLogger("infra_mle")

router = APIRouter()
bench_router = APIRouter()  # included only with bench_endpoints: see create_app


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


# The routes that do work for a client: admitted (or refused) by `admission.AdmissionControl`
# before their body is even parsed; see `app.create_app`.
ADMITTED_PREFIXES = ("/v1/", "/bench/")


@router.get("/healthz", response_model=Status)
async def healthz() -> Status:
    """Alive: the process answers."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses={503: {"model": Status}})
async def readyz(service: ServiceDep, response: Response) -> Status:
    """Ready: model and features loaded, not draining."""
    if not service.ready:
        response.status_code = 503
        return Status(status="not ready", detail="loading" if not service.draining else "draining")
    assert service.model is not None
    return Status(status="ready", detail=service.model.version)


@router.get("/metrics", include_in_schema=False)
async def metrics(service: ServiceDep) -> Response:
    service.metrics.admission_limit.set(service.admission.limit)
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post(
    "/v1/ad-break/rank",
    response_model=RankResponse,
    responses={
        **REFUSALS,
        503: {"description": "overloaded, not ready, or inference timed out"},
    },
)
async def rank(body: RankRequest, service: ServiceDep) -> RankResponse:
    """Rank the candidate ads of one ad break by eCPM. An unknown user is scored with
    default features (`user_known` false); an ad without a bid is ranked last (`known`
    false); neither is an error."""
    model = service.model  # one reference for the whole request: a reload cannot split it
    assert model is not None
    try:
        return await asyncio.wait_for(
            service.rank(model, body), service.settings.inference_timeout_s
        )
    except TimeoutError:
        service.metrics.rejected.labels("timeout").inc()
        raise HTTPException(503, "inference timed out", headers={"Retry-After": "1"}) from None


@bench_router.post("/bench/noop", include_in_schema=False)
async def noop(body: RankRequest, service: ServiceDep) -> dict:
    """The same parsing, validation and admission as a ranking, and no model: what the
    benchmark compares the ranking with, to see the cost of the model itself."""
    return {"ok": True}


@router.get(
    "/v1/home/{user_id}",
    response_model=HomeResponse,
    responses={503: {"description": "no batch output yet, or not ready"}},
)
async def home(
    user_id: Annotated[Id, Path()],
    service: ServiceDep,
) -> HomeResponse:
    """The user's home row from the newest batch output; a user the batch did not score
    gets the most popular titles (`source` = popular)."""
    home = service.home
    if home is None:
        raise HTTPException(503, "no batch home rows published yet: run the batch job")
    titles = home.by_user.get(user_id)
    return HomeResponse(
        user_id=user_id,
        titles=titles or home.popular,
        source="batch" if titles else "popular",
        generated_for=home.generated_for,
        published_at=home.published_at,
    )


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    responses={401: {"model": Status}, 409: {"model": Status}},
    include_in_schema=False,
)
async def reload(
    service: ServiceDep, authorization: Annotated[str | None, Header()] = None
) -> ReloadResponse:
    """Fetch the latest model and snapshot, verify them, and swap them in at once. A
    corrupt or mismatched artifact is refused (409) and the old model keeps serving."""
    token = service.settings.admin_token
    scheme, _, given = (authorization or "").partition(" ")  # exactly "Bearer <token>"
    if (
        token is None
        or scheme != "Bearer"
        or not hmac.compare_digest(given.encode(), token.get_secret_value().encode())
    ):
        raise HTTPException(
            401, "a valid admin token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    async with service.reload_lock:
        old = service.model
        assert old is not None
        try:
            new = await run_in_threadpool(load_serving_model, service.settings)
            service.home = await run_in_threadpool(load_home_rows, service.settings)
        except (ArtifactError, ChecksumError, FileNotFoundError, ValueError) as e:
            log.warning("reload refused: %s", e)
            raise HTTPException(409, f"reload refused, still serving {old.version}: {e}") from None
        await service.swap_in(new)
    return ReloadResponse(
        previous_version=old.version,
        model_version=new.version,
        changed=new.version != old.version,
    )
