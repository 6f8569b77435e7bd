"""Run `marquee_daily_etl` for batches of days in ONE Airflow process, one `dag.test()` per day.

    echo "2026-01-05 2026-01-06" | python -m data_mle.airflow_dag_test   # with airflow_runner's env

`airflow dags test` does the same for one day, in a new process each time, and a new process
pays about 11 s before its first day's work: importing Airflow and parsing the DAG (3 s), the
first task's start (about 3 s: the in-process execution API that `dag.test()` runs tasks
against sets itself up on its first request), the S3 hook's import (1.5 s), the Spark client's
imports and connection. This child of `data_mle.airflow_runner` (`DagTestProcess`) pays that
once, however many batches follow, and while its parent is still getting ready: it creates or
upgrades the metadata database (`migrate_database`), parses the DAG, does what the first day
would otherwise do inside its run (`prepare`), then reads a batch
of days per line of its standard input and runs them in order (a real run each: sensor, tasks,
retries, state in the metadata database), stopping at the first day that fails, since the days
after it read its outputs. Before each day it prints `MARKER <day>`, so the parent (which reads
stdout and stderr as one stream) can tell whose output is whose, and after each batch
`DONE <0|1>`. It exits when its input closes.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import sys

MARKER = "### marquee_daily_etl"
DONE = "### marquee_daily_etl batch done"
DAG_ID = "marquee_daily_etl"


def migrate_database() -> None:
    """Create or upgrade Airflow's metadata database, as `airflow db migrate` does; a no-op when
    it is current. Here, in a process that has imported Airflow already, it takes 1.0 s; as a
    command of its own, 2.8-3.1 s (most of it that import)."""
    from airflow.utils.db import upgradedb

    upgradedb()


def prepare(dag) -> None:
    """Do, before the first batch arrives, what the first day would otherwise do inside its
    run (about 3 s): start the in-process execution API that `dag.test()` runs its tasks
    against (a FastAPI app, which sets itself up on its first request), and load the S3 client
    of the DAG's sensor and the Spark Connect client of the steps. Makes no request to S3."""
    import httpx
    import pyspark.sql.connect.session  # noqa: F401  (the Spark steps' client)
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    api = in_process_api_server()  # cached: the one dag.test() uses
    with httpx.Client(transport=api.transport, base_url="http://in-process.invalid/") as client:
        client.get("health").raise_for_status()
    for task in dag.tasks:
        if isinstance(task, S3KeySensor):
            S3Hook(aws_conn_id=task.aws_conn_id, verify=task.verify).get_conn()


def main() -> int:
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded
    from airflow.utils.state import DagRunState

    @providers_configuration_loaded
    def serve() -> int:
        migrate_database()
        dag = get_bagged_dag(bundle_names=None, dag_id=DAG_ID)
        prepare(dag)

        def run_batch(days: list[dt.date]) -> int:
            for day in days:
                print(f"{MARKER} {day}", flush=True)
                logical = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
                if dag.test(logical_date=logical).state != DagRunState.SUCCESS:
                    return 1
            return 0

        status = 0
        for line in sys.stdin:
            if line.strip():
                status = run_batch([dt.date.fromisoformat(d) for d in line.split()])
                sys.stderr.flush()
                print(f"{DONE} {status}", flush=True)
        return status

    return serve()


def exit_now(status: int) -> None:
    """End the process with `status` once the exit handlers have run and the output is flushed,
    without the interpreter's teardown. After Airflow, that teardown (its thousands of objects
    and modules, the in-process API's thread) takes 2.1-2.2 s with nothing left to do: each run
    is committed to the database before the next begins, and the handlers (Airflow's, logging's)
    have run. The parent waits for this process at every stop."""
    atexit._run_exitfuncs()  # what a normal exit would run first
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    exit_now(main())
