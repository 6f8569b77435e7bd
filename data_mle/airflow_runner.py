"""Run `marquee_daily_etl` for real, day by day, with Airflow's state kept inside the lake.

    python -m data_mle.airflow_runner --from 2026-01-05 --to 2026-01-11

Each day is one `dag.test()`, what `airflow dags test marquee_daily_etl <day>` does: a real DAG
run (sensor, Spark steps, retries, state in a SQLite database under `<lake>/airflow`) without a
scheduler, run in order, which is what a backfill of a pipeline whose days depend on the days
before must do. The days run in one Airflow process (`DagTestProcess`), which a caller with
several batches (the demo, the full-stack loop) keeps open between them. The
S3 endpoint and the Spark Connect server, when this process has them (`AWS_ENDPOINT_URL`,
`MARQUEE_SPARK_REMOTE`), are passed on as Airflow connections and environment.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from data_mle.airflow_dag_test import DAG_ID, DONE, MARKER
from data_mle.runs import DayRun, why_failed
from shared.lake import Lake
from shared.server import run_to_end, stop_group
from shared.settings import get_settings

DAGS_FOLDER = Path(__file__).resolve().parent / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))  # installed beside this interpreter
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Timeout)\b.*: ")


# The scheduler, DAG processor, API server and task runners all write to one SQLite file. A
# writer waits this long for another's lock instead of failing with "database is locked":
# sqlite3's default of 5 s is exceeded on a busy 2-core machine.
LOCK_WAIT_S = 60.0
EXIT_WAIT_S = 10.0  # for the DAG-test process to exit by itself once its input closes


def metadata_path(lake: Lake) -> Path:
    """Airflow's metadata database (SQLite) inside the lake."""
    return lake.root / "airflow" / "airflow.db"


def metadata_query(lake: Lake, sql: str, *args: object) -> list[tuple]:
    """Rows of a read-only query on Airflow's metadata database."""
    with contextlib.closing(sqlite3.connect(metadata_path(lake), timeout=LOCK_WAIT_S)) as db:
        return db.execute(sql, args).fetchall()


def airflow_env(lake: Lake) -> dict[str, str]:
    """The environment of every Airflow command: its home, database and DAGs inside the repo's
    lake (never the user's ~/airflow), quiet logs, and the connections to S3 and Spark."""
    settings = get_settings()
    home = lake.root / "airflow"
    aws: dict = {"conn_type": "aws", "extra": {"region_name": settings.aws_region}}
    if os.environ.get("AWS_ENDPOINT_URL"):
        aws["extra"]["endpoint_url"] = os.environ["AWS_ENDPOINT_URL"]
        aws["login"] = os.environ.get("AWS_ACCESS_KEY_ID", "testing")
        aws["password"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")
    venv_bin = str(Path(sys.executable).parent)  # airflow and spark-submit live beside python
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"sqlite:///{metadata_path(lake)}?timeout={LOCK_WAIT_S:.0f}"
        ),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(
            {"conn_type": "spark", "host": settings.spark_master}
        ),
        "MARQUEE_LAKE_ROOT": str(lake.root),
        "PYSPARK_PYTHON": sys.executable,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _airflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """An Airflow command in its own process group, stopped with it if this process stops."""
    return run_to_end([AIRFLOW, *args], env)


def error_line(stderr: str) -> str:
    """The last line of a command's error output that names an exception (for SQLAlchemy, the
    line with the driver's message, not the SQL statement that follows it), else its tail."""
    named = [line.strip() for line in stderr.splitlines() if EXCEPTION_LINE.match(line.strip())]
    return named[-1][:500] if named else stderr[-800:]


def migrate(lake: Lake) -> None:
    """Create or upgrade the metadata database with `airflow db migrate` (about 3 s; a no-op
    when current), for the scheduler's processes (`DagTestProcess` migrates it itself)."""
    env = airflow_env(lake)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    result = _airflow(["db", "migrate"], env)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed: {error_line(result.stderr)}")


def task_times(lake: Lake, day: dt.date) -> dict[str, dict]:
    """State and duration of each task of the latest run of `day`, from Airflow's database
    (none before the database exists)."""
    if not metadata_path(lake).exists():
        return {}
    run = metadata_query(
        lake, "SELECT run_id FROM dag_run WHERE dag_id = ? AND date(logical_date) = ? "
        "ORDER BY id DESC LIMIT 1", DAG_ID, day.isoformat(),
    )  # fmt: skip
    if not run:
        return {}
    rows = metadata_query(
        lake, "SELECT task_id, state, duration FROM task_instance WHERE dag_id = ? AND run_id = ? "
        "ORDER BY start_date", DAG_ID, run[0][0],
    )  # fmt: skip
    return {
        task: {"state": state, "seconds": round(duration or 0.0, 1)}
        for task, state, duration in rows
    }


def run_seconds(lake: Lake, day: dt.date) -> float:
    """Wall time of the latest run of `day`: its first task's start to its last task's end."""
    (row,) = metadata_query(
        lake, "SELECT (julianday(max(end_date)) - julianday(min(start_date))) * 86400 "
        "FROM task_instance WHERE dag_id = ? AND run_id = (SELECT run_id FROM dag_run "
        "WHERE dag_id = ? AND date(logical_date) = ? ORDER BY id DESC LIMIT 1)",
        DAG_ID, DAG_ID, day.isoformat(),
    )  # fmt: skip
    return round(row[0] or 0.0, 1)


def _per_day(output: str, days: list[dt.date]) -> dict[dt.date, str]:
    """Split a batch's output at the child's per-day markers."""
    parts: dict[dt.date, list[str]] = {}
    current: list[str] = []
    for line in output.splitlines():
        if line.startswith(MARKER):
            current = parts.setdefault(dt.date.fromisoformat(line.split()[-1]), [])
        else:
            current.append(line)
    return {day: "\n".join(parts.get(day, [])) for day in days}


class DagTestProcess:
    """One Airflow process (`data_mle.airflow_dag_test`) that runs batches of days for as long
    as it is open: Airflow's import, the DAG's parse and the first task's start are paid once,
    not once per batch (about 10 s each). It starts importing and preparing as soon as it is
    entered, so the caller can go on preparing meanwhile; it creates or upgrades the metadata
    database itself (a lake needs no `migrate` first).

        with DagTestProcess(lake) as airflow:
            week = airflow.run_days(days)        # one DayRun per day that ran, in order
            again = airflow.run_days([days[2]])
    """

    def __init__(self, lake: Lake, command: list[str] | None = None) -> None:
        self.lake = lake
        self.command = command or [sys.executable, "-m", "data_mle.airflow_dag_test"]
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> DagTestProcess:
        env = airflow_env(self.lake)
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,  # stopped as a group
        )  # fmt: skip
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # the child's cue to exit, once its batch is done
        with contextlib.suppress(subprocess.TimeoutExpired):
            if exc_info[0] is None:
                self.process.wait(timeout=EXIT_WAIT_S)
        stop_group(self.process, grace_s=10)  # a no-op once it has exited; else interrupted
        self.process = None

    def _batch_output(self, days: list[dt.date]) -> str:
        """Send one batch; return its output, up to the child's answer (or to its end, when it
        died first: the output then ends with why)."""
        if self.process is None:
            raise RuntimeError("DagTestProcess is not open: use it in a with statement")
        lines = []
        try:
            self.process.stdin.write(" ".join(map(str, days)) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:  # it exited already; its output says why
            pass
        for line in self.process.stdout:
            if line.startswith(DONE):
                break
            lines.append(line)
        return "".join(lines)

    def run_days(self, days: list[dt.date]) -> list[DayRun]:
        """Real DAG runs for `days`, in order; stops at the first day that fails. One `DayRun`
        per day that ran."""
        output = self._batch_output(days)
        per_day = _per_day(output, days)
        runs = []
        for day in days:
            tasks = task_times(self.lake, day)
            if not tasks and not per_day[day]:
                if not runs:  # the child failed before its first day: say why
                    why = output.strip()[-500:] or "it printed nothing"
                    error = f"the Airflow run did not start: {why}"
                    runs.append(DayRun(day, False, 0.0, {}, error))
                break
            ok = bool(tasks) and all(t["state"] == "success" for t in tasks.values())
            error = "" if ok else why_failed(self.lake, day, tasks, per_day[day])
            runs.append(DayRun(day, ok, run_seconds(self.lake, day), tasks, error))
            if not ok:
                break
        return runs


def run_days(lake: Lake, days: list[dt.date]) -> list[DayRun]:
    """Real DAG runs for `days`, in order, in one Airflow process; stops at the first day that
    fails. One `DayRun` per day that ran."""
    with DagTestProcess(lake) as airflow:
        return airflow.run_days(days)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_mle.airflow_runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=dt.date.fromisoformat, required=True)
    parser.add_argument(
        "--scheduler", action="store_true",
        help="run the days as a backfill through a real scheduler (data_mle.airflow_scheduler)",
    )  # fmt: skip
    parser.add_argument(
        "--serve", action="store_true", help="with --scheduler: keep Airflow up until Ctrl-C"
    )
    args = parser.parse_args(argv)
    lake = Lake.from_settings()
    days = [args.start + dt.timedelta(days=k) for k in range((args.end - args.start).days + 1)]
    if args.scheduler:
        return _through_the_scheduler(lake, days, args.serve)
    runs = run_days(lake, days)
    for run in runs:
        print(f"{run.day}: {'success' if run.ok else 'FAILED'} in {run.seconds} s {run.error}")
    return 0 if len(runs) == len(days) and all(run.ok for run in runs) else 1


def _through_the_scheduler(lake: Lake, days: list[dt.date], serve: bool) -> int:
    from data_mle.airflow_scheduler import Scheduler
    from shared.server import Terminated, sigterm_exits

    try:
        with sigterm_exits(), Scheduler(lake) as airflow:
            print(f"Airflow up: UI and API on {airflow.api_url}, logs in {lake.root / 'logs'}")
            runs = airflow.backfill(days)
            for run in runs:
                print(f"{run.day}: {'success' if run.ok else 'FAILED'} in {run.seconds} s "
                      f"{run.error}")  # fmt: skip
            auto = ", ".join(f"{d} {s}" for d, s in airflow.automatic_runs()) or "none"
            print(f"automatic runs of the scheduler's own: {auto}", flush=True)
            while serve:
                time.sleep(1)
    except (KeyboardInterrupt, Terminated):
        return 130
    return 0 if len(runs) == len(days) and all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
