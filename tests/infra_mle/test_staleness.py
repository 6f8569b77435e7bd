"""Ads from a daily batch against real time, and the staleness evaluation, on the tiny world
(random-weight model from conftest: the properties hold whatever the model learned)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from infra_mle.ad_batch import AdBatch, realtime_order
from infra_mle.batch_score import BATCH_HOUR
from infra_mle.online import OnlineScorer
from infra_mle.staleness import (
    Churn,
    ad_revenue_per_1000,
    batch_ad_pods,
    candidate_scores,
    make_catalogue,
    realtime_ad_pods,
    requests_of,
    stale_ad_pods,
)
from shared.artifacts import load_model
from shared.true_value import world_of

POD = 3


@pytest.fixture(scope="module")
def scorer(artifact, snapshot_dir) -> OnlineScorer:
    return OnlineScorer.load(load_model(artifact), snapshot_dir)


@pytest.fixture(scope="module")
def world(clean_dataset):
    return world_of(clean_dataset[0])


def _logged_day(events: pd.DataFrame, serving_day: dt.date) -> pd.DataFrame:
    day = pd.to_datetime(events["ingest_date"]).dt.date
    return events[day == serving_day - dt.timedelta(days=1)]


def _ad_comparison(world, scorer, events, serving_day):
    ads = make_catalogue(world, "ad_break", Churn())
    breaks = requests_of(_logged_day(events, serving_day), world, "ad_break", ads, 300, seed=1)
    return ads, breaks, candidate_scores(scorer, breaks, ads, "request_context")


def test_batch_ad_order_ignores_the_hour_and_real_time_does_not(scorer, world):
    users = world.users.rename(columns={"primary_device": "device"})[["user_id", "device"]]
    ads = list(world.ads["ad_id"])
    bids = dict(zip(world.ads["ad_id"], world.ads["bid"], strict=True))
    batch = AdBatch.build(scorer, users, ads, bids)
    user, device = users.iloc[3]
    candidates = ads[:20]
    by_hour = {h: realtime_order(scorer, bids, user, device, h, candidates) for h in range(24)}
    first, other = next(
        (a, b) for a in range(24) for b in range(24) if by_hour[a] != by_hour[b]
    )  # the model reads the hour, so some two hours order the same candidates differently
    # Two requests differing only in hour: one batch order, since `order` cannot see the hour.
    assert batch.order(user, candidates) == batch.order(user, candidates)
    assert by_hour[first] != by_hour[other]
    # And the batch's stored order is the real-time order in the batch's own context.
    assert batch.order(user, candidates) == realtime_order(
        scorer, bids, user, device, BATCH_HOUR, candidates
    )


def test_an_ad_the_batch_never_saw_comes_last_whatever_it_bids(scorer, world):
    users = world.users.rename(columns={"primary_device": "device"})[["user_id", "device"]]
    bids = dict(zip(world.ads["ad_id"], world.ads["bid"], strict=True))
    batch = AdBatch.build(scorer, users.head(5), list(world.ads["ad_id"][:10]), bids)
    order = batch.order(users["user_id"][0], ["ad99999", *world.ads["ad_id"][:10]])
    assert order[-1] == "ad99999"


def test_staleness_at_age_zero_equals_the_real_time_figure(scorer, world, events, serving_day):
    ads, breaks, p = _ad_comparison(world, scorer, events, serving_day)
    day = (serving_day - world.start).days
    realtime = realtime_ad_pods(breaks, ads, p, POD)  # through rank_by_ecpm, request by request
    at_zero = stale_ad_pods(breaks, ads, p, breaks.t_s, POD)
    np.testing.assert_array_equal(at_zero, realtime)
    rt = ad_revenue_per_1000(world, day, breaks, ads, realtime)
    assert ad_revenue_per_1000(world, day, breaks, ads, at_zero) == rt
    # Not vacuous: a week-old ranking, which misses the week's launches and bid changes, differs.
    week_old = stale_ad_pods(breaks, ads, p, breaks.t_s - 7 * 86_400, POD)
    assert ad_revenue_per_1000(world, day, breaks, ads, week_old) != rt


def test_the_daily_batch_is_the_fixed_context_ranking_of_the_days_start(
    scorer, world, events, serving_day
):
    ads, breaks, _ = _ad_comparison(world, scorer, events, serving_day)
    fixed = candidate_scores(scorer, breaks, ads, "fixed_context")
    from_batch = batch_ad_pods(scorer, breaks, ads, POD)  # AdBatch.build, then order()
    vectorised = stale_ad_pods(breaks, ads, fixed, np.zeros(len(breaks.t_s)), POD)
    np.testing.assert_array_equal(from_batch, vectorised)


def test_simulator_judged_figures_repeat_exactly(scorer, world, events, serving_day):
    def run() -> tuple[float, float]:
        ads, breaks, p = _ad_comparison(world, scorer, events, serving_day)
        day = (serving_day - world.start).days
        return (
            ad_revenue_per_1000(world, day, breaks, ads, realtime_ad_pods(breaks, ads, p, POD)),
            ad_revenue_per_1000(world, day, breaks, ads, batch_ad_pods(scorer, breaks, ads, POD)),
        )

    assert run() == run()
