"""Airflow's metadata database under contention: every Airflow process waits for another's write
lock instead of failing with "database is locked", and a failed Airflow command is reported by
the exception it raised, not by the tail of a SQL statement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_mle.airflow_runner import LOCK_WAIT_S, airflow_env, error_line
from shared.lake import Lake

ENGINES = """
import json
from airflow import settings
settings.configure_orm()
sync = settings.engine.dialect.create_connect_args(settings.engine.url)[1]
aio = settings.async_engine.dialect.create_connect_args(settings.async_engine.url)[1]
print(json.dumps({"sync": sync.get("timeout"), "async": aio.get("timeout")}))
"""


def test_every_airflow_engine_waits_for_the_lock(tmp_path):
    env = airflow_env(Lake(tmp_path))
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-c", ENGINES], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    timeouts = json.loads(result.stdout.strip().splitlines()[-1])
    assert timeouts == {"sync": LOCK_WAIT_S, "async": LOCK_WAIT_S}
    assert LOCK_WAIT_S >= 30  # sqlite3's own default, 5 s, is what failed a CI run


SQLALCHEMY_FAILURE = """\
Traceback (most recent call last):
  File "airflow/cli/commands/backfill_command.py", line 95, in create_backfill
sqlite3.OperationalError: database is locked

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "sqlalchemy/engine/base.py", line 1967, in _exec_single_context
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked
[SQL: INSERT INTO dag_run (dag_id, queued_at, logical_date) VALUES (?, ?, ?) RETURNING id]
[parameters: ('marquee_daily_etl', '2026-12-06 22:11:51', '2026-01-05 00:00:00')]
(Background on this error at: https://sqlalche.me/e/21/e3q8)
"""


def test_a_failed_airflow_command_is_reported_by_its_exception():
    assert error_line(SQLALCHEMY_FAILURE) == (
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked"
    )
    assert error_line("airflow.exceptions.AirflowSensorTimeout: no raw events\n") == (
        "airflow.exceptions.AirflowSensorTimeout: no raw events"
    )
    # Without a line that names an exception, the tail of the output is the best there is.
    assert error_line("usage: airflow backfill create [-h]\nerror: bad date") == (
        "usage: airflow backfill create [-h]\nerror: bad date"
    )


class FakeAirflow:
    """Stands in for `run_to_end`: answers each call with the next of `outcomes` (stderr text,
    or "" for success) and records the commands."""

    def __init__(self, *outcomes: str) -> None:
        self.outcomes, self.commands = list(outcomes), []

    def __call__(self, command, env, timeout_s=None):
        self.commands.append(command[1:])
        stderr = self.outcomes.pop(0)
        return subprocess.CompletedProcess(command, 1 if stderr else 0, "done", stderr)


LOCKED = "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked\n"


def _scheduler(tmp_path, monkeypatch, fake: FakeAirflow):
    from data_mle import airflow_scheduler

    monkeypatch.setattr(airflow_scheduler, "run_to_end", fake)
    monkeypatch.setattr(airflow_scheduler.time, "sleep", lambda s: None)
    return airflow_scheduler.Scheduler(Lake(tmp_path))


def test_a_command_refused_by_the_lock_is_run_again(tmp_path, monkeypatch):
    fake = FakeAirflow(LOCKED, LOCKED, "")
    scheduler = _scheduler(tmp_path, monkeypatch, fake)
    assert scheduler._airflow("backfill", "create", "--dag-id", "d") == "done"
    assert fake.commands == [["backfill", "create", "--dag-id", "d"]] * 3


def test_other_failures_and_a_lock_that_never_frees_are_not_retried_forever(tmp_path, monkeypatch):
    fake = FakeAirflow("airflow.exceptions.DagNotFound: Could not find dag d\n", *[LOCKED] * 5)
    scheduler = _scheduler(tmp_path, monkeypatch, fake)
    with pytest.raises(RuntimeError, match=r"^airflow dags unpause failed: .*DagNotFound"):
        scheduler._airflow("dags", "unpause", "d")
    assert len(fake.commands) == 1
    with pytest.raises(RuntimeError, match=r"failed \(tried 5 times\): .*database is locked"):
        scheduler._airflow("dags", "pause", "d")
    assert len(fake.commands) == 6
