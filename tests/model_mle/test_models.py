"""Model behaviour: every network can fit one batch; an interaction model learns a pure cross
that logistic regression cannot; training is seeded."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from model_mle.models import ARCHITECTURES, PopularityModel, build_network
from model_mle.train import BestEpoch, TrainConfig, train_model
from shared.click_network import pairwise_interactions
from shared.encoding import CATEGORICAL_FIELDS, FeatureEncoder, dense_columns
from shared.features import feature_defaults
from shared.schema import DEVICES


def synthetic_rows(n: int, seed: int, label) -> pd.DataFrame:
    """Ad-break rows in the training-set layout with random ids and contexts, default features,
    and a label drawn from `label(rows)` (a probability per row)."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "user_id": rng.choice([f"u{i}" for i in range(50)], n),
            "item_id": rng.choice([f"ad{i}" for i in range(20)], n),
            "hour": rng.integers(0, 24, n),
            "device": rng.choice(DEVICES, n),
            "position": rng.integers(1, 4, n),
            "surface": "ad_break",
        }
    )
    for col, value in feature_defaults("ad_break").items():
        rows[col] = value + rng.random(n)  # some spread, no signal
    rows["label"] = (rng.random(n) < label(rows)).astype(np.int32)
    return rows


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_network_can_overfit_one_small_batch(name):
    rows = synthetic_rows(64, seed=0, label=lambda r: np.full(len(r), 0.5))
    encoder = FeatureEncoder.fit(rows, CATEGORICAL_FIELDS, dense_columns("ad_break"))
    categorical, dense = (torch.from_numpy(a) for a in encoder.transform(rows))
    y = torch.from_numpy(rows["label"].to_numpy(np.float32))
    torch.manual_seed(0)
    network = build_network(name, encoder, embedding_dim=8)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.05)
    for _ in range(300):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(network(categorical, dense), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05, f"{name} cannot fit 64 random labels: loss {loss.item():.3f}"


def cross_only(rows: pd.DataFrame) -> np.ndarray:
    """Clicks depend only on whether the hour's and the device's parities agree: no main effect
    of either, so only a pairwise interaction can tell clicks apart."""
    device_parity = rows["device"].map({d: i % 2 for i, d in enumerate(DEVICES)})
    return np.where(rows["hour"] % 2 == device_parity, 0.6, 0.05)


@pytest.mark.parametrize("fields", [2, 3, 5])
def test_the_fm_term_is_the_sum_over_pairs_of_fields(fields):
    v = torch.randn(4, fields, 8, generator=torch.Generator().manual_seed(fields))
    brute_force = torch.stack(
        [
            sum(torch.dot(row[i], row[j]) for i, j in itertools.combinations(range(fields), 2))
            for row in v
        ]
    )
    got = pairwise_interactions(v)
    assert got.shape == (4,), (
        f"expected one interaction per row, shape (4,), from v of shape {tuple(v.shape)}; got "
        f"shape {tuple(got.shape)}. Hint: sum over the pairs and over the k embedding numbers."
    )
    assert torch.allclose(got, brute_force, atol=1e-4), (
        f"expected the sum over pairs i < j of <v_i, v_j>: {brute_force.tolist()}; got "
        f"{got.tolist()}. Hint: a pair is counted once and a field never pairs with itself; "
        "(sum v)^2 holds every pair twice plus each <v_i, v_i>."
    )


def test_an_interaction_model_learns_a_cross_that_logistic_regression_cannot(record_property):
    train = synthetic_rows(20_000, seed=1, label=cross_only)
    valid = synthetic_rows(5_000, seed=2, label=cross_only)
    test = synthetic_rows(5_000, seed=3, label=cross_only)
    y = test["label"].to_numpy()
    auc = {}
    for name in ("logreg", "fm"):
        config = TrainConfig(model=name, batch_size=512, max_epochs=10, l2=0.0, lr=0.02, seed=0)
        model = train_model(config, "ad_break", train, valid, progress=False)
        auc[name] = roc_auc_score(y, model.predict(test))
    best_possible = roc_auc_score(y, cross_only(test))
    assert auc["fm"] > best_possible - 0.02, (
        f"expected the FM within 0.02 AUC of the truth ({best_possible:.4f}) on clicks that "
        f"depend only on hour x device; got {auc['fm']:.4f} (logistic regression "
        f"{auc['logreg']:.4f}). Hint: the pairwise term is what carries the cross; check it "
        "against the sum over pairs."
    )
    assert auc["logreg"] < 0.6, (
        f"expected logistic regression near chance (< 0.6) without a cross; got {auc['logreg']:.4f}"
    )
    record_property(
        "figure",
        f"AUC on the hour x device cross: FM {auc['fm']:.4f}, logistic regression "
        f"{auc['logreg']:.4f}, the truth {best_possible:.4f}",
    )


def test_training_is_reproducible_from_the_seed():
    rows = synthetic_rows(3_000, seed=4, label=cross_only)
    config = TrainConfig(model="fm", batch_size=256, max_epochs=2, seed=5)
    a = train_model(config, "ad_break", rows, rows, progress=False).predict(rows)
    b = train_model(config, "ad_break", rows, rows, progress=False).predict(rows)
    np.testing.assert_array_equal(a, b)


def test_popularity_gives_unseen_items_the_prior():
    rows = synthetic_rows(2_000, seed=6, label=lambda r: np.full(len(r), 0.1))
    model = PopularityModel("ad_break").fit(rows)
    unseen = rows.head(1).assign(item_id="never-shown")
    assert model.predict(unseen)[0] == pytest.approx(0.02)
    assert 0.05 < model.predict(rows).mean() < 0.15


def test_unknown_model_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        TrainConfig(model="xgboost")


def test_early_stopping_keeps_the_best_epoch_and_waits_patience_epochs():
    layer = torch.nn.Linear(1, 1)
    best = BestEpoch(layer, patience=1)
    stops = []
    for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.6, 1.0]):
        with torch.no_grad():
            layer.weight.fill_(float(epoch))  # the weights of this epoch
        stops.append(best.should_stop(loss))
        if stops[-1]:
            break
    assert stops == [False, False, False, True], "two epochs without a better loss end it"
    best.restore()
    assert layer.weight.item() == 1.0, "the weights of epoch 1 (loss 2.0) are put back"
    assert best.loss == 2.0
