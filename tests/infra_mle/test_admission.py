"""Adaptive admission: the limit follows latency, a client that ignores Retry-After is paced,
and under a closed-loop flood far past the knee the service keeps answering in time at close to
its sustainable rate instead of collapsing."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from infra_mle.admission import AdmissionControl, GradientLimiter
from infra_mle.loadtest import closed_loop
from shared.s3 import free_port
from shared.server import UvicornServer
from tests.infra_mle.test_service import rank_body


def _run(limiter: GradientLimiter, latency_s: float, windows: int, busy: bool = True) -> None:
    """Feed `windows` windows of answers that took `latency_s`, with the limit reached (busy)
    or with a single request in flight."""
    now = 0.0
    for _ in range(windows):
        for _ in range(limiter.window):
            held = int(limiter.limit) if busy else 1
            acquired = sum(limiter.try_acquire() for _ in range(held))
            for _ in range(acquired):
                now += 0.001
                limiter.release(latency_s, now=now)


def test_the_limit_grows_while_latency_stays_at_its_baseline():
    limiter = GradientLimiter(initial=4, max_limit=64)
    _run(limiter, 0.003, windows=40)
    assert limiter.limit > 16


def test_the_limit_shrinks_when_latency_climbs_above_the_baseline():
    limiter = GradientLimiter(initial=32, max_limit=64)
    _run(limiter, 0.003, windows=5)  # learns the unloaded latency
    _run(limiter, 0.030, windows=40)  # ten times slower: requests are waiting on each other
    assert limiter.limit < 5  # where halving meets the upward probe: 0.5 x 4 + sqrt(4) = 4


def test_an_idle_service_does_not_inflate_its_limit():
    limiter = GradientLimiter(initial=8, max_limit=64)
    _run(limiter, 0.003, windows=40, busy=False)
    assert limiter.limit == 8


def test_over_the_limit_is_refused_and_a_release_frees_a_slot():
    limiter = GradientLimiter(initial=2, min_limit=2, max_limit=2)
    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()
    limiter.release(0.01)
    assert limiter.try_acquire()


def test_a_connection_refused_again_at_once_is_paced_and_others_are_not():
    async def never_called(scope, receive, send):
        raise AssertionError("a refused request reached the app")

    full = GradientLimiter(initial=2, min_limit=2, max_limit=2)
    full.try_acquire(), full.try_acquire()
    gate = AdmissionControl(never_called, full, lambda: True, ("/v1/",), pace_s=0.2)

    async def refuse(client: tuple[str, int]) -> tuple[int, float, dict]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        started = time.perf_counter()
        scope = {"type": "http", "path": "/v1/ad-break/rank", "client": client}
        await gate(scope, None, send)
        headers = dict(sent[0]["headers"])
        return sent[0]["status"], time.perf_counter() - started, headers

    async def scenario():
        first = await refuse(("10.0.0.1", 5000))
        again = await refuse(("10.0.0.1", 5000))  # the same connection, straight back
        other = await refuse(("10.0.0.2", 6000))
        return first, again, other

    first, again, other = asyncio.run(scenario())
    assert first[0] == again[0] == other[0] == 503
    assert first[2][b"retry-after"] == b"1"
    assert first[1] < 0.05 and other[1] < 0.05, "a first refusal is immediate"
    assert again[1] >= 0.2, "a client that did not wait is made to"


@pytest.mark.slow
def test_goodput_holds_at_4x_and_16x_the_sustainable_concurrency(
    artifact, snapshot_dir, ads_table, recs_root, tmp_path
):
    env = {
        **os.environ,
        "MARQUEE_LAKE_ROOT": str(tmp_path),
        "MARQUEE_SERVE_MODEL_URL": str(artifact.parent),
        "MARQUEE_SERVE_SNAPSHOT_URL": str(snapshot_dir.parent),
        "MARQUEE_SERVE_ADS_URL": str(ads_table),
        "MARQUEE_SERVE_RECS_URL": str(recs_root),
        "MARQUEE_SERVE_CACHE_DIR": str(tmp_path / "cache"),
    }
    bodies = [rank_body(user_id=f"u{i:07d}") for i in range(200)]
    with UvicornServer("infra_mle.serve", free_port(), env, "/readyz") as server:
        url = f"{server.url}/v1/ad-break/rank"

        def goodput(connections: int) -> float:
            return asyncio.run(
                closed_loop(url, bodies, connections, 3.0, budget_s=0.05)
            ).goodput_rps

        ramp = {c: goodput(c) for c in (1, 2, 4, 8)}
        sustainable = max(ramp, key=ramp.get)  # the concurrency of the best goodput so far
        peak = ramp[sustainable]
        at_4x, at_16x = goodput(4 * sustainable), goodput(16 * sustainable)
    summary = f"ramp {ramp}, 4x {at_4x:.0f}/s, 16x {at_16x:.0f}/s"
    assert at_4x >= 0.6 * peak, summary
    assert at_16x >= 0.6 * peak, summary
