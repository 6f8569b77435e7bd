"""The known-structure fit: given the world's structure, it finds the users' and the items' own
numbers when each has many impressions, leaves alone what it has no rows for, and its posterior
draws are as wide as the evidence allows: the prior's spread without rows, narrow with many."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import torch

from model_mle.structure_fit import (
    Parameters,
    StructureFit,
    fit_parameters,
    item_index,
    posterior_draws,
    prior_spreads,
)
from shared.click_model import click_probability
from shared.presets import get_preset
from shared.schema import DEVICES, SURFACES
from shared.world import build_world
from tests.model_mle.conftest import planted_rows

SURFACE = "home_row"


def _median_cosine(truth: np.ndarray, fitted: np.ndarray) -> float:
    norms = np.linalg.norm(truth, axis=1) * np.linalg.norm(fitted, axis=1)
    return float(np.median((truth * fitted).sum(1) / norms))


def _planted_rows(world, users: np.ndarray, items: np.ndarray, n: int) -> pd.DataFrame:
    """`n` home-row impressions of `users` x `items`, drawn at random."""
    rng = np.random.default_rng(0)
    return planted_rows(world, SURFACE, rng.choice(users, n), rng.choice(items, n), rng)


def test_the_fit_recovers_planted_users_and_item_offsets_when_each_has_many_impressions():
    world = build_world(get_preset("tiny"), seed=3, start=dt.date(2026, 1, 1))
    users, items = np.arange(60), np.arange(40)
    rows = _planted_rows(world, users, items, 200_000)
    titles = world.items[SURFACE]
    fitted = fit_parameters(world, rows)
    stacked = item_index(world, rows.iloc[:1].assign(item_id=titles.ids[0]))[0]  # title 0's row
    offsets = fitted.item_offset.numpy()[stacked : stacked + len(titles.ids)]
    truth = titles.vectors - titles.centres[titles.category]
    assert _median_cosine(world.user_vectors[users], fitted.user_taste.numpy()[users]) > 0.85
    assert _median_cosine(truth[items], offsets[items]) > 0.75
    bias = fitted.item_bias.numpy()[stacked : stacked + len(titles.ids)]
    assert np.corrcoef(titles.bias[items], bias[items])[0, 1] > 0.8
    # users and items without a row stay at the prior's mean
    assert (fitted.user_taste.numpy()[len(users) :] == 0).all()
    assert (offsets[len(items) :] == 0).all() and (bias[len(items) :] == 0).all()


def test_posterior_draws_are_as_wide_as_the_evidence_allows():
    world = build_world(get_preset("tiny"), seed=3, start=dt.date(2026, 1, 1))
    many, few = np.arange(20), np.arange(20, 40)  # 4,000 impressions each against 40
    rows = pd.concat(
        [
            _planted_rows(world, many, np.arange(40), 80_000),
            _planted_rows(world, few, np.arange(40), 800),
        ],
        ignore_index=True,
    )
    start = fit_parameters(world, rows)
    draws = posterior_draws(world, rows, start, draws=40, seed=1)
    tastes = np.stack([d.user_taste.numpy() for d in draws])  # (draws, users, k)
    spread = tastes.std(0).mean(1)  # each user's posterior spread
    taste_prior = prior_spreads(world)[0]
    assert spread[many].mean() < 0.6 * spread[few].mean()  # measured: 0.20 against 0.49
    assert spread[few].mean() < taste_prior  # 0.49 against 0.57: 40 impressions say a little
    # a user with no rows is drawn from the prior itself
    without = tastes[:, 40:, :]
    assert abs(without.std() / taste_prior - 1) < 0.1 and abs(without.mean()) < 0.05
    # the chain stays around the most probable values where the evidence is strong
    mean = tastes.mean(0)
    assert _median_cosine(start.user_taste.numpy()[many], mean[many]) > 0.9  # measured: 0.95


def test_given_the_worlds_own_numbers_it_predicts_the_true_click_probability():
    world = build_world(get_preset("tiny"), seed=3, start=dt.date(2026, 1, 1))
    rng = np.random.default_rng(1)
    frames = [
        planted_rows(world, s, rng.choice(50, 500), rng.choice(len(world.items[s].ids), 500), rng)
        for s in SURFACES
    ]
    rows = pd.concat(frames, ignore_index=True)
    items = [world.items[s] for s in SURFACES]
    truth = Parameters(
        torch.from_numpy(world.user_vectors),
        torch.from_numpy(world.user_bias),
        torch.from_numpy(np.concatenate([i.vectors - i.centres[i.category] for i in items])),
        torch.from_numpy(np.concatenate([i.bias for i in items])),
    )
    expected = np.concatenate(
        [_true_probability(world, s, f) for s, f in zip(SURFACES, frames, strict=True)]
    )
    fit = StructureFit(world, truth, draws=[truth, truth])
    np.testing.assert_allclose(fit.predict(rows), expected, rtol=1e-9)
    np.testing.assert_allclose(fit.predict_mean(rows), expected, rtol=1e-9)
    with pytest.raises(ValueError, match="no posterior draws"):
        StructureFit(world, truth).predict_mean(rows)


def _true_probability(world, surface: str, rows: pd.DataFrame) -> np.ndarray:
    user = pd.Index(world.user_ids).get_indexer(rows["user_id"])
    item = pd.Index(world.items[surface].ids).get_indexer(rows["item_id"])
    device = pd.Index(DEVICES).get_indexer(rows["device"])
    hour, position = rows["hour"].to_numpy(), rows["position"].to_numpy()
    return click_probability(world, surface, 0, user, item, hour, device, position)
