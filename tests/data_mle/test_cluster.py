"""The pipeline's cluster path, `spark-submit --master spark://... data_mle/ingest.py`, on a local
standalone cluster: the job runs in an executor the worker started, and writes the same bronze and
quarantine partitions as a local run; stopping the cluster stops every process it started."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_mle.cluster import LocalCluster
from shared.lake import Lake
from shared.server import run_to_end, stop_group
from shared.settings import REPO_ROOT
from shared.storage import verify_partition
from tests.data_mle.conftest import DAYS

pytestmark = pytest.mark.slow
DAY = DAYS[1]  # a day with every fault kind and same-day duplicates
EXECUTOR = "org.apache.spark.executor.CoarseGrainedExecutorBackend"  # its JVM's main class
T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout_s: float = 30.0) -> T:
    """`probe()` once it is truthy: the master and the worker record an application's end (and
    the worker an executor's start) a moment after the fact."""
    deadline = time.monotonic() + timeout_s
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert value, f"not so after {timeout_s:.0f} s"
    return value


def completed_apps(cluster: LocalCluster) -> list[dict]:
    return (cluster.master.state() or {}).get("completedapps", [])


def finished_executors(cluster: LocalCluster) -> list[dict]:
    return (cluster.worker.state() or {}).get("finishedexecutors", [])


def contents(partition: Path) -> tuple[dict, dict[str, pa.Table]]:
    """A partition's manifest less its files' checksums, and each file's table (checked against
    its checksum first). Not the checksums themselves: parquet-mr lists each
    column's encodings in hash-set order, which changes from one JVM to the next, so the same
    rows written by an executor there and by the driver here may differ in a few footer bytes."""
    manifest = verify_partition(partition)
    names = manifest.pop("files")
    return manifest, {name: pq.read_table(partition / name) for name in names}


def alive_in_groups(groups: set[int]) -> list[str]:
    """The command lines of the live processes in the process groups `groups`."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) in groups and process.status() != psutil.STATUS_ZOMBIE:
                found.append(" ".join(process.cmdline()))
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_an_ingest_submitted_to_the_cluster_runs_there_and_matches_a_local_run(ingested, tmp_path):
    local = ingested[0]
    # The same lake with the day not yet ingested; the days before it stay, for de-duplication.
    on_cluster = Lake(tmp_path / "on-cluster")
    shutil.copytree(local.root, on_cluster.root)
    for partition in (on_cluster.bronze_events(DAY), on_cluster.quarantine_events(DAY)):
        shutil.rmtree(partition)

    with LocalCluster() as cluster:
        submit = cluster.submit_command(
            REPO_ROOT / "data_mle" / "ingest.py", "--day", str(DAY), "--lake", str(on_cluster.root)
        )
        job = run_to_end(submit, {**os.environ, **cluster.env()}, timeout_s=180)
        assert job.returncode == 0, job.stderr[-3000:]
        (app,) = eventually(lambda: completed_apps(cluster))
        executors = eventually(lambda: finished_executors(cluster))

    # The master ran the application to its end, on an executor of our worker, which ran its tasks.
    assert app["state"] == "FINISHED"
    assert {e["appid"] for e in executors} == {app["id"]}
    executor_log = cluster.worker.work_dir / app["id"] / str(executors[0]["id"]) / "stderr"
    assert "Finished task" in executor_log.read_text()

    # Its outputs are the local run's: the same counts, the same rows in the same order.
    assert contents(on_cluster.bronze_events(DAY)) == contents(local.bronze_events(DAY))
    assert contents(on_cluster.quarantine_events(DAY)) == contents(local.quarantine_events(DAY))


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
            groups = {cluster.master.pid, cluster.worker.pid}
            # The worker starts the executor's JVM as its child, in its process group.
            eventually(lambda: any(EXECUTOR in line for line in alive_in_groups(groups)), 120)
            cluster.stop()
            left = alive_in_groups(groups)
        finally:
            stop_group(driver, grace_s=0)

    assert left == [], [line[-120:] for line in left]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"status": "ALIVE"}', {"status": "ALIVE"}),
        (200, b"<!DOCTYPE html><html>the UI, still starting</html>", None),
        (503, b'{"status": "ALIVE"}', None),
    ],
)
def test_a_master_state_is_read_only_from_a_json_answer(status, body, expected):
    import http.server
    import threading

    from data_mle.cluster import _get_json

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert _get_json(f"http://127.0.0.1:{server.server_port}/json/") == expected
    finally:
        server.shutdown()
        server.server_close()
    closed = f"http://127.0.0.1:{server.server_port}/json/"
    assert _get_json(closed) is None, "nothing answering is not ready either"
