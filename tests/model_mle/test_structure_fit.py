"""The known-structure fit: given the world's structure, it finds the users' and the items' own
numbers when each has many impressions, and leaves alone what it has no rows for."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from model_mle.structure_fit import fit_parameters, item_index
from shared.click_model import click_probability
from shared.presets import get_preset
from shared.schema import DEVICES
from shared.world import build_world

SURFACE = "home_row"


def _median_cosine(truth: np.ndarray, fitted: np.ndarray) -> float:
    norms = np.linalg.norm(truth, axis=1) * np.linalg.norm(fitted, axis=1)
    return float(np.median((truth * fitted).sum(1) / norms))


def test_the_fit_recovers_planted_users_and_item_offsets_when_each_has_many_impressions():
    world = build_world(get_preset("tiny"), seed=3, start=dt.date(2026, 1, 1))
    rng = np.random.default_rng(0)
    users, items = np.arange(60), np.arange(40)
    n = 200_000
    user, item = rng.choice(users, n), rng.choice(items, n)
    hour, device = rng.integers(0, 24, n), rng.integers(0, len(DEVICES), n)
    position = rng.integers(1, 4, n)
    p = click_probability(world, SURFACE, 0, user, item, hour, device, position)
    titles = world.items[SURFACE]
    rows = pd.DataFrame(
        {
            "user_id": world.user_ids[user],
            "item_id": titles.ids[item],
            "hour": hour,
            "device": np.asarray(DEVICES)[device],
            "position": position,
            "surface": SURFACE,
            "label": (rng.random(n) < p).astype(int),
        }
    )
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
