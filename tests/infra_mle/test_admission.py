"""Adaptive admission: the limit follows latency, a client that ignores Retry-After is paced,
and under a closed-loop flood far past the knee the service keeps answering in time at close to
its sustainable rate instead of collapsing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time

import pytest
import uvicorn

from infra_mle.admission import AdmissionControl, GradientLimiter
from infra_mle.loadtest import closed_loop, open_loop
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
    assert limiter.limit > 16, (
        f"40 windows answered at the unloaded latency with the limit reached should grow the "
        f"limit from 4 to above 16, got {limiter.limit:.2f}. At the baseline the gradient is "
        "capped at 1 and the limit, when reached, grows by its square root (the headroom)"
    )


def test_the_limit_shrinks_when_latency_climbs_above_the_baseline():
    limiter = GradientLimiter(initial=32, max_limit=64)
    _run(limiter, 0.003, windows=5)  # learns the unloaded latency
    _run(limiter, 0.030, windows=40)  # ten times slower: requests are waiting on each other
    # where halving meets the upward probe: 0.5 x 4 + sqrt(4) = 4
    assert limiter.limit < 5, (
        f"latency 10x the baseline for 40 windows should bring the limit from 32 down to about "
        f"4, got {limiter.limit:.2f}. gradient = tolerance x baseline / latency, at least 0.5; "
        "keep the baseline as the lowest window latency (it must not follow the slow ones)"
    )


def test_an_idle_service_does_not_inflate_its_limit():
    limiter = GradientLimiter(initial=8, max_limit=64)
    _run(limiter, 0.003, windows=40, busy=False)
    assert limiter.limit == 8, (
        f"one request at a time, never reaching the limit of 8, should leave it at 8, got "
        f"{limiter.limit:.2f}: probe upwards (headroom) only when the window's busiest moment "
        "reached the limit, and cap the gradient at 1"
    )


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
        try:
            await asyncio.wait_for(gate(scope, None, send), 2.0)
        except TimeoutError:
            pytest.fail(
                "a request over a full limit was still waiting after 2 s: it must be refused "
                "with a 503 (after `_pace`), not held until a slot frees"
            )
        headers = dict(sent[0]["headers"])
        return sent[0]["status"], time.perf_counter() - started, headers

    async def scenario():
        first = await refuse(("10.0.0.1", 5000))
        again = await refuse(("10.0.0.1", 5000))  # the same connection, straight back
        other = await refuse(("10.0.0.2", 6000))
        return first, again, other

    first, again, other = asyncio.run(scenario())
    assert first[0] == again[0] == other[0] == 503, (
        f"a full limiter must refuse with 503, got {first[0]}, {again[0]}, {other[0]}"
    )
    assert first[2][b"retry-after"] == b"1", "a refusal tells the client when to retry"
    assert first[1] < 0.05 and other[1] < 0.05, (
        f"a first refusal is immediate, took {first[1]:.3f} s and {other[1]:.3f} s"
    )
    assert again[1] >= 0.2, (
        f"the same connection refused again at once should wait pace_s (0.2 s) for its 503, "
        f"took {again[1]:.3f} s: `_pace(scope.get('client'))` before the refusal"
    )


SERVICE_S = 0.02  # the toy server below answers one request at a time: 50 a second at most


def _one_at_a_time(service_s: float = SERVICE_S):
    """An ASGI app with a known capacity: each request holds the one worker for `service_s`, and
    the others wait in line for it (a queue with no bound, as any server has without admission)."""
    worker = asyncio.Lock()

    async def app(scope, receive, send):
        async with worker:
            await asyncio.sleep(service_s)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


@contextlib.contextmanager
def _serving(app):
    """`app` in a real uvicorn on a free loopback port, in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1/rank"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_shedding_keeps_admitted_latency_low_where_a_queue_hides_behind_a_closed_loop(
    record_property,
):
    rate, seconds, limit = 100, 2.0, 4  # twice what the server can do
    capacity = 1 / SERVICE_S
    with _serving(_one_at_a_time()) as url:
        closed = asyncio.run(closed_loop(url, [{}], connections=1, seconds=1.0))
        queued = asyncio.run(open_loop(url, [{}], rate=rate, seconds=seconds))
    fixed = GradientLimiter(initial=limit, min_limit=limit, max_limit=limit)
    shedding = AdmissionControl(_one_at_a_time(), fixed, lambda: True, ("/v1/",), pace_s=0.0)
    with _serving(shedding) as url:
        shed = asyncio.run(open_loop(url, [{}], rate=rate, seconds=seconds))

    # Coordinated omission: a client that waits for each answer before sending the next never
    # meets the queue, so the same server looks healthy to it and collapsed to a schedule.
    assert closed.percentile(99) < 100 and queued.percentile(99) > 500, (
        f"at {rate} req/s against a server that does {capacity:.0f}/s, latency measured from the "
        f"intended send time should show the queue (p99 above 500 ms), while a closed loop "
        f"hides it (p99 below 100 ms); got open-loop p99 {queued.percentile(99):.0f} ms and "
        f"closed-loop p99 {closed.percentile(99):.0f} ms"
    )
    ok, refused = shed.statuses.get(200, 0), shed.statuses.get(503, 0)
    assert ok >= 0.6 * capacity * seconds and refused > 0 and ok + refused == shed.sent, (
        f"behind admission control with a limit of {limit}, the server should answer about "
        f"{capacity * seconds:.0f} of {shed.sent} requests with 200 and refuse the rest with 503; "
        f"got statuses {shed.statuses}, {shed.errors} errors. Admit while `try_acquire()` says "
        "yes, refuse at once otherwise, and `release` every admitted request (in a `finally`)"
    )
    # p90, not p99: the figure below reports p99 (85-90 ms here), but one stall of a shared
    # 2-core host during the 2 s run (870 ms once, late in a full test run) lands in the p99 of
    # about 100 admitted requests. A design that holds requests until a slot frees is far above
    # either: its latencies grow with the queue, like the open loop's (p99 about 2 s).
    assert shed.percentile(90) < 250, (
        f"admitted requests should wait behind at most {limit - 1} others ({limit} x "
        f"{SERVICE_S * 1000:.0f} ms), so p90 well under 250 ms; got {shed.percentile(90):.0f} ms. "
        "A request over the limit must be refused at once, never held until a slot frees"
    )
    record_property(
        "figure",
        f"queue: p99 {closed.percentile(99):.0f} ms closed-loop, {queued.percentile(99):.0f} ms "
        f"open-loop; shedding: admitted p99 {shed.percentile(99):.0f} ms, {refused} of "
        f"{shed.sent} refused",
    )


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
    # Half the peak: a service that queues instead of shedding answers about 7 a second in
    # time at 16x, while this one keeps 89-99% of its peak at 16x on a quiet machine and 58%
    # with another process busy on the same 2 cores.
    assert at_4x >= 0.5 * peak, summary
    assert at_16x >= 0.5 * peak, summary
