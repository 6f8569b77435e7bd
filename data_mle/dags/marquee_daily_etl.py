"""marquee_daily_etl: the data MLE's daily pipeline, from raw events in S3 to published features.

    wait_for_raw >> land >> ingest >> quality_gates >> features >> training_sets >> publish

One run processes one day: `{{ ds }}`, the run's logical date. Each step after the sensor is a
task that calls `data_mle.steps.run_step`, the same function the Step Functions worker runs. The
Spark steps connect to the long-lived Spark Connect server named by `MARQUEE_SPARK_REMOTE` (a
second to connect, no JVM per task); without one, a step starts a local Spark of its own. On a
cluster each Spark step is also a script for `spark-submit` (see data_mle/README.md). Every task
reads and writes only its day's partitions, writes them atomically, and gives the same output
when re-run.

Run days for real with `python -m data_mle.airflow_runner` (state inside the lake); this file
imports only Airflow at the top, so parsing it is cheap and side-effect free.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import CronDataIntervalTimetable, chain, dag, task
from airflow.sdk.exceptions import AirflowFailException

from data_mle.steps import STEPS  # names only: cheap to import, as is shared.lake
from shared.lake import RAW_EVENTS

BUCKET = os.environ.get("MARQUEE_BUCKET", "marquee-lake")
# How long after a day's end its events may still land: hours in production, seconds in a demo.
RAW_WAIT_TIMEOUT_S = float(os.environ.get("MARQUEE_RAW_WAIT_TIMEOUT_S", 6 * 3600))


class RawDaySensor(S3KeySensor):
    """Waits for a day's raw partition, but only until the day's freshness deadline (its end plus
    `RAW_WAIT_TIMEOUT_S`). A run for a day already past it fails on the first look instead of
    waiting hours: that is what stops an automatic run for a long-gone day (the demo world's
    dates are in the past) from holding the one active run slot while backfills queue."""

    def poke(self, context) -> bool:
        if super().poke(context):
            return True
        deadline = context["data_interval_end"] + timedelta(seconds=RAW_WAIT_TIMEOUT_S)
        if datetime.now(UTC) > deadline:
            raise AirflowFailException(
                f"no raw events for {context['ds']} in s3://{self.bucket_name}/{self.bucket_key}, "
                f"and the day is past its freshness deadline ({deadline:%Y-%m-%d %H:%M} UTC)"
            )
        return False


def pipeline_step(name: str, retries: int | None = None):
    """The task for step `name` of `data_mle.steps`. A permanent failure (a failed quality gate,
    a reconciliation that does not add up) fails the task without retries: it is a verdict on
    the data, and a retry would give the same answer. Anything else is retried."""
    extra = {} if retries is None else {"retries": retries}

    @task(task_id=name, **extra)
    def step(ds: str | None = None) -> str:
        import datetime as dt

        from data_mle.steps import StepError, run_step
        from shared.lake import Lake

        try:
            return run_step(name, Lake.from_settings(), dt.date.fromisoformat(ds))
        except StepError as error:
            if error.permanent:
                raise AirflowFailException(str(error)) from error
            raise

    return step()


@dag(
    dag_id="marquee_daily_etl",
    description="Raw events in S3 -> bronze, quarantine, quality gates, features, training sets",
    # Data intervals of one UTC day: a run for 2026-01-06 covers [2026-01-06, 2026-01-07).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 5),
    catchup=False,  # backfills are explicit: python -m data_mle.airflow_runner --from D --to E
    max_active_runs=1,  # days run in order: dedup and features read the days before
    default_args={"owner": "data-mle", "retries": 2, "retry_delay": timedelta(seconds=10)},
    tags=["marquee", "data_mle", "etl"],
)
def marquee_daily_etl():
    wait_for_raw = RawDaySensor(
        task_id="wait_for_raw",
        bucket_name=BUCKET,
        # The manifest is uploaded last: once it is there, the whole partition is.
        bucket_key=RAW_EVENTS.key() + "/dt={{ ds }}/_manifest.json",
        aws_conn_id="aws_default",
        mode="poke",
        poke_interval=2,
        timeout=RAW_WAIT_TIMEOUT_S + 24 * 3600,  # a bound; the deadline above comes first
        retries=0,
    )
    # A failed gate is a verdict on the data: no retries (run_step also says so, per error).
    chain(
        wait_for_raw,
        *(pipeline_step(name, retries=0 if name == "quality_gates" else None) for name in STEPS),
    )


marquee_daily_etl()
