"""The pipeline's cluster path, `spark-submit --master spark://... data_mle/ingest.py`, on a local
standalone cluster: the job runs in an executor the worker started, and writes the same bronze and
quarantine partitions as a local run; stopping the cluster stops every process it started."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import psutil
import pytest

from data_mle.cluster import LocalCluster
from data_mle.ingest import ingest_day
from shared.server import run_to_end, stop_group
from shared.settings import REPO_ROOT
from shared.storage import verify_partition
from tests.data_mle.conftest import DAYS, land

pytestmark = pytest.mark.slow
DAY = DAYS[1]  # a day with every fault kind and same-day duplicates
T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout_s: float = 30.0) -> T:
    """`probe()` once it is truthy: the master and worker update their state asynchronously."""
    deadline = time.monotonic() + timeout_s
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert value, f"{probe.__name__} did not hold within {timeout_s:.0f} s"
    return value


def alive_in_groups(groups: set[int]) -> list[str]:
    """The command lines of the live processes in the process groups `groups`."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) in groups and process.status() != psutil.STATUS_ZOMBIE:
                found.append(" ".join(process.cmdline())[:160])
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_an_ingest_submitted_to_the_cluster_runs_there_and_matches_a_local_run(
    spark, faulty_dataset, tmp_path
):
    world, _ = faulty_dataset
    local, on_cluster = land(world, tmp_path / "local"), land(world, tmp_path / "on-cluster")
    ingest_day(spark, local, DAY)

    with LocalCluster() as cluster:
        script = REPO_ROOT / "data_mle" / "ingest.py"
        args = ["--day", DAY.isoformat(), "--lake", str(on_cluster.root)]
        job = run_to_end(
            cluster.submit_command(script, *args), {**os.environ, **cluster.env()}, timeout_s=180
        )
        assert job.returncode == 0, job.stderr[-3000:]

        def app_finished() -> list[dict]:
            return (cluster.master.state() or {}).get("completedapps", [])

        def executor_finished() -> list[dict]:
            return (cluster.worker.state() or {}).get("finishedexecutors", [])

        (app,) = eventually(app_finished)
        executors = eventually(executor_finished)

    # The master ran the application to its end, on an executor of our worker, which ran its tasks.
    assert app["state"] == "FINISHED"
    assert {e["appid"] for e in executors} == {app["id"]}
    executor_log = cluster.worker.work_dir / app["id"] / str(executors[0]["id"]) / "stderr"
    assert "Finished task" in executor_log.read_text()

    # Its outputs are the local run's, byte for byte (each manifest holds its files' sha256).
    bronze, quarantine = on_cluster.bronze_events(DAY), on_cluster.quarantine_events(DAY)
    assert verify_partition(bronze) == verify_partition(local.bronze_events(DAY))
    assert verify_partition(quarantine) == verify_partition(local.quarantine_events(DAY))


def test_stopping_the_cluster_mid_application_leaves_none_of_its_processes(tmp_path):
    # An application that holds an executor until it is stopped.
    app = tmp_path / "idle_app.py"
    app.write_text(
        "import time\n"
        "from pyspark.sql import SparkSession\n"
        "SparkSession.builder.config('spark.ui.enabled', 'false').getOrCreate()\n"
        "time.sleep(600)\n"
    )
    with LocalCluster() as cluster:
        driver = subprocess.Popen(
            cluster.submit_command(app), env={**os.environ, **cluster.env()},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:

            def executor_running() -> list[dict]:
                return (cluster.worker.state() or {}).get("executors", [])

            eventually(executor_running, timeout_s=60)
            groups = {cluster.master.pid, cluster.worker.pid}
            running = alive_in_groups(groups)
            cluster.stop()
            left = alive_in_groups(groups)
        finally:
            stop_group(driver, grace_s=0)

    assert any("CoarseGrainedExecutorBackend" in line for line in running), running
    assert left == []
