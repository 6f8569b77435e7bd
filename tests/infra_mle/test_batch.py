"""The batch job: every user gets the top K titles by the same score the online path gives,
within 1e-6 of the model's reference prediction, and re-running a day gives the same files."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from infra_mle.batch_score import BATCH_HOUR, K, run_batch, run_batch_job
from shared.artifacts import latest_model, load_model
from shared.encoding import SERVING_POSITION
from shared.features import attach_features
from shared.lake import BATCH_RECS, Lake
from shared.storage import read_manifest
from tests.infra_mle.conftest import make_artifact

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch_lake(tmp_path_factory, clean_dataset, snapshot_dir, events, serving_day):
    from shared.features import training_set

    world, _ = clean_dataset
    lake = Lake(tmp_path_factory.mktemp("batch-lake"))
    shutil.copytree(Lake(world).entities(), lake.entities())
    shutil.copytree(snapshot_dir, lake.online_snapshot(serving_day))
    rows = training_set(events, serving_day - dt.timedelta(days=1), "home_row")
    make_artifact(lake.root, rows, seed=3, surface="home_row")
    return lake


@pytest.fixture(scope="module")
def recs(spark, batch_lake, serving_day):
    path = run_batch(spark, batch_lake, serving_day)
    return path, pd.read_parquet(path / "home_rows.parquet")


def test_every_user_gets_k_ranked_titles(recs, batch_lake):
    path, rows = recs
    users = pd.read_parquet(batch_lake.entity("users"))
    assert len(rows) == len(users) * K
    assert set(rows["user_id"]) == set(users["user_id"])
    ranks = rows.groupby("user_id")["rank"].apply(list)
    assert all(r == list(range(1, K + 1)) for r in ranks)
    assert (rows.groupby("user_id")["p_click"].apply(lambda p: p.is_monotonic_decreasing)).all()
    manifest = read_manifest(path)
    assert manifest["k"] == K and manifest["generated_for"] == path.name[3:]


def test_batch_scores_equal_the_reference_and_the_top_k_is_the_true_top(
    recs, batch_lake, snapshot_dir
):
    _, rows = recs
    model = load_model(latest_model(batch_lake, "home_row"))
    users = pd.read_parquet(batch_lake.entity("users")).head(5)
    titles = pd.read_parquet(batch_lake.entity("titles"))["title_id"]
    features = tuple(
        pd.read_parquet(snapshot_dir / f"{t}.parquet")
        for t in ("user_features", "item_features", "context_features")
    )
    for user, device in zip(users["user_id"], users["primary_device"], strict=True):
        candidates = pd.DataFrame(
            {"user_id": user, "item_id": titles, "surface": "home_row", "device": device,
             "hour": BATCH_HOUR, "position": SERVING_POSITION}
        )  # fmt: skip
        reference = model.predict(attach_features(candidates, features, "home_row"))
        mine = rows[rows["user_id"] == user]
        expected = pd.Series(reference, index=titles.to_numpy())
        np.testing.assert_allclose(mine["p_click"], expected[mine["title_id"]], atol=1e-6)
        assert mine["p_click"].min() >= np.sort(reference)[-K] - 1e-6  # nothing better was left out


def test_rerunning_a_day_gives_identical_files(spark, recs, batch_lake, serving_day):
    path, _ = recs
    before = read_manifest(path)["files"]
    assert read_manifest(run_batch(spark, batch_lake, serving_day))["files"] == before
    assert [p.name for p in batch_lake.path(BATCH_RECS).iterdir()] == [path.name]


def test_the_job_runs_as_its_own_process_and_reports_what_it_cost(batch_lake, serving_day, recs):
    """`run_batch_job` runs the module as a scheduler would (`python -m`, so the module is
    __main__ in the driver and the workers must still find the scoring function)."""
    path, _ = recs
    before = read_manifest(path)["files"]
    run = run_batch_job(batch_lake, serving_day)
    assert run.path == path and read_manifest(path)["files"] == before
    assert run.users * run.titles == run.rows_scored > 0
    assert 0 < run.scoring_s < run.seconds and run.session_start_s > 0 and run.cpu_s > 0


def test_a_failed_job_raises_with_its_own_message(batch_lake, serving_day):
    with pytest.raises(RuntimeError, match=r"batch job for .* failed: .*no online snapshot"):
        run_batch_job(batch_lake, serving_day + dt.timedelta(days=30))
