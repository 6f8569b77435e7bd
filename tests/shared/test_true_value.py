"""The simulator's value of a shown ranking: each item in its own slot, position bias included."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.click_model import click_probability
from shared.lake import Lake
from shared.true_value import shown_click_probability, world_of


def test_each_shown_item_is_judged_in_its_own_slot(clean_dataset):
    world = world_of(clean_dataset[0])
    shown = np.array([[5, 9, 2], [9, 5, 2]])
    user, hour, device = np.array([1, 1]), np.array([20, 20]), np.array([0, 0])
    p = shown_click_probability(world, "ad_break", 1, user, shown, hour, device)
    one = click_probability(world, "ad_break", 1, user[:1], shown[0, 1:2], hour[:1], device[:1],
                            np.array([2]))  # fmt: skip
    assert p[0, 1] == one[0]
    # The same ad is worth less one slot lower: the position bias.
    assert p[1, 0] > p[0, 1]
    assert p[0, 0] > p[1, 1]


def test_the_rebuilt_world_is_the_one_that_made_the_dataset(clean_dataset):
    world = world_of(clean_dataset[0])
    users = pd.read_parquet(Lake(clean_dataset[0]).entity("users"))
    assert list(world.user_ids) == list(users["user_id"])
