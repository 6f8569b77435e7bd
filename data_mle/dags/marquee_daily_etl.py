"""marquee_daily_etl: the data MLE's daily pipeline, from raw events in S3 to published features.

    wait_for_raw >> land >> ingest >> quality_gates >> features >> training_sets >> publish

One run processes one day: `{{ ds }}`, the run's logical date. Each Spark step is a plain script
submitted through the Spark provider's connection (`spark_default`: `local[*]` unless the
connection says otherwise); when `MARQUEE_SPARK_REMOTE` names a Spark Connect server, the scripts
connect to it instead of each starting a JVM. Every task reads and writes only its day's
partitions, writes them atomically, and gives the same output when re-run.

Run a day for real with `python -m data_mle.airflow_runner` (it sets AIRFLOW_HOME inside the
lake); this file imports only Airflow at the top, so parsing it is cheap and side-effect free.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import CronDataIntervalTimetable, dag, task

from shared.lake import RAW_EVENTS  # names only: shared.lake is path arithmetic, cheap to import

JOBS = Path(__file__).resolve().parents[1]  # data_mle/: each job is a script spark-submit runs
BUCKET = os.environ.get("MARQUEE_BUCKET", "marquee-lake")
# How long to wait for the business to land a day: hours in production, seconds in the demo.
RAW_WAIT_TIMEOUT_S = float(os.environ.get("MARQUEE_RAW_WAIT_TIMEOUT_S", 6 * 3600))


def spark_job(task_id: str, script: str, retries: int | None = None) -> SparkSubmitOperator:
    """A Spark step: `spark-submit data_mle/<script> --day <ds>` through `spark_default`."""
    extra = {} if retries is None else {"retries": retries}
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id="spark_default",
        application=str(JOBS / script),
        application_args=["--day", "{{ ds }}"],
        name=f"marquee-{task_id}",
        **extra,
    )


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
    wait_for_raw = S3KeySensor(
        task_id="wait_for_raw",
        bucket_name=BUCKET,
        # The manifest is uploaded last: once it is there, the whole partition is.
        bucket_key=RAW_EVENTS.key() + "/dt={{ ds }}/_manifest.json",
        aws_conn_id="aws_default",
        mode="poke",
        poke_interval=5,
        timeout=RAW_WAIT_TIMEOUT_S,  # past it the run fails: the data is not fresh
        retries=0,
    )

    @task
    def land(ds: str | None = None) -> int:
        """Copy the day's raw partition from S3 into the lake, checksums verified."""
        import datetime as dt

        from data_mle.land import land_day
        from shared.lake import Lake

        return land_day(Lake.from_settings(), dt.date.fromisoformat(ds))["rows"]

    ingest = spark_job("ingest", "ingest.py")
    # A failed gate is a verdict on the data, not a glitch: retrying gives the same answer.
    quality = spark_job("quality_gates", "quality.py", retries=0)
    features = spark_job("features", "features.py")
    training = spark_job("training_sets", "training.py")
    publish = spark_job("publish", "publish.py")

    wait_for_raw >> land() >> ingest >> quality >> features >> training >> publish


marquee_daily_etl()
