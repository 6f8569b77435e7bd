"""The open-loop load generator keeps its schedule, counts every answer and measures latency from
the intended send time."""

from __future__ import annotations

import asyncio

import pytest

from infra_mle.loadtest import open_loop
from tests.infra_mle.test_service import rank_body

pytestmark = pytest.mark.slow


def test_open_loop_sends_on_schedule_and_counts_every_answer(live_url):
    url = f"{live_url}/v1/ad-break/rank"
    result = asyncio.run(open_loop(url, [rank_body()], rate=50, seconds=1.0))
    assert result.sent == 50 and result.statuses == {200: 50} and result.errors == 0
    assert result.achieved_rps == pytest.approx(50)
    assert 0 < result.percentile(50) <= result.percentile(99) < 1000
    summary = result.summary()
    assert summary["ok"] == 50 and summary["p99_ms"] == round(result.percentile(99), 2)


def test_refusals_are_counted_apart_from_successes(live_url):
    bad = {**rank_body(), "device": "toaster"}
    result = asyncio.run(open_loop(f"{live_url}/bench/noop", [bad, rank_body()], 20, 0.5))
    assert result.statuses == {422: 5, 200: 5}
    assert len(result.latencies_s) == 5, "only answered successes carry a latency"
