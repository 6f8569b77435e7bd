"""One day through Airflow's real scheduler: API server, DAG processor and scheduler as children,
the day run as a backfill, and the scheduler's own automatic run for a long-gone day failing fast
instead of blocking the backfill."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from shared.storage import verify_partition
from tests.data_mle.conftest import START


@pytest.mark.slow
def test_a_backfill_through_the_scheduler_runs_a_day(pipeline_lake, monkeypatch):
    from data_mle.airflow_scheduler import Scheduler

    # The automatic run is for the latest whole day, which ended minutes ago when the test runs
    # just after midnight: within its 6 h freshness window, its sensor would rightly wait. With
    # no window, every ended day is past its deadline, whatever the hour.
    monkeypatch.setenv("MARQUEE_RAW_WAIT_TIMEOUT_S", "0")
    day, lake = START, pipeline_lake
    with Scheduler(lake) as airflow:
        (run,) = airflow.backfill([day])
        # `make airflow` asks for its next backfill right after the week's: Airflow refuses one
        # while the DAG has another it has not marked complete. The next day never landed, so
        # its run fails at the sensor, quickly; what counts is that the backfill was taken.
        (next_day,) = airflow.backfill([day + dt.timedelta(days=1)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # it ran beside the backfill's run: let it end
            automatic = airflow.automatic_runs()
            if automatic and all(state in ("success", "failed") for _, state in automatic):
                break
            time.sleep(1)
    assert run.ok, run.error
    assert set(run.tasks) >= {"wait_for_raw", "ingest", "publish"}
    assert all(t["state"] == "success" for t in run.tasks.values())
    assert verify_partition(lake.bronze_events(day))["reconciliation"]["reconciled"]
    assert not next_day.ok and next_day.tasks["wait_for_raw"]["state"] == "failed", next_day
    # Unpausing made a run for the latest whole day; its data never landed, so it failed at
    # once rather than holding the DAG's single active run while the backfill waited.
    assert automatic and all(state == "failed" for _, state in automatic), automatic
