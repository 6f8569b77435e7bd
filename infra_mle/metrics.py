"""The service's Prometheus metrics: what an operator watches to know the service is healthy.

    curl -s localhost:8000/metrics       # after python -m infra_mle.serve

    marquee_request_seconds{route}      latency histogram, observed by the app's middleware
    marquee_model_info{version}         1 for the model being served: a reload shows as a switch
    marquee_feature_age_seconds         how old the served feature snapshot is, read when scraped
    marquee_rejected_total{reason}      refused requests: not_ready, overload, timeout
    marquee_fallback_total{kind}        rankings with an unknown user or an ad without a bid

Each app gets a registry of its own rather than prometheus-client's global one, so tests can
build several apps in one process without their metrics colliding.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from infra_mle.loaders import Model


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
        self.admission_limit = Gauge(
            "marquee_admission_limit",
            "Rankings admitted at once, as the adaptive limiter now allows.",
            registry=self.registry,
        )
        self.fallback = Counter(
            "marquee_fallback_total", "Unknown users or ads.", ["kind"], registry=self.registry
        )

    def serving(self, model: Model) -> None:
        """Point the model and feature-age metrics at `model`, the one now served."""
        self.model.clear()
        self.model.labels(model.version).set(1)
        if model.feature_time is not None:
            self.feature_age.set_function(
                lambda t=model.feature_time: (dt.datetime.now(dt.UTC) - t).total_seconds()
            )


class TimedRequests:
    """ASGI middleware: each request's latency into `histogram`, by the route that served it
    (a plain ASGI class: `@app.middleware("http")` costs a task and a stream per request)."""

    def __init__(self, app: ASGIApp, histogram: Histogram):
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.histogram.labels(path).observe(time.perf_counter() - started)
