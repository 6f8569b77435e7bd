"""The JVM settings every Spark of the project starts with: local sessions, the Connect server,
and the class archive they map (`shared.spark_classes`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import shared.spark
import shared.spark_classes
from data_mle.connect import SparkConnectServer
from shared.settings import REPO_ROOT
from shared.spark import (
    CLASS_ARCHIVE,
    DRIVER_MEMORY,
    GC_OPTIONS,
    SPARK_SUBMIT,
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
