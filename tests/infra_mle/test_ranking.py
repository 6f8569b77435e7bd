"""eCPM ranking on its own, without a model or a service: the order, the ties, the ads without
a bid, and the inputs left as they were."""

from __future__ import annotations

import numpy as np
import pytest

from infra_mle.ranking import rank_by_ecpm


def ids(ranked):
    return [a.ad_id for a in ranked]


def test_ads_are_ordered_by_expected_revenue_not_by_click_probability(record_property):
    bids = {"likely": 0.80, "pricey": 3.00, "cheap": 0.10}
    ranked = rank_by_ecpm(["likely", "pricey", "cheap"], [0.05, 0.02, 0.09], bids)
    assert ids(ranked) == ["pricey", "likely", "cheap"], (
        f"expected ['pricey', 'likely', 'cheap'] ($60, $40, $9 per 1,000 showings), got "
        f"{ids(ranked)}. Sort by eCPM = p_click x bid x 1000, highest first, not by p_click."
    )
    by_pctr = max(ranked, key=lambda a: a.p_click)  # "cheap": 9%, the likeliest click
    record_property(
        "figure",
        f"the first slot earns ${ranked[0].ecpm:.2f} per 1,000 showings ranked by eCPM, "
        f"${by_pctr.ecpm:.2f} ranked by pCTR alone",
    )


def test_ecpm_is_click_probability_times_bid_per_thousand_showings():
    (ad,) = rank_by_ecpm(["ad1"], [0.05], {"ad1": 0.80})
    assert (ad.p_click, ad.bid, ad.known) == (0.05, 0.80, True), (
        f"expected p_click 0.05, bid 0.80, known True; got {ad.p_click}, {ad.bid}, {ad.known}"
    )
    assert ad.ecpm == pytest.approx(40.0), (
        f"a 5% ad bidding $0.80 earns $40 per 1,000 showings, got ecpm {ad.ecpm}. "
        "eCPM is quoted per mille: p_click x bid x 1000 (PER_MILLE)."
    )


def test_equal_ecpm_is_ordered_by_ad_id_whatever_the_order_asked():
    bids = {"b": 1.0, "a": 1.0, "c": 2.0}
    first = rank_by_ecpm(["b", "a", "c"], [0.1, 0.1, 0.05], bids)
    again = rank_by_ecpm(["c", "a", "b"], [0.05, 0.1, 0.1], bids)
    assert ids(first) == ids(again) == ["a", "b", "c"], (
        f"three ads with the same eCPM ($100) must come out as ['a', 'b', 'c'] whatever the "
        f"order asked; got {ids(first)} and {ids(again)}. Break ties by the ad id in the sort "
        "key, so the same request always gets the same order."
    )


def test_an_ad_without_a_bid_is_kept_last_with_zero_bid_and_ecpm():
    ranked = rank_by_ecpm(["unknown", "known"], [0.9, 0.01], {"known": 0.5})
    assert ids(ranked) == ["known", "unknown"], (
        f"an ad missing from `bids` is returned, last: expected ['known', 'unknown'], got "
        f"{ids(ranked)}. Do not drop it and do not raise a KeyError: use bids.get(ad)."
    )
    last = ranked[-1]
    assert (last.bid, last.ecpm, last.known, last.p_click) == (0.0, 0.0, False, 0.9), (
        f"the ad without a bid should have bid 0.0, ecpm 0.0, known False and its own p_click "
        f"0.9; got bid {last.bid}, ecpm {last.ecpm}, known {last.known}, p_click {last.p_click}"
    )


def test_an_ad_bidding_zero_still_comes_before_an_ad_without_a_bid():
    ranked = rank_by_ecpm(["a-unknown", "z-free"], [0.5, 0.5], {"z-free": 0.0})
    assert ids(ranked) == ["z-free", "a-unknown"], (
        f"both have eCPM 0, but the one with a bid on record (even $0) comes first: expected "
        f"['z-free', 'a-unknown'], got {ids(ranked)}. Sort on `not known` before the eCPM; "
        "`bid or 0` alone cannot tell a $0 bid from a missing one."
    )
    assert [a.known for a in ranked] == [True, False]


def test_numpy_scores_are_accepted_and_the_inputs_are_left_as_they_were():
    ads = ["ad2", "ad1"]
    scores = np.array([0.01, 0.02], dtype=np.float32)
    bids = {"ad1": 1.0, "ad2": 1.0}
    ranked = rank_by_ecpm(ads, scores, bids)
    assert ids(ranked) == ["ad1", "ad2"]
    types = [type(a.p_click).__name__ for a in ranked]
    assert types == ["float", "float"], (
        f"p_click must be a Python float (JSON-ready), got {types}: convert with float(p)"
    )
    assert ads == ["ad2", "ad1"] and bids == {"ad1": 1.0, "ad2": 1.0}, (
        f"the inputs were changed: ads {ads}, bids {bids}. Build a new list and sort that."
    )
    np.testing.assert_array_equal(scores, np.array([0.01, 0.02], dtype=np.float32))


def test_a_score_missing_for_a_candidate_is_an_error_not_a_shorter_ranking():
    with pytest.raises(ValueError):
        ranked = rank_by_ecpm(["ad1", "ad2"], [0.1], {"ad1": 1.0, "ad2": 1.0})
        pytest.fail(
            f"2 ads and 1 score gave {ids(ranked)} instead of a ValueError: zip(..., "
            "strict=True) refuses inputs of different lengths"
        )
