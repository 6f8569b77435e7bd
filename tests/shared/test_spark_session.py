"""The JVM settings every Spark of the project starts with: local sessions, the Connect server,
and the class archive they map (`shared.spark_classes`)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import shared.spark
import shared.spark_classes
from data_mle.connect import SparkConnectServer
from shared.s3 import free_port
from shared.settings import REPO_ROOT
from shared.spark import (
    CLASS_ARCHIVE,
    DRIVER_MEMORY,
    GC_OPTIONS,
    SPARK_SUBMIT,
    connect_reachable,
    connect_retry_wait_s,
    driver_java_options,
)


def test_a_local_session_runs_the_parallel_collector(spark):
    beans = spark._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    names = {bean.getName() for bean in beans}
    assert names == {"PS Scavenge", "PS MarkSweep"}, names  # G1 would be "G1 Young Generation"


def test_a_local_session_maps_the_environments_class_archive(spark):
    runtime = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    assert f"-XX:SharedArchiveFile={CLASS_ARCHIVE}" in list(runtime.getInputArguments())


def test_the_connect_server_starts_its_jvm_with_the_same_options():
    command = SparkConnectServer(port=15999).command()
    assert command[command.index("--driver-java-options") + 1] == driver_java_options()
    assert command[command.index("--driver-memory") + 1] == DRIVER_MEMORY


def test_the_options_name_an_archive_only_where_there_is_one(monkeypatch, tmp_path):
    archive = tmp_path / "a dir" / "spark-classes.jsa"
    monkeypatch.setattr(shared.spark, "CLASS_ARCHIVE", archive)
    assert driver_java_options() == GC_OPTIONS
    archive.parent.mkdir()
    archive.write_bytes(b"")
    # Quoted as a shell would, which is how Spark splits these options.
    assert driver_java_options() == (
        f"{GC_OPTIONS} -XX:SharedArchiveFile='{archive}' -Xlog:cds=off,cds+dynamic=off"
    )


def test_make_setup_writes_the_archive_where_sessions_look_for_it():
    made = re.search(
        r"^SPARK_CLASSES := \$\(VENV\)/(\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M
    )
    assert made, "the Makefile names no SPARK_CLASSES"
    assert Path(sys.prefix) / made.group(1) == CLASS_ARCHIVE


def test_the_archive_serves_sparks_classes_to_its_launcher():
    """`-Xshare:on` makes a JVM refuse to start rather than ignore an archive it cannot map; the
    class log says where each class came from."""
    assert CLASS_ARCHIVE.is_file(), f"no {CLASS_ARCHIVE}: `make setup` writes it"
    env = {
        **os.environ,
        "PATH": f"{Path(SPARK_SUBMIT).parent}{os.pathsep}{os.environ['PATH']}",
        "SPARK_SUBMIT_OPTS": f"-Xshare:on -XX:SharedArchiveFile={CLASS_ARCHIVE} "
        "-Xlog:class+load=info",
    }
    done = subprocess.run(
        [SPARK_SUBMIT, "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shown = done.stdout + done.stderr
    assert "org.apache.spark.deploy.SparkSubmit source: shared objects file (top)" in shown


def test_a_failed_build_keeps_the_archive_there_was(monkeypatch, tmp_path):
    archive = tmp_path / "spark-classes.jsa"
    archive.write_bytes(b"the one that works")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    failing = bin_dir / "spark-submit"
    failing.write_text("#!/bin/sh\necho 'no JVM today' >&2\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setattr(shared.spark_classes, "SPARK_SUBMIT", str(failing))
    with pytest.raises(RuntimeError, match=r"(?s)not written \(exit 3\).*no JVM today"):
        shared.spark_classes.build(archive)
    assert archive.read_bytes() == b"the one that works"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "spark-classes.jsa"]


def test_a_connect_client_gives_up_on_a_gone_server_in_seconds_not_minutes(monkeypatch):
    # A server restart here takes seconds; more is for the orchestrator's retries.
    assert 5 <= connect_retry_wait_s() <= 30, connect_retry_wait_s()
    monkeypatch.setattr(shared.spark, "CONNECT_RETRY", {})  # pyspark's own default policy
    assert connect_retry_wait_s() >= 600, "pyspark documents at least 10 minutes"


GONE_SERVER = """
import time, shared.spark
shared.spark.CONNECT_RETRY = {"max_retries": 2, "max_backoff": 100}  # the wiring, not the wait
start = time.monotonic()
try:
    shared.spark.spark_session("gone")
except shared.spark.SparkConnectionError as error:
    print(f"{time.monotonic() - start:.1f}", error)
"""


@pytest.mark.slow
def test_a_session_on_a_server_that_is_not_there_fails_with_its_retries_in_one_line():
    url = f"sc://127.0.0.1:{free_port()}"  # nothing listens there
    assert not connect_reachable(url)
    env = {**os.environ, "MARQUEE_SPARK_REMOTE": url}
    out = subprocess.run(
        [sys.executable, "-c", GONE_SERVER], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout, out.stderr[-2000:]
    took, message = out.stdout.strip().split(" ", 1)
    assert float(took) < 10, f"the session's own retry policy was not used: {took} s"
    assert message.startswith(f"the Spark Connect server {url} does not answer"), message
    assert "\n" not in message


def test_a_server_that_listens_is_reachable():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        assert connect_reachable(f"sc://127.0.0.1:{listening.getsockname()[1]}/;user_id=x")


class Session:
    def __init__(self):
        self.release_session_on_close, self.stopped = True, False

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize(
    ("remote", "answers", "released"),
    [
        ("sc://127.0.0.1:15002", True, True),
        ("sc://127.0.0.1:15002", False, False),
        (None, False, True),
    ],
)
def test_a_session_is_stopped_without_asking_a_server_that_is_gone(
    monkeypatch, remote, answers, released
):
    monkeypatch.setattr(shared.spark, "spark_remote", lambda: remote)
    monkeypatch.setattr(shared.spark, "connect_reachable", lambda url: answers)
    session = Session()
    shared.spark.stop_session(session)
    assert session.stopped and session.release_session_on_close is released
