"""The Step Functions worker: takes a step off the queue, runs it, answers with the task token.

    python -m data_mle.stepfunctions.worker --queue-url URL  # SIGTERM: ends the step in hand, exits

Each Task state of `marquee_daily_etl.asl.json` sends {step, day, heartbeat_seconds, task_token}
to an SQS queue and waits for the token to come back (`sqs:sendMessage.waitForTaskToken`). This
process plays the part an ECS task plays on AWS: it long-polls the queue, runs
`data_mle.steps.run_step`, and answers `SendTaskSuccess` with the step's one-line summary, or
`SendTaskFailure` with an error name the state machine's Retry and Catch match on:

- the `StepError.kind` ("QualityGateFailed", ...) for a verdict on the data: never retried;
- `TransientError` for anything else (a lost connection, a Spark hiccup): retried.

While a step runs, a thread sends `SendTaskHeartbeat` three times per `heartbeat_seconds`. A
worker that dies stops beating, so the state machine times the step out (`States.Timeout`) and
retries it, and the retry goes to whichever worker polls next. The message is deleted as soon as
it is received: from then on the task token, not SQS's redelivery, decides what happens to it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from data_mle.steps import StepError, run_step
from shared.lake import Lake
from shared.settings import get_settings

TRANSIENT_ERROR = "TransientError"  # the error name the Task states' Retry matches
READY_LINE = "waiting for steps on"  # what the runner looks for in the log to know we are up
POLL_WAIT_S = 1  # SQS long poll: a message arrives at once; this bounds how long a stop takes
MAX_CAUSE_CHARS = 32_768  # Step Functions' limit on a failure's cause

log = logging.getLogger("data_mle.stepfunctions.worker")

StepRunner = Callable[[str, dt.date], str]  # (step, day) -> the step's one-line summary


class Stop(Protocol):
    """A threading or a multiprocessing Event."""

    def is_set(self) -> bool: ...


def failure_line(day: dt.date, step: str, error: str, seconds: float, cause: str) -> str:
    """How the worker logs a step it answered with a failure. The runner reads the cause back
    from the log (`runner.logged_failure`): moto 5.2.5 drops `SendTaskFailure`'s cause, which
    AWS passes on to the execution."""
    return f"{day} {step} failed in {seconds:.1f} s: {error}: {cause}"


def run_real_step(step: str, day: dt.date) -> str:
    """The steps themselves, on the lake the environment names (`MARQUEE_LAKE_ROOT`)."""
    return run_step(step, Lake.from_settings(), day)


@dataclass(frozen=True)
class StepTask:
    """What a Task state sends: the step to run, for which day, and how to answer."""

    step: str
    day: dt.date
    heartbeat_seconds: int
    task_token: str

    @classmethod
    def from_message(cls, body: str) -> StepTask:
        raw = json.loads(body)
        return cls(
            step=raw["step"],
            day=dt.date.fromisoformat(raw["day"]),
            heartbeat_seconds=int(raw["heartbeat_seconds"]),
            task_token=raw["task_token"],
        )


def client(service: str) -> Any:
    """A boto3 client for whatever the environment points at (moto or AWS)."""
    import boto3

    return boto3.client(service, region_name=get_settings().aws_region)


def _beat(sfn: Any, task: StepTask, stop: threading.Event) -> None:
    """Send heartbeats until `stop`, three per `heartbeat_seconds`: one late beat is no timeout."""
    interval = max(task.heartbeat_seconds / 3, 0.2)
    while not stop.is_set():
        try:
            sfn.send_task_heartbeat(taskToken=task.task_token)
        except Exception as error:  # timed out meanwhile, or a glitch: keep working. (moto
            # refuses a beat that comes before the Task starts waiting; the next one counts.)
            log.warning("%s %s: heartbeat refused: %s", task.day, task.step, error)
        stop.wait(interval)


def handle(sfn: Any, task: StepTask, run: StepRunner) -> None:
    """Run one step while a thread sends heartbeats, then answer with its task token."""
    started = time.perf_counter()
    stop = threading.Event()
    beats = threading.Thread(target=_beat, args=(sfn, task, stop), daemon=True)
    beats.start()
    error, cause = None, ""
    try:
        summary = run(task.step, task.day)
    except StepError as failure:
        error = failure.kind if failure.permanent else TRANSIENT_ERROR
        cause = failure.message
    except Exception as failure:
        error, cause = TRANSIENT_ERROR, f"{type(failure).__name__}: {failure}"
    finally:
        stop.set()
        beats.join()  # no heartbeat after the answer: AWS would refuse it
    seconds = time.perf_counter() - started
    try:
        if error is None:
            sfn.send_task_success(taskToken=task.task_token, output=json.dumps(summary))
            log.info("%s %s: ok in %.1f s: %s", task.day, task.step, seconds, summary)
        else:
            sfn.send_task_failure(
                taskToken=task.task_token, error=error, cause=cause[:MAX_CAUSE_CHARS]
            )
            log.info("%s", failure_line(task.day, task.step, error, seconds, cause))
    except Exception as refused:  # timed out already: the state machine has moved on
        log.warning("%s %s: answer refused: %s", task.day, task.step, refused)


def serve(queue_url: str, run: StepRunner = run_real_step, stop: Stop | None = None) -> None:
    """Take steps off `queue_url` one at a time and run them with `run` until `stop` is set.
    A stop lets the poll in flight end and the step it brings run: a poll cut short could
    still take a message, which would then wait for its heartbeat to time out. Tests pass a
    `run` that fails or hangs; the real worker runs `data_mle.steps`."""
    stop = stop or threading.Event()
    sqs, sfn = client("sqs"), client("stepfunctions")
    log.info("%s %s", READY_LINE, queue_url)
    while not stop.is_set():
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=POLL_WAIT_S
        )
        for message in received.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            handle(sfn, StepTask.from_message(message["Body"]), run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_mle.stepfunctions.worker", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--queue-url", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stdout)
    log.setLevel(logging.INFO)  # our steps, not boto's chatter
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())  # finish, then exit
    with contextlib.suppress(KeyboardInterrupt):  # a step cut short is timed out and retried
        serve(args.queue_url, stop=stop)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
