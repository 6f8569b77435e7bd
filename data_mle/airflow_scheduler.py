"""Airflow as it runs in production: a scheduler, a DAG processor and an API server, with the
state in the lake, and days run as a backfill that the scheduler carries out.

    python -m data_mle.airflow_runner --scheduler --from 2026-01-05 --to 2026-01-11
    make airflow                         # the same components, kept up until Ctrl-C

`airflow dags test` (`data_mle.airflow_dag_test`) runs a DAG without a scheduler, which is what a
demo wants: nothing waits for a heartbeat. Here the three components run as children of this
process (each in its own process group, logs in `<lake>/logs/airflow-*.log`):
- the API server also serves the execution API, which the LocalExecutor's task runners report to;
- the DAG processor parses `data_mle/dags` into the metadata database;
- the scheduler creates runs and queues their tasks.

The backfill is created first, then the DAG unpaused (the scheduler queues no task of a paused
DAG). Unpausing makes the scheduler create an automatic run for the latest whole day. Its data
is not in the demo world, whose dates are in the past, so once that day is past its freshness
deadline (6 h after its end) the DAG's sensor fails the run on its first look; before then the
run waits, as it should for a day whose events may still land. Either way it does not hold up
the backfill, whose runs count against the backfill's own `max_active_runs` (1: days run in
order).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Self

from data_mle.airflow_dag_test import DAG_ID
from data_mle.airflow_runner import (
    AIRFLOW,
    airflow_env,
    error_line,
    metadata_query,
    migrate,
    run_seconds,
    task_times,
)
from data_mle.runs import DayRun, why_failed
from shared.lake import Lake
from shared.s3 import free_port
from shared.server import HOST, ChildServer, run_to_end

LOCKED = "database is locked"
FINISHED = ("success", "failed")


class AirflowComponent(ChildServer):
    """`airflow <component>`, ready when `ready_url` answers 200 (or, without one, at once)."""

    grace_s = 20.0

    def __init__(self, component: list[str], env: dict[str, str], ready_url: str | None = None):
        self.name = "airflow-" + component[0]
        self.component, self.ready_url = component, ready_url
        super().__init__(env, start_timeout=180.0)

    def command(self) -> list[str]:
        return [AIRFLOW, *self.component]

    def is_ready(self) -> bool:
        if self.ready_url is None:
            return True
        import httpx

        try:
            return httpx.get(self.ready_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


class Scheduler:
    """The API server, DAG processor and scheduler for one lake, started together.

    with Scheduler(lake) as airflow:
        runs = airflow.backfill([day1, day2])
    """

    def __init__(self, lake: Lake):
        api, health = free_port(), free_port()
        self.lake = lake
        self.api_url = f"http://{HOST}:{api}"
        self.env = {
            **airflow_env(lake),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            # Every component signs and checks the task runners' tokens with the same secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(api),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": HOST,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health),
            "AIRFLOW__CORE__PARALLELISM": "4",  # 2 cores; one day's tasks run one after another
            # A local UI without a login page: every visitor is an admin (loopback only).
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        }
        self.components = [
            AirflowComponent(["api-server", "--workers", "1"], self.env,
                             f"{self.api_url}/api/v2/monitor/health"),
            AirflowComponent(["dag-processor"], self.env),
            AirflowComponent(["scheduler"], self.env, f"http://{HOST}:{health}/health"),
        ]  # fmt: skip
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        migrate(self.lake)
        with ExitStack() as stack:
            # All three start at once: each is a process importing Airflow, and none needs
            # another up to start (tasks reach the API server only once a run is queued).
            # Whatever started is stopped if one of them fails.
            stack.callback(self._each, ChildServer.stop)
            self._each(ChildServer.start)
            self._wait_for_dag()
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _each(self, action: Callable[[ChildServer], object]) -> None:
        """`action` (start or stop) for the three components at once, each in a thread that
        waits on its own process, importing Airflow or shutting down. Start and stop together,
        on an empty lake: 17.7-20.2 s one after another, 14.3-17.1 s at once (three and four
        runs, 2026-12-07)."""
        with ThreadPoolExecutor(len(self.components), thread_name_prefix="airflow") as pool:
            for done in [pool.submit(action, c) for c in self.components]:
                done.result()

    def _query(self, sql: str, *args: object) -> list[tuple]:
        return metadata_query(self.lake, sql, *args)

    def _wait_for_dag(self, timeout_s: float = 120.0) -> None:
        """Until the DAG processor has written the DAG to the database."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", DAG_ID):
                return
            time.sleep(1)
        raise TimeoutError(f"the DAG processor did not parse {DAG_ID} in {timeout_s:.0f} s")

    def _airflow(self, *args: str, attempts: int = 5) -> str:
        """Run an Airflow command; when SQLite refused it a write ("database is locked"), run
        it again, up to `attempts` times.

        The lock wait in the database URL does not cover every refusal: in SQLite's WAL mode, a
        transaction that has read and then writes after another process committed is refused at
        once, without waiting. The scheduler commits every few seconds, and `backfill create`
        reads for a while before it inserts its runs. Airflow undoes a backfill whose runs hit
        the lock ("so the user can retry"), and pausing and unpausing are idempotent, so a
        retry is safe for every command run here."""
        for attempt in range(1, attempts + 1):
            result = run_to_end([AIRFLOW, *args], self.env)
            if result.returncode == 0:
                return result.stdout
            why = error_line(result.stderr)
            if LOCKED not in why or attempt == attempts:
                break
            time.sleep(2.0 * attempt)
        tries = f" (tried {attempt} times)" if attempt > 1 else ""
        raise RuntimeError(f"airflow {args[0]} {args[1]} failed{tries}: {why}")

    def backfill(self, days: list[dt.date], timeout_s: float = 900.0) -> list[DayRun]:
        """Ask for a backfill of `days` (one run at a time, in order), unpause the DAG so the
        scheduler runs it, wait for it, and return a `DayRun` per day that finished."""
        # The backfill first, while the paused DAG keeps the scheduler quiet: unpausing sets
        # it to work on its automatic run, and every commit it makes can refuse the backfill's
        # inserts (see `_airflow`).
        self._airflow(
            "backfill", "create", "--dag-id", DAG_ID, "--from-date", days[0].isoformat(),
            "--to-date", days[-1].isoformat(), "--max-active-runs", "1",
            "--reprocess-behavior", "completed",
        )  # fmt: skip
        self._airflow("dags", "unpause", DAG_ID)
        deadline = time.monotonic() + timeout_s
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = dict(self._query(
                "SELECT date(logical_date), state FROM dag_run "
                "WHERE dag_id = ? AND backfill_id IS NOT NULL", DAG_ID,
            ))  # fmt: skip
            finished = [d for d in days if states.get(d.isoformat()) in FINISHED]
            failed = any(states.get(d.isoformat()) == "failed" for d in days)
            if len(finished) == len(days):
                self._wait_until_backfills_complete(deadline)
                break
            if failed:  # the days after it would read its missing outputs: queue no more
                self._airflow("dags", "pause", DAG_ID)
                break
            time.sleep(1)
        runs = []
        for day in days:
            state = states.get(day.isoformat())
            if state not in FINISHED:
                if runs and not runs[-1].ok:
                    break  # the days after a failed one are not run
                runs.append(
                    DayRun(
                        day,
                        False,
                        0.0,
                        task_times(self.lake, day),
                        f"the backfill's run for {day} did not finish: {state}",
                    )
                )
                break  # fmt: skip
            tasks = task_times(self.lake, day)
            ok = state == "success"
            error = "" if ok else why_failed(self.lake, day, tasks, "")
            runs.append(DayRun(day, ok, run_seconds(self.lake, day), tasks, error))
        return runs

    def _wait_until_backfills_complete(self, deadline: float) -> None:
        """The scheduler marks a backfill complete on one of its loops after the backfill's last
        run has ended, and until then refuses another backfill of the DAG
        (`AlreadyRunningBackfill`): wait for that, so the next `backfill` can start at once."""
        while time.monotonic() < deadline and self._query(
            "SELECT 1 FROM backfill WHERE dag_id = ? AND completed_at IS NULL", DAG_ID
        ):
            time.sleep(0.5)

    def automatic_runs(self) -> list[tuple[str, str]]:
        """(logical date, state) of the runs the scheduler made on its own, not the backfill's."""
        return self._query(
            "SELECT date(logical_date), state FROM dag_run "
            "WHERE dag_id = ? AND run_type = 'scheduled'", DAG_ID,
        )  # fmt: skip
