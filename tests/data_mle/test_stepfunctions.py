"""The Step Functions version of the pipeline, executed by moto's interpreter: a clean day runs
every step; a failed gate ends in the Fail state without a retry; a transient failure and a
worker killed mid-step are retried; and the real steps process a tiny day end to end.

The failure tests run the worker's serve loop with an injected step runner in a child process,
so they need no Spark and take seconds; one test runs the real steps with Spark Connect."""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from data_mle.stepfunctions import runner as sfn_runner
from data_mle.stepfunctions.runner import (
    DEFINITION,
    Deployment,
    deploy,
    history,
    logged_failure,
    run_day,
)
from data_mle.stepfunctions.worker import StepRunner, failure_line, serve
from data_mle.steps import STEPS, StepError
from shared.lake import Lake
from shared.settings import environment
from shared.spark import SparkConnectionError

DAY = dt.date(2026, 1, 5)
GATE_MESSAGE = "volume: rows / mean of 7 trailing days = 0.47, allowed 0.5-2.0: FAILED"
HEARTBEAT_S = 2  # short, so a dead worker's step is retried within seconds


def summary(step: str, day: dt.date) -> str:
    return f"{step} {day}: done"


def gate_trips(step: str, day: dt.date) -> str:
    if step == "quality_gates":
        raise StepError(step, GATE_MESSAGE, permanent=True, kind="QualityGateFailed")
    return summary(step, day)


def ingest_fails_once(step: str, day: dt.date) -> str:
    """A lost connection on the first try of the ingest (the worker process keeps the count)."""
    if step == "ingest" and not getattr(ingest_fails_once, "failed", False):
        ingest_fails_once.failed = True
        raise ConnectionResetError("the Spark Connect server went away")
    return summary(step, day)


def ingest_never_reaches_spark(step: str, day: dt.date) -> str:
    if step == "ingest":
        raise SparkConnectionError("sc://127.0.0.1:15002")
    return summary(step, day)


@contextmanager
def worker_log(path: Path) -> Iterator[Path]:
    """The worker's log written to `path` (the forked worker inherits the handler), as
    `StepWorker` has it written to `<lake>/logs/`."""
    logger = logging.getLogger("data_mle.stepfunctions.worker")
    handler, level = logging.FileHandler(path), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def ingest_hangs(marker: Path) -> StepRunner:
    def run(step: str, day: dt.date) -> str:
        if step == "ingest":
            marker.touch()  # tell the test we are inside the step: now kill us
            time.sleep(3600)
        return summary(step, day)

    return run


class Worker:
    """The worker's serve loop with `run` as its steps, in a forked child process. Stopped, it
    ends its poll first: one killed while polling could take the next test's message."""

    def __init__(self, deployment: Deployment, run: StepRunner):
        context = multiprocessing.get_context("fork")
        self.stop = context.Event()
        self.process = context.Process(
            target=serve, args=(deployment.queue_url, run, self.stop), daemon=True
        )
        self.process.start()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.process.join(timeout=10)
        self.process.kill()


@pytest.fixture(scope="module")
def moto(tmp_path_factory) -> Iterator[None]:
    """One moto server for the fast tests, its log in a lake of its own."""
    from shared.s3 import MotoServer

    root = tmp_path_factory.mktemp("moto-lake")
    with environment(MARQUEE_LAKE_ROOT=str(root)), MotoServer():
        yield


@pytest.fixture
def deployment(moto) -> Deployment:
    return deploy()


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(tmp_path / "lake")


def states_entered(execution_events: list[dict]) -> list[str]:
    """The top-level states an execution went through (the steps, not the Tasks inside)."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in execution_events
        if e["type"].endswith("StateEntered") and not e["type"].startswith("Task")
    ]


def last_execution() -> str:
    from data_mle.stepfunctions.worker import client

    sfn = client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    return max(executions, key=lambda e: e["startDate"])["executionArn"]


def test_the_definition_runs_every_step_in_order_with_retries():
    definition = json.loads(DEFINITION.read_text())
    states = definition["States"]
    order = [definition["StartAt"]]
    while "Next" in states[order[-1]]:
        order.append(states[order[-1]]["Next"])
    assert tuple(order) == STEPS and states[order[-1]]["End"]
    for step in STEPS:
        (branch,) = states[step]["Branches"]
        (task,) = branch["States"].values()
        assert task["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        assert task["Parameters"]["MessageBody"]["step"] == step
        assert task["Parameters"]["MessageBody"]["task_token.$"] == "$$.Task.Token"
        assert task["HeartbeatSecondsPath"] == "$.heartbeat_seconds"
        (retry_timeout,) = task["Retry"]
        (retry_transient,) = states[step]["Retry"]
        assert retry_timeout["ErrorEquals"] == ["States.Timeout"]
        assert retry_transient["ErrorEquals"] == ["TransientError"]
        assert retry_timeout["MaxAttempts"] == retry_transient["MaxAttempts"] == 2
    (catch,) = states["quality_gates"]["Catch"]
    assert catch["ErrorEquals"] == ["QualityGateFailed"]
    assert states[catch["Next"]]["Type"] == "Fail"


@pytest.mark.slow
def test_a_clean_day_succeeds_with_every_step_in_the_history(deployment, lake):
    with Worker(deployment, summary):
        run = run_day(deployment, lake, DAY, heartbeat_s=HEARTBEAT_S)
    assert run.ok, run.error
    assert list(run.tasks) == list(STEPS)
    assert all(t["state"] == "success" and t["attempts"] == 1 for t in run.tasks.values())
    assert states_entered(history(last_execution())) == list(STEPS)
    assert run.seconds < 5, "the orchestration itself costs little per step"


@pytest.mark.slow
def test_a_tripped_gate_fails_the_day_in_the_fail_state_without_a_retry(deployment, lake):
    with Worker(deployment, gate_trips):
        run = run_day(deployment, lake, DAY, heartbeat_s=HEARTBEAT_S)
    assert not run.ok
    assert list(run.tasks) == ["land", "ingest", "quality_gates"], "nothing after the gates"
    assert run.tasks["quality_gates"] | {"seconds": 0} == {
        "state": "failed", "attempts": 1, "seconds": 0
    }  # fmt: skip
    events = history(last_execution())
    assert states_entered(events)[-1] == "QualityGateFailed"
    (failed,) = [e["executionFailedEventDetails"] for e in events if e["type"] == "ExecutionFailed"]
    assert failed["error"] == "QualityGateFailed"
    # moto 5.2.5 drops SendTaskFailure's cause; AWS passes it to the Fail state's CausePath.
    assert failed.get("cause", "") in ("", GATE_MESSAGE)
    assert run.error.startswith("quality_gates failed")


@pytest.mark.slow
def test_a_transient_failure_is_retried_then_the_day_succeeds(deployment, lake):
    with Worker(deployment, ingest_fails_once):
        run = run_day(deployment, lake, DAY, heartbeat_s=HEARTBEAT_S)
    assert run.ok, run.error
    assert run.tasks["ingest"]["attempts"] == 2 and run.tasks["ingest"]["state"] == "success"
    assert all(t["attempts"] == 1 for name, t in run.tasks.items() if name != "ingest")
    failures = [e for e in history(last_execution()) if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["TransientError"]


@pytest.mark.slow
def test_a_step_that_keeps_failing_fails_the_day_with_the_workers_cause(deployment, lake, tmp_path):
    with worker_log(tmp_path / "worker.log") as log, Worker(deployment, ingest_never_reaches_spark):
        run = run_day(deployment, lake, DAY, heartbeat_s=HEARTBEAT_S, worker_log=log)
    assert not run.ok and run.tasks["ingest"]["state"] == "failed"
    assert run.tasks["ingest"]["attempts"] == 3, "the first try and the state's two retries"
    # moto 5.2.5 loses the cause on the way to the execution; the worker's log has it.
    assert run.error.startswith("ingest failed: TransientError: SparkConnectionError: "), run.error
    assert "sc://127.0.0.1:15002 does not answer" in run.error


def test_the_runner_reads_the_last_failure_of_the_step_the_worker_logged(tmp_path):
    log, other = tmp_path / "worker.log", DAY + dt.timedelta(days=1)
    log.write_text(
        "\n".join(
            f"2026-12-07 19:00:0{k} {line}"
            for k, line in enumerate(
                [
                    failure_line(
                        DAY, "ingest", "TransientError", 1.0, "ConnectionError: first try"
                    ),
                    failure_line(DAY, "ingest", "TransientError", 2.0, "ConnectionError: last try"),
                    failure_line(DAY, "features", "TransientError", 1.0, "OSError: another step"),
                    failure_line(other, "ingest", "TransientError", 1.0, "OSError: another day"),
                    f"{DAY} publish: ok in 1.0 s: published 14 objects",
                ]
            )
        )
        + "\n  a traceback's second line\n"
    )
    assert logged_failure(log, DAY, "ingest") == "TransientError: ConnectionError: last try"
    assert logged_failure(log, DAY, "publish") == "", "a step that succeeded has no failure"
    assert logged_failure(tmp_path / "no-such.log", DAY, "ingest") == ""


@pytest.mark.slow
def test_a_worker_killed_mid_step_is_timed_out_by_its_heartbeat_and_retried(
    deployment, lake, tmp_path
):
    marker = tmp_path / "inside-ingest"
    workers = [Worker(deployment, ingest_hangs(marker))]

    def kill_then_replace() -> None:
        """SIGKILL the worker once it is inside the ingest; start a healthy one after it."""
        if marker.exists() and len(workers) == 1:
            os.kill(workers[0].process.pid, signal.SIGKILL)
            workers[0].process.join()
            workers.append(Worker(deployment, summary))

    try:
        run = run_day(deployment, lake, DAY, HEARTBEAT_S, while_running=kill_then_replace)
    finally:
        for each in workers:
            each.__exit__()
    assert len(workers) == 2 and workers[0].process.exitcode == -signal.SIGKILL
    assert run.ok, run.error
    assert run.tasks["ingest"]["attempts"] == 2
    assert run.tasks["ingest"]["seconds"] >= HEARTBEAT_S, "the retry waited for the heartbeat"
    timed_out = [e for e in history(last_execution()) if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]


@pytest.mark.slow
def test_the_real_steps_process_a_tiny_day_end_to_end(pipeline_lake):
    from shared.lake import ONLINE_SNAPSHOT
    from shared.s3 import list_keys
    from shared.storage import verify_partition

    lake = pipeline_lake
    (run,) = sfn_runner.run_days(lake, [DAY])
    published = list_keys("marquee-lake", "gold/")
    assert run.ok, run.error
    assert list(run.tasks) == list(STEPS)
    assert all(t["state"] == "success" for t in run.tasks.values())
    assert verify_partition(lake.bronze_events(DAY))["reconciliation"]["reconciled"]
    assert f"{ONLINE_SNAPSHOT.key(DAY + dt.timedelta(days=1))}/_manifest.json" in published
    assert (lake.root / "logs" / "stepfunctions-worker.log").exists()
