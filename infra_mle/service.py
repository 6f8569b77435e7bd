"""The service's state between requests: the model in memory, readiness, requests in flight, and
one ad-break ranking from request to response.

    python -m infra_mle.serve        # create_app (app.py) makes one Service per app

A ranking encodes the request into the model's inputs, scores the candidates (through the
micro-batcher when it is on, else in a worker thread, so the event loop never runs torch), hands
the scores to `ranking.rank_by_ecpm` and counts the fallbacks. A new model goes in through
`swap_in`: warmed up first, then one assignment, so every request sees the old or the new model.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging

import numpy as np
from starlette.concurrency import run_in_threadpool

from infra_mle.admission import GradientLimiter
from infra_mle.batching import MicroBatcher
from infra_mle.loaders import (
    HomeRows,
    Model,
    load_home_rows,
    load_serving_model,
    release_freed_memory,
)
from infra_mle.metrics import Metrics
from infra_mle.ranking import rank_by_ecpm
from infra_mle.schemas import RankRequest, RankResponse
from infra_mle.settings import ServiceSettings

log = logging.getLogger("infra_mle")


class Service:
    """The app's state: what is loaded, whether it is ready, what is in flight."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.model: Model | None = None
        self.home: HomeRows | None = None
        self.draining = False
        cap = float(settings.max_in_flight)
        self.admission = (
            GradientLimiter(initial=min(8.0, cap), max_limit=cap, min_limit=min(2.0, cap))
            if settings.adaptive_admission
            else GradientLimiter(initial=cap, min_limit=cap, max_limit=cap)  # a fixed limit
        )
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
        await self.swap_in(model)
        log.info("serving %s, features as of %s", model.version, model.scorer.as_of)

    async def stop(self) -> None:
        self.draining = True
        await self.batcher.stop()

    async def swap_in(self, model: Model) -> None:
        """Serve `model` from now on: warm it up, then replace the old one in one assignment."""
        await self.rank(model, _warm_up_request(model))  # the first real request is not slower
        self.model = model  # one assignment: every request sees the old or the new model
        self.metrics.serving(model)
        _settle_garbage_collector()

    async def rank(self, model: Model, request: RankRequest) -> RankResponse:
        """Score the request's candidate ads with `model` and rank them by eCPM."""
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
        ranked = rank_by_ecpm(ads, scores, model.bids)
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
    and stalls a request for tens of milliseconds, which shows as p99 spikes. Then hand what
    loading freed back to the system."""
    gc.collect()
    gc.freeze()
    release_freed_memory()


def _warm_up_request(model: Model) -> RankRequest:
    some_ads = list(model.bids)[:20] or ["warm-up"]
    return RankRequest(
        user_id="warm-up", device="tv", time=dt.datetime.now(dt.UTC), candidate_ad_ids=some_ads
    )
