"""The data-limited ceiling: with enough impressions it finds the users the world planted, and
on held-out days it cannot beat the oracle by more than noise."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from model_mle.ceiling import fit_ceiling, fit_users, item_side
from model_mle.compare import bids
from model_mle.evaluate import CEILING, compare
from shared.presets import get_preset
from shared.schema import SURFACES
from shared.world import build_world
from tests.model_mle.conftest import planted_rows


def test_the_fit_recovers_planted_user_vectors_when_every_user_has_many_impressions():
    world = build_world(get_preset("tiny"), seed=3, start=dt.date(2026, 1, 1))
    rng = np.random.default_rng(0)
    users = np.arange(40)
    frames = []
    for surface in SURFACES:
        n = len(users) * 3000
        item = rng.integers(0, len(world.items[surface].ids), n)
        frames.append(planted_rows(world, surface, np.repeat(users, 3000), item, rng))
    rows = pd.concat(frames, ignore_index=True)
    vectors, _ = fit_users(
        item_side(world, rows), rows["label"].to_numpy(), len(world.user_ids),
        float(world.user_vectors.std()), float(world.user_bias.std()),
    )  # fmt: skip
    truth, fitted = world.user_vectors[users], vectors[users]
    cosine = (
        (truth * fitted).sum(1) / np.linalg.norm(truth, axis=1) / np.linalg.norm(fitted, axis=1)
    )
    assert np.median(cosine) > 0.9, np.round(np.sort(cosine), 2)
    assert (vectors[len(users) :] == 0).all()  # users without rows keep the prior's mean


def test_the_ceiling_does_not_beat_the_oracle_on_held_out_days_beyond_its_interval(tiny):
    ceiling = fit_ceiling(tiny)
    assert ceiling.prior_scale in ceiling.valid_logloss
    for surface in SURFACES:
        rows = tiny.test[surface]
        table = compare({CEILING: ceiling}, rows, surface, bids(tiny), n_boot=50)
        c, oracle = table.loc[CEILING], table.loc["oracle"]
        assert c["auc"] <= oracle["auc"] + (c["auc_high"] - c["auc_low"]), surface
        assert c["logloss"] >= oracle["logloss"] - (c["logloss_high"] - c["logloss_low"]), surface
        assert c["gap_data_high"] > 0, surface  # the interval of oracle - ceiling reaches above 0
        assert c["auc"] > 0.6, surface  # and it is a real model: the items are known
