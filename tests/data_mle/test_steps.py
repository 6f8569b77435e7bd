"""The Spark sessions of a process's steps: through Spark Connect, steps run back to back share
one (a new session's first query costs the server more); a failed step's session is closed, so
its retry starts afresh; a session on another server, or idle too long, is not used; a local
session is stopped after each step, as a job of its own would stop it."""

from __future__ import annotations

import datetime as dt
import traceback

import pytest

import shared.spark
from data_mle import steps
from shared.lake import Lake
from shared.spark import SparkConnectionError

DAY = dt.date(2026, 1, 6)


class FakeSession:
    def __init__(self, number: int):
        self.number, self.stopped, self.released = number, False, None
        self.release_session_on_close = True

    def stop(self) -> None:
        self.stopped, self.released = True, self.release_session_on_close


class Steps:
    """`run_step` with its Spark jobs and sessions replaced: which session each step got."""

    def __init__(self, monkeypatch, tmp_path):
        self.made: list[FakeSession] = []
        self.used: list[FakeSession] = []
        self.remote: str | None = "sc://127.0.0.1:15002"
        self.reachable = True  # whether the server answers a connection
        self.failing = False
        self.lake = Lake(tmp_path / "lake")
        monkeypatch.setattr(shared.spark, "spark_session", self._new_session)
        monkeypatch.setattr(shared.spark, "spark_remote", lambda: self.remote)
        monkeypatch.setattr(shared.spark, "connect_reachable", lambda url: self.reachable)
        monkeypatch.setattr(steps, "_kept", None)
        jobs = {name: (self._job, str) for name in steps.STEPS if name != "land"}
        monkeypatch.setattr(steps, "_spark_jobs", lambda: jobs)

    def _new_session(self, name: str) -> FakeSession:
        self.made.append(FakeSession(len(self.made)))
        return self.made[-1]

    def _job(self, spark, lake, day):
        self.used.append(spark)
        if self.failing:
            raise ConnectionError("the server went away")
        return "done"

    def run(self, name: str) -> FakeSession:
        steps.run_step(name, self.lake, DAY)
        return self.used[-1]


@pytest.fixture
def fake(monkeypatch, tmp_path) -> Steps:
    return Steps(monkeypatch, tmp_path)


def test_steps_run_back_to_back_share_one_connect_session(fake):
    first = fake.run("ingest")
    assert fake.run("quality_gates") is first and fake.run("features") is first
    assert len(fake.made) == 1 and not first.stopped, "the session stays open between steps"


def test_a_failed_step_closes_its_session_and_the_retry_gets_a_new_one(fake):
    kept = fake.run("ingest")
    fake.failing = True
    with pytest.raises(ConnectionError):
        fake.run("quality_gates")
    assert fake.used[-1] is kept and kept.stopped and kept.released
    fake.failing = False
    retry = fake.run("quality_gates")
    assert retry is not kept and not retry.stopped


def test_a_step_whose_server_is_gone_says_so_and_does_not_wait_to_release_its_session(fake):
    kept = fake.run("ingest")
    fake.failing, fake.reachable = True, False  # the server died during the next step
    with pytest.raises(
        SparkConnectionError, match="sc://127.0.0.1:15002 does not answer"
    ) as raised:
        fake.run("quality_gates")
    assert not isinstance(raised.value, steps.StepError), "transient: an orchestrator retries"
    assert isinstance(raised.value.__cause__, ConnectionError), "the client's error is kept"
    assert kept.stopped and kept.released is False, "a gone server is not asked to release"
    fake.failing, fake.reachable = False, True  # back: the retry gets a new session
    assert fake.run("quality_gates") is not kept


def test_a_failure_on_a_server_that_answers_passes_through_as_it_is(fake):
    fake.failing = True
    with pytest.raises(ConnectionError, match="the server went away") as raised:
        fake.run("ingest")
    assert not isinstance(raised.value, SparkConnectionError)


def test_a_session_on_another_server_is_closed_without_asking_that_server(fake):
    old = fake.run("ingest")
    fake.remote = "sc://127.0.0.1:16002"  # a new server: the old one may be gone
    new = fake.run("ingest")
    assert new is not old and old.stopped and old.released is False
    assert not new.stopped


def test_a_session_left_idle_too_long_is_released_and_replaced(fake, monkeypatch):
    old = fake.run("ingest")
    monkeypatch.setattr(steps, "SESSION_IDLE_S", 0.0)
    new = fake.run("quality_gates")
    assert new is not old and old.stopped and old.released is True


def test_a_local_session_is_stopped_after_each_step(fake):
    fake.remote = None
    first, second = fake.run("ingest"), fake.run("quality_gates")
    assert first is not second and first.stopped and second.stopped


class SparkConnectGrpcException(Exception):
    """Stands for pyspark's, whose message is the gRPC status over several lines."""


def test_a_gone_servers_step_is_reported_by_its_one_line_not_by_the_clients_trace(tmp_path):
    from data_mle.runs import why_failed

    url = "sc://127.0.0.1:15002"
    try:
        try:
            raise SparkConnectGrpcException(
                "<_InactiveRpcError of RPC that terminated with:\n\tstatus = UNAVAILABLE\n\t"
                'details = "failed to connect to all addresses; last error: UNKNOWN"'
            )
        except SparkConnectGrpcException as client_error:
            raise SparkConnectionError(url) from client_error
    except SparkConnectionError as error:
        output = "".join(traceback.format_exception(error))  # as a task's log shows it
    failed = {"land": {"state": "success"}, "ingest": {"state": "failed"}}
    why = why_failed(Lake(tmp_path / "lake"), DAY, failed, output)
    assert why.startswith(f"ingest failed: shared.spark.SparkConnectionError: the Spark Connect "
                          f"server {url} does not answer"), why  # fmt: skip
