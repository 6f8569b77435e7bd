"""Run `marquee_daily_etl` as a Step Functions state machine, day by day, with a local worker.

    python -m data_mle.stepfunctions.runner --from 2026-01-05 --to 2026-01-11

Creates (or updates) the state machine from `marquee_daily_etl.asl.json` and the queue its Task
states send steps to, starts a worker process (`worker.py`, the part an ECS service plays on
AWS; its log is `<lake>/logs/stepfunctions-worker.log`), and runs one execution per day, in
order, stopping at the first day that fails: each day's gates and features build on the days
before. Each day comes back as a `data_mle.runs.DayRun`, with every step's state, attempts and
seconds read from the execution's history, as the Airflow runner reads them from Airflow's.

With `AWS_ENDPOINT_URL` set (moto: `python -m shared.s3 serve`) the runner first switches on
moto's state-machine interpreter. moto checks no IAM role, and keeps its state machines and
executions in memory. The steps find Spark through `MARQUEE_SPARK_REMOTE` and the lake through
`MARQUEE_LAKE_ROOT`, which the worker inherits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from data_mle.runs import DayRun, why_failed
from data_mle.stepfunctions.worker import READY_LINE, client
from data_mle.steps import STEPS
from shared.lake import Lake
from shared.s3 import execute_state_machines
from shared.server import ChildServer, sigterm_exits

STATE_MACHINE = "marquee_daily_etl"
QUEUE = "marquee-daily-etl-steps"
DEFINITION = Path(__file__).with_name("marquee_daily_etl.asl.json")
# moto checks no IAM; on AWS, the role that lets the state machine send to the queue.
ROLE_ARN = "arn:aws:iam::123456789012:role/marquee-stepfunctions"
# A live worker beats every 7 s; a dead worker's step is timed out and retried after 20 s.
HEARTBEAT_S = 20
POLL_S = 0.1  # how often we ask whether an execution has ended: cheap, and adds < 0.1 s a day


@dataclass(frozen=True)
class Deployment:
    """The state machine and the queue its Task states send steps to."""

    machine_arn: str
    queue_url: str


def deploy(definition: Path = DEFINITION) -> Deployment:
    """Create the queue and create or update the state machine (both idempotent)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        execute_state_machines(endpoint)  # before creating it: moto keeps them apart
    queue_url = client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
    sfn = client("stepfunctions")
    text = definition.read_text()
    existing = {
        m["name"]: m["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
    }
    if STATE_MACHINE in existing:
        sfn.update_state_machine(stateMachineArn=existing[STATE_MACHINE], definition=text)
        return Deployment(existing[STATE_MACHINE], queue_url)
    created = sfn.create_state_machine(name=STATE_MACHINE, definition=text, roleArn=ROLE_ARN)
    return Deployment(created["stateMachineArn"], queue_url)


def history(execution_arn: str) -> list[dict]:
    sfn = client("stepfunctions")
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def step_times(events: list[dict]) -> dict[str, dict]:
    """Each step's state ("success" or "failed", as Airflow says), attempts and seconds, from
    the history: a step is the Parallel state named for it, from entered to exited (or to its
    last event, when it never exited); each attempt is a TaskScheduled inside it."""
    steps: dict[str, dict] = {}
    current, entered = None, None
    for event in events:
        kind, at = event["type"], event["timestamp"]
        name = (event.get("stateEnteredEventDetails") or {}).get("name")
        if kind.endswith("StateEntered") and name in STEPS:
            current, entered = name, at
            steps[current] = {"state": "running", "attempts": 0, "seconds": 0.0}
        if current is None:
            continue
        step = steps[current]
        if kind == "TaskScheduled":
            step["attempts"] += 1
        elif kind == "TaskSucceeded":
            step["state"] = "success"
        elif kind in ("TaskFailed", "TaskTimedOut"):
            step["state"] = "failed"
        step["seconds"] = round((at - entered).total_seconds(), 2)
        if kind.endswith("StateExited") and event["stateExitedEventDetails"]["name"] == current:
            current = None
    return steps


def logged_failure(worker_log: Path, day: dt.date, step: str) -> str:
    """`error: cause` of the last failure of `step` on `day` that the worker logged
    (`worker.failure_line`; the cause's first line), or "" when it logged none."""
    if not worker_log.is_file():
        return ""
    line = re.compile(rf"(?:^| ){day} {re.escape(step)} failed in [0-9.]+ s: (.*)$")
    for text in reversed(worker_log.read_text(errors="replace").splitlines()):
        if found := line.search(text):
            return found.group(1)
    return ""


def _reason(
    lake: Lake, day: dt.date, tasks: dict[str, dict], failed: dict, worker_log: Path | None
) -> str:
    """Why an execution failed: the execution's error and cause. moto 5.2.5 drops
    `SendTaskFailure`'s cause (AWS passes it on); without it, a failed gate's messages come
    from the day's quality report, and any other step's from the worker's log."""
    error, cause = failed.get("error", ""), failed.get("cause", "")
    if error == "QualityGateFailed" and not cause:
        return why_failed(lake, day, tasks, "")
    step = next((name for name, t in tasks.items() if t["state"] == "failed"), "the run")
    if not cause and worker_log is not None and (logged := logged_failure(worker_log, day, step)):
        if logged.startswith(f"{error}: "):
            return f"{step} failed: {logged}"
        return f"{step} failed: {error}; the worker's last answer: {logged}"
    return f"{step} failed: {error}" + (f": {cause}" if cause else "")


def run_day(
    deployment: Deployment,
    lake: Lake,
    day: dt.date,
    heartbeat_s: int = HEARTBEAT_S,
    while_running: Callable[[], None] = lambda: None,
    worker_log: Path | None = None,
) -> DayRun:
    """One execution for `day`, waited for. `while_running` is called at every poll: the
    runner restarts a dead worker with it, as an ECS service would. `worker_log`: where a
    failed step's cause is read when the execution lost it (see `_reason`)."""
    sfn = client("stepfunctions")
    started = time.perf_counter()
    execution = sfn.start_execution(
        stateMachineArn=deployment.machine_arn,
        name=f"{day}-{uuid.uuid4().hex[:8]}",  # unique: a day may be run again
        input=json.dumps(
            {"day": day.isoformat(), "queue_url": deployment.queue_url,
             "heartbeat_seconds": heartbeat_s}
        ),
    )["executionArn"]  # fmt: skip
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        while_running()
        time.sleep(POLL_S)
    seconds = time.perf_counter() - started
    events = history(execution)
    tasks = step_times(events)
    ok = status == "SUCCEEDED"
    failed = next(
        (e["executionFailedEventDetails"] for e in events if e["type"] == "ExecutionFailed"), {}
    )
    error = "" if ok else _reason(lake, day, tasks, failed or {"error": status}, worker_log)
    return DayRun(day, ok, round(seconds, 1), tasks, error)


class StepWorker(ChildServer):
    """`python -m data_mle.stepfunctions.worker` in a child process, ready once it polls."""

    name = "stepfunctions-worker"
    grace_s = 5.0  # a step cut short is retried by the state machine: no need to wait long

    def __init__(self, queue_url: str, env: dict[str, str]):
        super().__init__(env, start_timeout=60.0)
        self.queue_url = queue_url

    def command(self) -> list[str]:
        return [sys.executable, "-m", "data_mle.stepfunctions.worker", "--queue-url",
                self.queue_url]  # fmt: skip

    def is_ready(self) -> bool:
        return READY_LINE in self.tail(lines=20)

    def keep_alive(self) -> None:
        """Start a new worker if this one died: its step is timed out and retried."""
        if not self.running:
            self.start()


@contextmanager
def pipeline(lake: Lake) -> Iterator[Callable[[dt.date], DayRun]]:
    """Deploy, start a worker, and give a function that runs one day; the worker stops on exit.

    with pipeline(lake) as run_day:
        print(run_day(dt.date(2026, 1, 5)))
    """
    deployment = deploy()
    env = {**os.environ, "MARQUEE_LAKE_ROOT": str(lake.root)}
    with StepWorker(deployment.queue_url, env) as worker:
        yield lambda day: run_day(
            deployment, lake, day, while_running=worker.keep_alive, worker_log=worker.log_path
        )


def run_days(lake: Lake, days: Iterable[dt.date]) -> list[DayRun]:
    """Run `days` in order, one execution each, stopping after the first that fails."""
    runs: list[DayRun] = []
    with pipeline(lake) as run:
        for day in days:
            runs.append(run(day))
            if not runs[-1].ok:
                break
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_mle.stepfunctions.runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    days = [args.start + dt.timedelta(days=k) for k in range((args.end - args.start).days + 1)]
    with sigterm_exits():  # SIGTERM unwinds like Ctrl-C: the worker stops with us
        runs = run_days(Lake.from_settings(), days)
    for run in runs:
        steps = ", ".join(f"{name} {t['seconds']} s" for name, t in run.tasks.items())
        print(f"{run.day}: {'success' if run.ok else 'FAILED'} in {run.seconds} s ({steps}) "
              f"{run.error}")  # fmt: skip
    return 0 if runs and all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
