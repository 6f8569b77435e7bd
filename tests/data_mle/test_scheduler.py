"""One day through Airflow's real scheduler: API server, DAG processor and scheduler as children,
the day run as a backfill, and the scheduler's own automatic run for a long-gone day failing fast
instead of blocking the backfill."""

from __future__ import annotations

import pytest

from shared.storage import verify_partition
from tests.data_mle.conftest import START


@pytest.mark.slow
def test_a_backfill_through_the_scheduler_runs_a_day(pipeline_lake):
    from data_mle.airflow_scheduler import Scheduler

    day, lake = START, pipeline_lake
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
