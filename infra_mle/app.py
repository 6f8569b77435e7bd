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

Protection: bodies are capped and parsed strictly before the routes see them
(`shared.http_guard`: 413, 400, 422) and validated against the schemas (422 with the reason);
as many rankings run at once as the adaptive limit allows, the rest get 503 with Retry-After
(`admission.py`); a ranking slower than `inference_timeout_s` gets 503; and a reload that
fails leaves the old model serving.

This file only assembles the app: the lifespan, the middleware and the routers. The parts
are each in a file of their own: `routes.py` (the endpoints), `service.py` (the state and one
ranking), `ranking.py` (eCPM), `loaders.py` (what is loaded), `metrics.py` (Prometheus).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from infra_mle.admission import AdmissionControl
from infra_mle.metrics import TimedRequests
from infra_mle.routes import ADMITTED_PREFIXES, bench_router, router
from infra_mle.service import Service
from infra_mle.settings import ServiceSettings, get_service_settings
from shared.http_guard import StrictJSONBodies


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
    # Middleware added last runs first: admission, then timing, then the body guard.
    app.add_middleware(StrictJSONBodies, max_bytes=service.settings.max_body_bytes)
    app.add_middleware(TimedRequests, histogram=service.metrics.latency)
    app.add_middleware(
        AdmissionControl,
        limiter=service.admission,
        ready=lambda: service.ready,
        prefixes=ADMITTED_PREFIXES,
        pace_s=service.settings.refusal_pace_ms / 1000,
        refused=lambda reason: service.metrics.rejected.labels(reason).inc(),
    )

    app.include_router(router)
    if service.settings.bench_endpoints:
        app.include_router(bench_router)
    return app
