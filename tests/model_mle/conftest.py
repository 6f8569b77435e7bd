"""One tiny experiment for the whole session: 6 days, so 3 training days, then validation and
test. Tests that read the experiment's lake (features, candidates) point the settings at it.
`planted_rows` makes impressions of chosen users and items, clicked with the world's truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model_mle.data import DataConfig, ExperimentData, load_experiment
from shared.click_model import click_probability
from shared.schema import DEVICES
from shared.settings import get_settings
from shared.world import World

TINY = DataConfig(preset="tiny", days=6, seed=7)


@pytest.fixture(scope="session")
def experiment_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-lake")


@pytest.fixture(scope="session")
def tiny(experiment_lake: Path) -> ExperimentData:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MARQUEE_LAKE_ROOT", str(experiment_lake))
        get_settings.cache_clear()
        data = load_experiment(TINY)
    get_settings.cache_clear()
    return data


@pytest.fixture
def in_experiment_lake(experiment_lake: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point this test's settings at the session experiment's lake."""
    monkeypatch.setenv("MARQUEE_LAKE_ROOT", str(experiment_lake))
    get_settings.cache_clear()
    return experiment_lake


def planted_rows(
    world: World, surface: str, user: np.ndarray, item: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Impressions of `user` x `item` (index arrays of one length) on `surface`, at random
    hours, devices and slots, clicked with the world's true probabilities."""
    n = len(user)
    hour, device = rng.integers(0, 24, n), rng.integers(0, len(DEVICES), n)
    position = rng.integers(1, 4, n)
    p = click_probability(world, surface, 0, user, item, hour, device, position)
    return pd.DataFrame(
        {
            "user_id": world.user_ids[user],
            "item_id": world.items[surface].ids[item],
            "hour": hour,
            "device": np.asarray(DEVICES)[device],
            "position": position,
            "surface": surface,
            "label": (rng.random(n) < p).astype(int),
        }
    )
