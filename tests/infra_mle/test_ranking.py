"""eCPM ranking on its own, without a model or a service: the order, the ties, the ads without
a bid, and the inputs left as they were."""

from __future__ import annotations

import numpy as np
import pytest

from infra_mle.ranking import rank_by_ecpm


def ids(ranked):
    return [a.ad_id for a in ranked]


def test_ads_are_ordered_by_expected_revenue_not_by_click_probability():
    bids = {"likely": 0.80, "pricey": 3.00, "cheap": 0.10}
    ranked = rank_by_ecpm(["likely", "pricey", "cheap"], [0.05, 0.02, 0.09], bids)
    assert ids(ranked) == ["pricey", "likely", "cheap"]  # $60, $40, $9 per 1,000 showings
    assert max(ranked, key=lambda a: a.p_click).ad_id == "cheap"


def test_ecpm_is_click_probability_times_bid_per_thousand_showings():
    (ad,) = rank_by_ecpm(["ad1"], [0.05], {"ad1": 0.80})
    assert (ad.p_click, ad.bid, ad.known) == (0.05, 0.80, True)
    assert ad.ecpm == pytest.approx(40.0)


def test_equal_ecpm_is_ordered_by_ad_id_whatever_the_order_asked():
    bids = {"b": 1.0, "a": 1.0, "c": 2.0}
    first = rank_by_ecpm(["b", "a", "c"], [0.1, 0.1, 0.05], bids)
    again = rank_by_ecpm(["c", "a", "b"], [0.05, 0.1, 0.1], bids)
    assert ids(first) == ids(again) == ["a", "b", "c"]


def test_an_ad_without_a_bid_is_kept_last_with_zero_bid_and_ecpm():
    ranked = rank_by_ecpm(["unknown", "known"], [0.9, 0.01], {"known": 0.5})
    assert ids(ranked) == ["known", "unknown"]
    last = ranked[-1]
    assert (last.bid, last.ecpm, last.known, last.p_click) == (0.0, 0.0, False, 0.9)


def test_an_ad_bidding_zero_still_comes_before_an_ad_without_a_bid():
    ranked = rank_by_ecpm(["a-unknown", "z-free"], [0.5, 0.5], {"z-free": 0.0})
    assert ids(ranked) == ["z-free", "a-unknown"]
    assert [a.known for a in ranked] == [True, False]


def test_numpy_scores_are_accepted_and_the_inputs_are_left_as_they_were():
    ads = ["ad2", "ad1"]
    scores = np.array([0.01, 0.02], dtype=np.float32)
    bids = {"ad1": 1.0, "ad2": 1.0}
    ranked = rank_by_ecpm(ads, scores, bids)
    assert ids(ranked) == ["ad1", "ad2"]
    assert all(type(a.p_click) is float for a in ranked)  # JSON-ready, not numpy scalars
    assert ads == ["ad2", "ad1"] and bids == {"ad1": 1.0, "ad2": 1.0}
    np.testing.assert_array_equal(scores, np.array([0.01, 0.02], dtype=np.float32))


def test_a_score_missing_for_a_candidate_is_an_error_not_a_shorter_ranking():
    with pytest.raises(ValueError):
        rank_by_ecpm(["ad1", "ad2"], [0.1], {"ad1": 1.0, "ad2": 1.0})
