"""The real-time ranking service for ad breaks (FastAPI), and the home row from the batch job.

    python -m infra_mle.serve                        # uvicorn on 127.0.0.1:8000

Start-up (the lifespan) fetches the model artifact and the newest online feature snapshot into a
local cache, verifies both, loads them into memory, and warms up; only then does `/readyz`
answer 200. Requests then touch only memory:

    POST /v1/ad-break/rank    candidate ads ranked by eCPM = pCTR x bid, with the model version
    GET  /v1/home/{user_id}   the user's home row from the newest batch output (or the popular
                              titles), with the day it was scored for, so staleness is visible
    GET  /healthz /readyz /metrics
    POST /admin/reload        Bearer token: fetch the latest model, verify it, swap it in

Protection: bodies are validated strictly (422 with the reason), at most `max_in_flight`
requests are served at once (the rest get 503 at once, with Retry-After), a ranking slower than
`inference_timeout_s` gets 503, and a reload that fails leaves the old model serving.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.concurrency import run_in_threadpool

from infra_mle.batch_score import HOME_FILE, POPULAR_FILE
from infra_mle.batching import MicroBatcher
from infra_mle.online import OnlineScorer
from infra_mle.schemas import (
    HomeResponse,
    HomeTitle,
    Id,
    RankedAd,
    RankRequest,
    RankResponse,
    ReloadResponse,
    Status,
)
from infra_mle.settings import ServiceSettings, get_service_settings
from infra_mle.sources import fetch_file, fetch_latest_partition, fetch_model
from shared.artifacts import ArtifactError, load_model
from shared.storage import ChecksumError, read_manifest

log = logging.getLogger("infra_mle")
SURFACE = "ad_break"


@dataclass(frozen=True)
class Model:
    """What one ranking needs, swapped as a whole on reload."""

    scorer: OnlineScorer
    bids: dict[str, float]
    feature_time: dt.datetime | None  # when the snapshot was published

    @property
    def version(self) -> str:
        return self.scorer.model.version


@dataclass(frozen=True)
class HomeRows:
    by_user: dict[str, list[HomeTitle]]
    popular: list[HomeTitle]
    generated_for: dt.date
    published_at: dt.datetime | None


def load_serving_model(settings: ServiceSettings) -> Model:
    """Fetch, verify and load the model and the features; raise if anything does not fit."""
    cache = settings.cache_dir
    model = load_model(fetch_model(settings.url("model"), cache), surface=SURFACE)
    snapshot, published = fetch_latest_partition(settings.url("snapshot"), cache)
    scorer = OnlineScorer.load(model, snapshot)
    ads = pd.read_parquet(fetch_file(settings.url("ads"), cache))
    bids = dict(zip(ads["ad_id"].astype(str), ads["bid"].astype(float), strict=True))
    return Model(scorer, bids, published)


def load_home_rows(settings: ServiceSettings) -> HomeRows | None:
    """The newest batch output, or None when the batch job has not published one yet."""
    try:
        folder, published = fetch_latest_partition(settings.url("recs"), settings.cache_dir)
    except FileNotFoundError:
        return None
    rows = pd.read_parquet(folder / HOME_FILE)
    by_user: dict[str, list[HomeTitle]] = {}
    for user, title, p in zip(rows["user_id"], rows["title_id"], rows["p_click"], strict=True):
        by_user.setdefault(user, []).append(HomeTitle(title_id=title, p_click=float(p)))
    popular = pd.read_parquet(folder / POPULAR_FILE)
    day = dt.date.fromisoformat(read_manifest(folder)["generated_for"])
    return HomeRows(
        by_user,
        [
            HomeTitle(title_id=t, p_click=float(p))
            for t, p in zip(popular["title_id"], popular["p_click"], strict=True)
        ],
        day,
        published,
    )


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "marquee_request_seconds",
            "Request latency by route.",
            ["route"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.model = Gauge(
            "marquee_model_info",
            "The model version served (1).",
            ["version"],
            registry=self.registry,
        )
        self.feature_age = Gauge(
            "marquee_feature_age_seconds",
            "Age of the served feature snapshot.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "marquee_rejected_total", "Requests refused.", ["reason"], registry=self.registry
        )
        self.fallback = Counter(
            "marquee_fallback_total", "Unknown users or ads.", ["kind"], registry=self.registry
        )

    def serving(self, model: Model) -> None:
        self.model.clear()
        self.model.labels(model.version).set(1)
        if model.feature_time is not None:
            self.feature_age.set_function(
                lambda t=model.feature_time: (dt.datetime.now(dt.UTC) - t).total_seconds()
            )


class Service:
    """The app's state: what is loaded, whether it is ready, what is in flight."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.model: Model | None = None
        self.home: HomeRows | None = None
        self.draining = False
        self.in_flight = 0
        self.metrics = Metrics()
        self.batcher = MicroBatcher(settings.max_batch, settings.max_wait_ms)
        self.reload_lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self.model is not None and not self.draining

    async def start(self) -> None:
        model = await run_in_threadpool(load_serving_model, self.settings)
        self.home = await run_in_threadpool(load_home_rows, self.settings)
        await self.batcher.start()
        await self.rank(model, _warm_up_request(model))  # the first real request is not slower
        self.model = model
        self.metrics.serving(model)
        _settle_garbage_collector()
        log.info("serving %s, features as of %s", model.version, model.scorer.as_of)

    async def stop(self) -> None:
        self.draining = True
        await self.batcher.stop()

    async def rank(self, model: Model, request: RankRequest) -> RankResponse:
        ads = request.candidate_ad_ids
        hour = request.time.astimezone(dt.UTC).hour
        n = len(ads)
        categorical, dense = model.scorer.inputs(
            np.array([request.user_id] * n, dtype=object),
            np.array(ads, dtype=object),
            np.array([request.device] * n, dtype=object),
            np.full(n, hour),
        )
        fn = model.scorer.score_arrays
        if self.settings.batching and self.batcher.running:
            scores = await self.batcher.score(fn, categorical, dense)
        else:
            scores = await run_in_threadpool(fn, categorical, dense)
        ranked = []
        for ad, p in zip(ads, scores, strict=True):
            bid = model.bids.get(ad)
            ranked.append(
                RankedAd(
                    ad_id=ad,
                    p_click=float(p),
                    bid=bid or 0.0,
                    ecpm=float(p) * (bid or 0.0) * 1000,
                    known=bid is not None,
                )
            )
        ranked.sort(key=lambda a: (-a.known, -a.ecpm, a.ad_id))
        user_known = model.scorer.known_user(request.user_id)
        if not user_known:
            self.metrics.fallback.labels("user").inc()
        if not all(a.known for a in ranked):
            self.metrics.fallback.labels("ad").inc()
        return RankResponse(
            ads=ranked,
            model_version=model.version,
            feature_snapshot=model.scorer.as_of,
            user_known=user_known,
        )


def _settle_garbage_collector() -> None:
    """Move what was just loaded (hundreds of thousands of small objects: vocabularies, home
    rows) out of the garbage collector's reach. Otherwise every full collection walks them all
    and stalls a request for tens of milliseconds, which shows as p99 spikes."""
    gc.collect()
    gc.freeze()


def _warm_up_request(model: Model) -> RankRequest:
    some_ads = list(model.bids)[:20] or ["warm-up"]
    return RankRequest(
        user_id="warm-up", device="tv", time=dt.datetime.now(dt.UTC), candidate_ad_ids=some_ads
    )


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


async def admitted(service: ServiceDep) -> AsyncIterator[Service]:
    """Admission control: serve at most `max_in_flight` at once, refuse the rest at once."""
    if not service.ready:
        service.metrics.rejected.labels("not_ready").inc()
        raise HTTPException(503, "not ready: the model is loading or the service is stopping")
    if service.in_flight >= service.settings.max_in_flight:
        service.metrics.rejected.labels("overload").inc()
        raise HTTPException(503, "overloaded: try again shortly", headers={"Retry-After": "1"})
    service.in_flight += 1
    try:
        yield service
    finally:
        service.in_flight -= 1


Admitted = Annotated[Service, Depends(admitted)]


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The app; nothing is loaded until its lifespan starts (uvicorn, or a TestClient)."""
    service = Service(settings or get_service_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    app = FastAPI(
        title="Marquee ranking service",
        version="1",
        lifespan=lifespan,
        description=__doc__.split("\n\n")[0],
    )
    app.state.service = service

    @app.middleware("http")
    async def timed(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        service.metrics.latency.labels(path).observe(time.perf_counter() - started)
        return response

    @app.get("/healthz", response_model=Status)
    async def healthz() -> Status:
        """Alive: the process answers."""
        return Status(status="ok")

    @app.get("/readyz", response_model=Status, responses={503: {"model": Status}})
    async def readyz(service: ServiceDep, response: Response) -> Status:
        """Ready: model and features loaded, not draining."""
        if not service.ready:
            response.status_code = 503
            return Status(
                status="not ready", detail="loading" if not service.draining else "draining"
            )
        assert service.model is not None
        return Status(status="ready", detail=service.model.version)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(service: ServiceDep) -> Response:
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/v1/ad-break/rank",
        response_model=RankResponse,
        responses={
            400: {"description": "the body is not JSON"},
            503: {"description": "overloaded, not ready, or inference timed out"},
        },
    )
    async def rank(body: RankRequest, service: Admitted) -> RankResponse:
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

    if service.settings.bench_endpoints:

        @app.post("/bench/noop", include_in_schema=False)
        async def noop(body: RankRequest, service: Admitted) -> dict:
            """The same parsing, validation and admission as a ranking, and no model: what the
            benchmark compares the ranking with, to see the cost of the model itself."""
            return {"ok": True}

    @app.get(
        "/v1/home/{user_id}",
        response_model=HomeResponse,
        responses={503: {"description": "no batch output yet, or not ready"}},
    )
    async def home(
        user_id: Annotated[Id, Path()],
        service: Admitted,
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

    @app.post(
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
        given = (authorization or "").removeprefix("Bearer ")
        if token is None or not hmac.compare_digest(
            given.encode(), token.get_secret_value().encode()
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
                raise HTTPException(
                    409, f"reload refused, still serving {old.version}: {e}"
                ) from None
            await service.rank(new, _warm_up_request(new))
            service.model = new  # one assignment: every request sees the old or the new model
            service.metrics.serving(new)
            _settle_garbage_collector()
        return ReloadResponse(
            previous_version=old.version,
            model_version=new.version,
            changed=new.version != old.version,
        )

    return app
