"""What a ranking is worth, by the simulator's truth: the expected clicks of what it showed, slot
by slot, position bias included.

    world = world_of(Path("lake/infra_demo/world"))
    p = shown_click_probability(world, "ad_break", day, users, shown, hours, devices)
    revenue_per_1000 = 1000 * (p * bids).sum(axis=1).mean()   # dollars per 1,000 ad breaks

A logged click rate only says how users reacted to what the logging policy showed. The simulator
can answer the counterfactual instead: had this policy shown these items in these slots, in this
context, how many clicks would it have drawn? Everyone who compares policies (model_mle's offline
evaluation, infra_mle's batch-against-real-time comparison) asks that same question, so it lives
here, next to the click model it reads.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from shared.click_model import click_probability
from shared.generate import DATASET_FILE
from shared.presets import get_preset
from shared.world import World, build_world


def world_of(dataset: Path) -> World:
    """The simulator's world behind a generated dataset, rebuilt from how it was made (its
    `_dataset.json`): the same preset, seed and start give the same hidden tastes."""
    made = json.loads((dataset / DATASET_FILE).read_text())["config"]
    return build_world(
        get_preset(made["preset"]), made["seed"], dt.date.fromisoformat(made["start"])
    )


def shown_click_probability(
    world: World,
    surface: str,
    day: int,
    user: np.ndarray,
    shown: np.ndarray,
    hour: np.ndarray,
    device: np.ndarray,
) -> np.ndarray:
    """(requests, slots) true click probabilities of `shown` (item indices, one row per request,
    best slot first), each in its own slot: the first item in slot 1, the second in slot 2, ...
    `user`, `hour` and `device` (indices) give each request's context, one value per row."""
    shown = np.asarray(shown)
    n, slots = shown.shape
    p = click_probability(
        world, surface, day,
        np.repeat(user, slots), shown.ravel(), np.repeat(hour, slots), np.repeat(device, slots),
        np.tile(np.arange(1, slots + 1), n),
    )  # fmt: skip
    return p.reshape(n, slots)
