"""Run `marquee_daily_etl` for several days in ONE Airflow process, one `dag.test()` per day.

    python -m data_mle.airflow_dag_test 2026-01-05 2026-01-06    # with airflow_runner's env

`airflow dags test` does the same for one day, but spends about 7 s of each day importing
Airflow and parsing the DAG again. This child of `data_mle.airflow_runner` pays that once: it
parses the DAG, then runs the days in order (a real run each: sensor, tasks, retries, state in the
metadata database), stopping at the first day that fails, since the days after it read its
outputs. Before each day it prints `MARKER <day>` on stdout and stderr, so the parent can tell
whose output is whose.
"""

from __future__ import annotations

import datetime as dt
import sys

MARKER = "### marquee_daily_etl"
DAG_ID = "marquee_daily_etl"


def main(argv: list[str] | None = None) -> int:
    days = [dt.date.fromisoformat(d) for d in (sys.argv[1:] if argv is None else argv)]
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded
    from airflow.utils.state import DagRunState

    @providers_configuration_loaded
    def run() -> int:
        dag = get_bagged_dag(bundle_names=None, dag_id=DAG_ID)
        for day in days:
            for stream in (sys.stdout, sys.stderr):
                print(f"{MARKER} {day}", file=stream, flush=True)
            logical = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            if dag.test(logical_date=logical).state != DagRunState.SUCCESS:
                return 1
        return 0

    return run()


if __name__ == "__main__":
    sys.exit(main())
