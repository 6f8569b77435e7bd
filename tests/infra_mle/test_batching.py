"""Micro-batching on its own: concurrent requests with different bodies share forward passes and
each gets its own rows' scores back, an error in a pass reaches every request waiting on it, and
a request that gave up mid-pass costs the others nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np
import pytest

from infra_mle.batching import MicroBatcher
from infra_mle.online import OnlineScorer
from shared.artifacts import load_model

DEVICES = ("tv", "mobile", "web", "tablet")
WAIT_S = 5.0  # far longer than any pass here: a request still waiting after it never will answer


async def _with_batcher(batcher: MicroBatcher, scenario):
    """Run `scenario()` against a started `batcher`, failing with the reason if it hangs."""
    await batcher.start()
    try:
        return await asyncio.wait_for(scenario(), WAIT_S)
    except TimeoutError:
        worker = batcher._worker
        died = worker.exception() if worker is not None and worker.done() else None
        pytest.fail(
            f"requests were still waiting for their scores after {WAIT_S:.0f} s"
            + (f"; the batcher's worker died of {died!r}" if died else "")
            + (
                " (a request that timed out left a cancelled future: skip futures already done)"
                if isinstance(died, asyncio.InvalidStateError)
                else ""
            )
            + ". Every future handed to `_pass` must be resolved: with its scores, or with the "
            "pass's exception"
        )
    finally:
        with contextlib.suppress(Exception):
            await batcher.stop(timeout=1.0)


def _requests(ads: list[str], n: int) -> list[tuple]:
    """`n` different ad breaks: other users, devices and hours, and 1 to 12 candidates each."""
    bodies = []
    for i in range(n):
        user = f"u{i + 1:07d}" if i % 5 else "someone-new"
        candidates = ads[i % 7 : i % 7 + 1 + i % 12]
        device, hour = DEVICES[i % 4], (3 * i) % 24
        bodies.append((user, candidates, device, hour))
    return bodies


def test_concurrent_requests_with_different_bodies_each_get_their_own_scores(
    artifact, snapshot_dir, record_property
):
    scorer = OnlineScorer.load(load_model(artifact), snapshot_dir)
    ads = [f"ad{i:05d}" for i in range(1, 21)]
    bodies = _requests(ads, 24)
    batcher = MicroBatcher(max_batch=32, max_wait_ms=20.0)

    async def scenario():
        async def one(user, candidates, device, hour):
            n = len(candidates)
            categorical, dense = scorer.inputs(
                np.array([user] * n, dtype=object), np.array(candidates, dtype=object),
                np.array([device] * n, dtype=object), np.full(n, hour),
            )  # fmt: skip
            return await batcher.score(scorer.score_arrays, categorical, dense)

        return await asyncio.gather(*(one(*body) for body in bodies))

    answers = asyncio.run(_with_batcher(batcher, scenario))
    for k, ((user, candidates, device, hour), got) in enumerate(zip(bodies, answers, strict=True)):
        expected = scorer.score(user, candidates, device, hour)
        assert np.shape(got) == expected.shape and np.allclose(got, expected, atol=1e-6), (
            f"request {k} ({user}, {device}, {hour}:00, {len(candidates)} candidates) expected "
            f"its own {len(candidates)} scores {np.round(expected, 4).tolist()}, got "
            f"{np.round(np.asarray(got), 4).tolist()}. Split the pass's scores at the running "
            "total of each request's row count (np.cumsum of the sizes), in the order the "
            "requests were concatenated"
        )
    assert batcher.batches < len(bodies), (
        f"{len(bodies)} concurrent requests took {batcher.batches} forward passes: the point of "
        "batching is fewer passes than requests. Count a pass in `self.batches` once it succeeds"
    )
    record_property(
        "figure",
        f"{len(bodies)} concurrent ad breaks with different bodies, {batcher.batches} forward "
        f"pass(es), each answered with its own scores",
    )


def test_an_error_in_a_pass_reaches_every_waiting_request():
    def broken(categorical, dense):
        raise RuntimeError("the model broke")

    def fine(categorical, dense):
        return categorical[:, 0].astype(np.float32)

    batcher = MicroBatcher(max_batch=32, max_wait_ms=20.0)

    async def scenario():
        rows = [np.full((3, 2), k) for k in range(8)]
        dense = np.zeros((3, 1), dtype=np.float32)
        failed = await asyncio.gather(
            *(batcher.score(broken, r, dense) for r in rows), return_exceptions=True
        )
        after = await batcher.score(fine, rows[5], dense)  # the batcher is still serving
        return failed, after

    failed, after = asyncio.run(_with_batcher(batcher, scenario))
    kinds = [type(e).__name__ for e in failed]
    assert all(isinstance(e, RuntimeError) and "the model broke" in str(e) for e in failed), (
        f"all 8 requests in the failed pass should get its RuntimeError('the model broke'), got "
        f"{kinds}. Catch the exception around the pass and set it on every request's future "
        "(future.set_exception)"
    )
    assert list(after) == [5.0, 5.0, 5.0], f"a pass after the failure should score, got {after}"


def test_a_request_that_gave_up_mid_pass_costs_the_others_nothing():
    def slow(categorical, dense):
        time.sleep(0.2)
        return categorical[:, 0].astype(np.float32)

    batcher = MicroBatcher(max_batch=32, max_wait_ms=5.0)

    async def scenario():
        dense = np.zeros((2, 1), dtype=np.float32)
        impatient = asyncio.wait_for(batcher.score(slow, np.full((2, 2), 1), dense), 0.05)
        answers = await asyncio.gather(
            impatient,
            batcher.score(slow, np.full((2, 2), 2), dense),
            batcher.score(slow, np.full((2, 2), 3), dense),
            return_exceptions=True,
        )
        later = await batcher.score(slow, np.full((2, 2), 4), dense)
        return answers, later

    (gave_up, second, third), later = asyncio.run(_with_batcher(batcher, scenario))
    assert isinstance(gave_up, TimeoutError), f"the impatient request should time out: {gave_up!r}"
    got = [
        np.asarray(a).tolist() if not isinstance(a, Exception) else repr(a) for a in (second, third)
    ]
    assert got == [[2.0, 2.0], [3.0, 3.0]], (
        f"the two patient requests of the same pass expected [[2.0, 2.0], [3.0, 3.0]], got {got}. "
        "A request that timed out has a cancelled future: setting a result on it raises "
        "InvalidStateError. Skip futures that are already done"
    )
    assert list(later) == [4.0, 4.0], f"the batcher should keep serving after, got {later}"
