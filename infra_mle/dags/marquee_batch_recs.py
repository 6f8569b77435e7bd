"""marquee_batch_recs: the infra MLE's daily batch job, scoring every user's home row.

    [wait_for_snapshot, wait_for_model] >> land_inputs >> score_home_rows

One run scores one day, `{{ ds }}`, once its inputs exist: the online feature snapshot of the day
(published by marquee_daily_etl the day before, manifest last) and a home-row model
(`latest.json`, written last by the model's upload). `land_inputs` copies the snapshot and the
entity tables from S3 into the lake, verified; `score_home_rows` is the Spark job
`infra_mle/batch_score.py`, which also uploads its output for the service. Re-running a day
rewrites the same partition with the same content.

Parsing this file imports only Airflow; the work imports happen inside the tasks.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import CronDataIntervalTimetable, dag, task

from shared.lake import ENTITIES, ONLINE_SNAPSHOT, models_key  # names only: cheap to import

JOB = Path(__file__).resolve().parents[1] / "batch_score.py"
BUCKET = os.environ.get("MARQUEE_BUCKET", "marquee-lake")
INPUT_WAIT_TIMEOUT_S = float(os.environ.get("MARQUEE_INPUT_WAIT_TIMEOUT_S", 6 * 3600))


def wait_for(task_id: str, key: str) -> S3KeySensor:
    return S3KeySensor(
        task_id=task_id,
        bucket_name=BUCKET,
        bucket_key=key,
        aws_conn_id="aws_default",
        mode="reschedule",  # frees the worker slot between pokes: the wait can be hours
        poke_interval=30,
        timeout=INPUT_WAIT_TIMEOUT_S,
        retries=0,
    )


@dag(
    dag_id="marquee_batch_recs",
    description="Score every user's home row with Spark once the day's features and a model exist",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 6),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "infra-mle", "retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["batch", "infra_mle", "marquee"],
)
def marquee_batch_recs():
    snapshot = wait_for("wait_for_snapshot", ONLINE_SNAPSHOT.key() + "/dt={{ ds }}/_manifest.json")
    model = wait_for("wait_for_model", models_key("home_row") + "/latest.json")

    @task
    def land_inputs(ds: str | None = None) -> str:
        """The day's snapshot and the entity tables, from S3 into the lake, verified."""
        import datetime as dt

        from shared.lake import Lake
        from shared.s3 import download_prefix

        lake = Lake.from_settings()
        day = dt.date.fromisoformat(ds)
        download_prefix(BUCKET, ONLINE_SNAPSHOT.key(day), lake.online_snapshot(day))
        download_prefix(BUCKET, ENTITIES.key(), lake.entities())
        return ONLINE_SNAPSHOT.key(day)

    score = SparkSubmitOperator(
        task_id="score_home_rows",
        conn_id="spark_default",
        application=str(JOB),
        application_args=[
            "--day",
            "{{ ds }}",
            "--model",
            f"s3://{BUCKET}/{models_key('home_row')}",
            "--upload",
        ],
        name="marquee-batch-recs",
    )

    [snapshot, model] >> land_inputs() >> score


marquee_batch_recs()
