"""Adaptive admission: how many rankings the service works on at once, learned from its latency.

A fixed cap on requests in flight is either too low (idle cores at normal load) or too high: past
the knee, every admitted request waits behind the others, answers arrive after the client gave
up, and the service does full work for nothing (goodput collapses: measured by `make bench`, a
fixed cap of 64 answered 1,996 rankings a second within 50 ms at 32 connections, 2 at 128 and
none at 256). The limit should be what the machine
sustains, and that is visible in the latency: while requests wait on each other, latency rises
above what one request costs alone.

`GradientLimiter` follows TCP Vegas and Netflix's gradient limiters: it keeps the latency of an
unloaded request (`baseline_s`, the lowest recent window average) and, after each window of
answers, moves the limit by the gradient baseline / latency:

    limit <- (1 - smoothing) * limit + smoothing * (limit * gradient + headroom)

Latency up to `tolerance` (2) times the baseline counts as unloaded: the limit, when it was
reached, grows by `headroom` (probing for capacity); beyond that it shrinks in proportion, at
most halving in a window. Requests over the limit are refused at once with a 503 and
Retry-After: cheap for the server, and an honest signal for the client.

    limiter = GradientLimiter()
    if limiter.try_acquire(): ... ; limiter.release(seconds)   # else: 503

`AdmissionControl` applies it as the outermost ASGI middleware of the service, before a body is
parsed or validated, so a refusal costs next to nothing.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_TRACKED_CLIENTS = 10_000  # connections remembered for pacing; the oldest are forgotten


@dataclass
class GradientLimiter:
    initial: float = 8.0
    min_limit: float = 2.0  # never fewer: a lone slow request must not close the door
    max_limit: float = 64.0
    tolerance: float = 2.0  # latency may reach 2x the unloaded baseline before the limit shrinks
    smoothing: float = 0.2
    window: int = 20  # answers per adjustment
    baseline_memory_s: float = 30.0  # the baseline rises by e (2.7x) in this time, if it must

    limit: float = field(init=False)
    in_flight: int = field(default=0, init=False)
    baseline_s: float = field(default=math.inf, init=False)
    _samples: list[float] = field(default_factory=list, init=False, repr=False)
    _busiest: int = field(default=0, init=False, repr=False)  # most in flight this window
    _last_adjust: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.limit = self.initial

    def try_acquire(self) -> bool:
        """Admit one request if the limit allows it; the caller must `release` it after."""
        if self.in_flight >= int(self.limit):
            return False
        self.in_flight += 1
        self._busiest = max(self._busiest, self.in_flight)
        return True

    def release(self, seconds: float, now: float | None = None) -> None:
        """One admitted request is done, after `seconds`; `now` is a monotonic clock."""
        self.in_flight -= 1
        self._samples.append(seconds)
        if len(self._samples) >= self.window:
            self._adjust(
                sum(self._samples) / len(self._samples), time.monotonic() if now is None else now
            )
            self._samples.clear()
            self._busiest = 0

    def _adjust(self, latency_s: float, now: float) -> None:
        # The baseline is the lowest window latency seen, forgotten slowly (a new model may be
        # slower for good, and the limit must not shrink forever because of an old best).
        elapsed = 0.0 if self._last_adjust is None else now - self._last_adjust
        self._last_adjust = now
        forget = math.exp(elapsed / self.baseline_memory_s)
        self.baseline_s = min(self.baseline_s * forget, latency_s)
        gradient = max(0.5, min(1.0, self.tolerance * self.baseline_s / latency_s))
        # Probe upwards only when the limit was actually reached: an idle service learns
        # nothing about how much it can take.
        headroom = math.sqrt(self.limit) if self._busiest >= int(self.limit) else 0.0
        target = self.limit * gradient + headroom
        limit = (1 - self.smoothing) * self.limit + self.smoothing * target
        self.limit = min(self.max_limit, max(self.min_limit, limit))


class AdmissionControl:
    """ASGI middleware that admits requests under `prefixes` through `limiter` before anything
    else runs: a refusal costs microseconds, not the body's parsing and validation, so under a
    flood the CPU goes to the admitted requests. Readiness is checked here too (`ready()`).

    A refusal is immediate, except on a connection that was refused less than `pace_s` ago: that
    client ignored Retry-After and retries in a loop (wrk does), and its next refusal waits
    `pace_s` first. It holds nothing while it waits, no slot and no model time, but it can no
    longer turn the server's CPU into refusals: measured here with 256 such connections,
    refusing at once spent the CPU on 25,000 refusals a second and goodput fell to 55 rankings a
    second; paced at 200 ms, goodput stayed at 1,506, 82% of the peak."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: GradientLimiter,
        ready: Callable[[], bool],
        prefixes: tuple[str, ...],
        pace_s: float = 0.2,
        refused: Callable[[str], None] = lambda reason: None,
    ):
        self.app, self.limiter, self.ready, self.prefixes = app, limiter, ready, prefixes
        self.pace_s = pace_s
        self.refused = refused  # counts refusals by reason (the service's metrics)
        self._last_refusal: OrderedDict[object, float] = OrderedDict()  # by client address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        if not self.ready():
            self.refused("not_ready")
            await send_503(send, "not ready: the model is loading or the service is stopping")
            return
        if not self.limiter.try_acquire():
            self.refused("overload")
            await self._pace(scope.get("client"))
            await send_503(send, "overloaded: try again shortly")
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.release(time.perf_counter() - started)  # a timeout teaches it too

    async def _pace(self, client: object) -> None:
        """Wait `pace_s` if `client` (host, port: one connection) was refused that recently."""
        now = time.monotonic()
        last = self._last_refusal.pop(client, None)
        if last is not None and now - last < self.pace_s:
            await asyncio.sleep(self.pace_s)
            now = time.monotonic()
        self._last_refusal[client] = now
        while len(self._last_refusal) > MAX_TRACKED_CLIENTS:
            self._last_refusal.popitem(last=False)  # the longest ago first


async def send_503(send: Send, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
