"""The experiment's rows: split by time, labelled with the simulator's clicks, and only from a
fault-free dataset."""

from __future__ import annotations

import pandas as pd
import pytest

from shared.features import TRAINING_KEYS, feature_columns
from shared.generate import read_events
from shared.oracle import read_truth


def test_splits_follow_time_and_do_not_overlap(tiny):
    for surface in ("ad_break", "home_row"):
        train, valid, test = (getattr(tiny, s)[surface] for s in ("train", "valid", "test"))
        assert train["event_time"].max() < valid["event_time"].min()
        assert valid["event_time"].max() < test["event_time"].min()
        assert len(train) and len(valid) and len(test)
        assert (train["surface"] == surface).all()
    assert tiny.training_window == (tiny.days[0].isoformat(), tiny.days[-3].isoformat())


def test_rows_have_the_training_set_layout_and_the_true_labels(tiny):
    rows = pd.concat([tiny.train["home_row"], tiny.test["ad_break"]])
    assert list(rows.columns) == [*TRAINING_KEYS, *feature_columns(), "p_click"]
    truth = read_truth(tiny.dataset).set_index("event_id")
    assert (rows["label"].to_numpy() == truth.loc[rows["event_id"], "clicked"].to_numpy()).all()
    assert rows["p_click"].notna().all()


def test_a_dataset_with_faults_is_refused_with_a_pointer_to_data_mle(faulty_dataset):
    world, _ = faulty_dataset
    with pytest.raises(ValueError, match="generated with faults"):
        read_events(world)
