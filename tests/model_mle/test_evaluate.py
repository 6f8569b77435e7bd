"""The metric helpers agree with sklearn, and the ranking metrics behave as defined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss, ndcg_score, roc_auc_score

from model_mle.compare import bids as ad_bids
from model_mle.evaluate import (
    bootstrap,
    expected_calibration_error,
    ndcg_at_k,
    pod_revenue,
    row_log_loss,
    weighted_auc,
)


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 20, 5000)
    y = (rng.random(5000) < p).astype(float)
    return y, p


def test_auc_matches_sklearn_with_weights_and_ties(scored):
    y, p = scored
    assert weighted_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    tied = np.round(p, 2)  # many equal scores
    assert weighted_auc(y, tied) == pytest.approx(roc_auc_score(y, tied), abs=1e-12)
    w = np.random.default_rng(1).poisson(1.0, len(y)).astype(float)
    assert weighted_auc(y, tied, w) == pytest.approx(
        roc_auc_score(y, tied, sample_weight=w), abs=1e-12
    )


def test_log_loss_matches_sklearn(scored):
    y, p = scored
    assert row_log_loss(y, p).mean() == pytest.approx(log_loss(y, p), rel=1e-12)


def test_ece_uses_the_bins_of_sklearns_calibration_curve(scored):
    y, p = scored
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    edges = np.percentile(p, np.linspace(0, 100, 11))
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=10)
    counts = counts[counts > 0]
    expected = float(np.sum(counts / len(p) * np.abs(observed - predicted)))
    assert expected_calibration_error(y, p) == pytest.approx(expected, rel=1e-9)


def test_ece_is_near_zero_for_true_probabilities_and_large_for_a_biased_model(scored):
    y, p = scored
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.minimum(3 * p, 1)) > 0.05


def test_ndcg_matches_sklearn():
    rng = np.random.default_rng(2)
    labels = (rng.random((200, 10)) < 0.15).astype(float)
    labels[labels.sum(1) == 0, 0] = 1.0  # sklearn scores a list without positives as 0
    scores = rng.random((200, 10))
    ours = ndcg_at_k(labels, scores, k=10)
    assert ours.mean() == pytest.approx(ndcg_score(labels, scores, k=10), rel=1e-12)
    assert np.isnan(ndcg_at_k(np.zeros((1, 10)), scores[:1])).all()


def test_bootstrap_interval_brackets_the_estimate(scored):
    y, p = scored
    low, high = bootstrap(lambda w: weighted_auc(y, p, w), len(y), n_boot=50)
    assert low < roc_auc_score(y, p) < high
    assert high - low < 0.1


def test_the_true_ecpm_order_earns_the_most_from_every_pod():
    rng = np.random.default_rng(3)
    pods = 300
    rows = pd.DataFrame(
        {
            "request_id": np.repeat(np.arange(pods), 3),
            "position": np.tile([1, 2, 3], pods),
            "item_id": rng.choice(["a", "b", "c", "d"], 3 * pods),
            "p_click": rng.beta(1, 30, 3 * pods),
        }
    )
    bids = pd.Series({"a": 0.5, "b": 1.0, "c": 2.0, "d": 3.0})
    relevance = rows["p_click"] / np.tile([1, 2**-0.6, 3**-0.6], pods)
    best = pod_revenue(rows, relevance.to_numpy(), bids)
    for scores in (rng.random(len(rows)), rows["p_click"].to_numpy()):
        assert (best >= pod_revenue(rows, scores, bids) - 1e-12).all()
    assert best.sum() > pod_revenue(rows, -relevance.to_numpy() * 1, bids).sum()


def test_pod_revenue_matches_a_hand_worked_pod():
    # One logged pod: ads a, b, c in slots 1, 2, 3, seen with probability slot ** -0.6. Their
    # relevance (the click probability once seen) is 0.02, 0.03 and 0.01, so the logged p_click
    # is that times the slot's examination.
    exam = np.array([1.0, 2**-0.6, 3**-0.6])
    relevance = np.array([0.02, 0.03, 0.01])
    rows = pd.DataFrame(
        {
            "request_id": [7, 7, 7],
            "position": [1, 2, 3],
            "item_id": ["a", "b", "c"],
            "p_click": relevance * exam,
        }
    )
    bids = pd.Series({"a": 1.0, "b": 2.0, "c": 4.0})
    # Ranked by the true relevance: eCPM b 0.06 > c 0.04 > a 0.02, so b moves to slot 1.
    expected = 0.03 * 2.0 * exam[0] + 0.01 * 4.0 * exam[1] + 0.02 * 1.0 * exam[2]
    got = pod_revenue(rows, relevance, bids)
    assert got.shape == (1,) and got[0] == pytest.approx(expected, rel=1e-9), (
        f"expected one pod earning {expected:.6f} dollars (b, c, a in slots 1-3: sum of "
        f"relevance x bid x the new slot's examination); got {got!r}. Hint: p_click was "
        "measured at the logged slot; divide by that slot's examination before moving an ad."
    )


def test_pod_revenue_of_the_logged_order_is_the_logged_expected_revenue(tiny, record_property):
    rows = tiny.test["ad_break"]
    bids = ad_bids(tiny)
    bid = rows["item_id"].map(bids).to_numpy(float)
    keep = (10 - rows["position"].to_numpy()) / bid  # eCPM falls with the logged slot
    logged = pod_revenue(rows, keep, bids)
    expected = (rows["p_click"] * bid).groupby(rows["request_id"]).sum()
    assert len(logged) == len(expected) and np.allclose(
        np.sort(logged), np.sort(expected.to_numpy())
    ), (
        f"scores that keep every pod in its logged order should earn what the log expects, "
        f"sum of p_click x bid per pod: {expected.mean():.6f} per pod on average over "
        f"{len(expected)} pods; got {np.mean(logged):.6f} over {len(logged)}. Hint: rank by "
        "score x bid, and multiply each ad's relevance by the examination of the slot it lands in."
    )
    relevance = rows["p_click"].to_numpy() / (rows["position"].to_numpy() ** -0.6)
    best = pod_revenue(rows, relevance, bids)
    assert best.mean() > logged.mean(), (
        f"ordering each pod by the true eCPM should earn more than the random logged order; got "
        f"{1000 * best.mean():.2f} against {1000 * logged.mean():.2f} per 1,000 pods"
    )
    record_property(
        "figure",
        f"tiny preset's test day, {len(logged)} pods: logged order ${1000 * logged.mean():.2f} "
        f"per 1,000 pods, the same ads by true eCPM ${1000 * best.mean():.2f}",
    )
