"""One day through Airflow's real scheduler: API server, DAG processor and scheduler as children,
the day run as a backfill, and the scheduler's own automatic run for a long-gone day failing fast
instead of blocking the backfill."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.lake import Lake
from shared.storage import verify_partition


@pytest.mark.slow
def test_a_backfill_through_the_scheduler_runs_a_day(tmp_path, monkeypatch):
    from data_mle.airflow_scheduler import Scheduler
    from data_mle.connect import SparkConnectServer
    from shared.generate import GenerateConfig, generate
    from shared.s3 import MotoServer, upload_dir
    from shared.settings import get_settings

    monkeypatch.setenv("MARQUEE_LAKE_ROOT", str(tmp_path / "lake"))
    get_settings.cache_clear()
    day = dt.date(2026, 1, 5)
    with MotoServer(), SparkConnectServer() as spark:
        monkeypatch.setenv("MARQUEE_SPARK_REMOTE", spark.url)
        world = tmp_path / "world"
        generate(GenerateConfig(preset="tiny", days=1), world)
        upload_dir(world / "raw", "marquee-lake", "raw", create_bucket=True)
        lake = Lake.from_settings()
        with Scheduler(lake) as airflow:
            (run,) = airflow.backfill([day])
            automatic = airflow.automatic_runs()
    assert run.ok, run.error
    assert set(run.tasks) >= {"wait_for_raw", "ingest", "publish"}
    assert all(t["state"] == "success" for t in run.tasks.values())
    assert verify_partition(lake.bronze_events(day))["reconciliation"]["reconciled"]
    # Unpausing made a run for the latest whole day; its data never landed, so it failed at
    # once rather than holding the DAG's single active run while the backfill waited.
    assert automatic and all(state == "failed" for _, state in automatic), automatic
