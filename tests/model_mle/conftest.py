"""One tiny experiment for the whole session: 6 days, so 3 training days, then validation and
test. Tests that read the experiment's lake (features, candidates) point the settings at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_mle.data import DataConfig, ExperimentData, load_experiment
from shared.settings import get_settings

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
