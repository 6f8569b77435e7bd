"""Daily retraining with the joint model: one run on both surfaces' training sets gives each
surface a candidate that is judged, registered, and loads through the artifact contract."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from fullstack_mle.registry import Registry
from fullstack_mle.retrain import retrain
from model_mle.data import DataConfig, load_experiment
from model_mle.tracking import tracking_uri
from model_mle.train import TrainConfig
from shared.artifacts import load_model
from shared.lake import Lake, training_set_table
from shared.schema import SURFACES
from shared.settings import get_settings


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Lake:
    """A lake with four days of training sets of both surfaces and the entity tables, as data
    MLE's pipeline and the business leave it."""
    monkeypatch.setenv("MARQUEE_LAKE_ROOT", str(tmp_path))
    get_settings.cache_clear()
    data = load_experiment(DataConfig(preset="tiny", days=6, seed=7))
    lake = Lake(tmp_path)
    shutil.copytree(Lake(data.dataset).entities(), lake.entities())
    for surface in SURFACES:
        every = pd.concat([data.train[surface], data.valid[surface], data.test[surface]])
        for day, part in every.groupby(every["event_time"].dt.date):
            folder = lake.training_set(surface, day)
            folder.mkdir(parents=True)
            part.to_parquet(folder / "part-0.parquet", index=False)
    yield lake
    get_settings.cache_clear()


def test_one_joint_run_gives_each_surface_a_registered_candidate_that_serves(lake):
    registry = Registry(tracking_uri(lake.root))
    days = lake.days(training_set_table("ad_break"))
    decisions = retrain(lake, registry, days[-1], TrainConfig(model="joint", max_epochs=2))
    assert set(decisions) == set(SURFACES)
    for surface, decision in decisions.items():
        assert decision.promoted, decision.reason  # no champion yet: the first is promoted
        model = load_model(lake.models(surface) / decision.candidate, surface)
        assert model.manifest["model"] == "joint"
        assert model.network.spec.taste and model.network.spec.examination
        assert registry.champion(surface) == decision.candidate
    # one training run for both: the same seconds on both decisions
    assert decisions["ad_break"].train_seconds == decisions["home_row"].train_seconds
