"""Training sets carry the true labels and the day's point-in-time features; publishing puts the
features, the training sets and the online snapshot in S3."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

from data_mle.features import build_features
from data_mle.ingest import ingest_day
from data_mle.publish import publish_day
from data_mle.training import build_training_sets
from shared.features import (
    FEATURE_TABLES,
    TRAINING_KEYS,
    USER_FEATURES,
    feature_columns,
    training_set,
)
from shared.lake import ONLINE_SNAPSHOT, training_set_table
from shared.oracle import read_truth
from shared.s3 import MotoServer, list_keys
from shared.storage import verify_partition
from tests.data_mle.conftest import DAYS, land

pytestmark = pytest.mark.slow
DAY = DAYS[1]


@pytest.fixture(scope="module")
def clean_lake(spark, clean_dataset, tmp_path_factory):
    world, _ = clean_dataset
    lake = land(world, tmp_path_factory.mktemp("clean-lake"))
    for day in DAYS[:3]:
        ingest_day(spark, lake, day)
    build_features(spark, lake, DAY)
    build_training_sets(spark, lake, DAY)
    return lake


def _training(lake, surface):
    return pq.read_table(lake.training_set(surface, DAY)).to_pandas()


@pytest.mark.parametrize("surface", ["ad_break", "home_row"])
def test_labels_are_the_simulators_clicks(clean_lake, clean_dataset, surface):
    world, _ = clean_dataset
    rows = _training(clean_lake, surface)
    truth = read_truth(world).set_index("event_id")
    assert len(rows) == int((truth.loc[rows.event_id].surface == surface).sum())
    assert (rows.label.to_numpy() == truth.loc[rows.event_id].clicked.astype(int).to_numpy()).all()
    day_truth = truth[(truth.day == DAY.isoformat()) & (truth.surface == surface)]
    assert len(rows) == len(day_truth), "every impression of the day, once"


def test_training_rows_carry_the_features_known_before_the_day(clean_lake):
    rows = _training(clean_lake, "home_row").set_index("user_id")
    users = pq.read_table(clean_lake.features(USER_FEATURES.name, DAY)).to_pandas()
    users = users.set_index("user_id")
    seen = rows.index.intersection(users.index)
    assert len(seen) > 0
    for col in ("home_clicks_1d", "ad_impressions_7d", "days_since_last_event"):
        per_user = rows.loc[seen, col].groupby(level=0).first()
        assert (per_user == users.loc[per_user.index, col]).all(), col
    feature_columns = [c for c in rows.columns if c != "context_title_id"]
    assert not rows[feature_columns].isna().any().any(), "unseen keys get defaults, not nulls"


@pytest.mark.parametrize("surface", ["ad_break", "home_row"])
def test_training_set_equals_the_pandas_reference(clean_lake, surface):
    bronze = pd.concat(pq.read_table(clean_lake.bronze_events(d)).to_pandas() for d in DAYS[:3])
    expected = training_set(bronze, DAY, surface)
    got = _training(clean_lake, surface)
    assert list(got.columns) == [*TRAINING_KEYS, *feature_columns()]
    assert len(got) == len(expected) > 0
    for col in got.columns:
        if col == "event_time":
            continue  # Spark and pandas carry the same instants in different types
        pd.testing.assert_series_equal(
            got[col], expected[col], check_dtype=False, check_names=False, obj=col
        )


def test_publish_uploads_features_training_sets_and_the_snapshot(spark, clean_lake):
    with MotoServer():
        keys = publish_day(spark, clean_lake, DAY)
        stored = set(list_keys("marquee-lake"))
    next_day = DAY + dt.timedelta(days=1)
    snapshot = clean_lake.online_snapshot(next_day)
    manifest = verify_partition(snapshot)
    assert sorted(manifest["files"]) == sorted(f"{t.name}.parquet" for t in FEATURE_TABLES)
    assert manifest["as_of"] == next_day.isoformat()
    assert set(keys) == stored
    assert f"{ONLINE_SNAPSHOT.key(next_day)}/_manifest.json" in stored
    assert f"{training_set_table('ad_break').key(DAY)}/part-0.parquet" in stored
    assert f"silver/user_features/dt={DAY}/_manifest.json" in stored
