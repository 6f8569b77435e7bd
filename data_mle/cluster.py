"""A Spark standalone cluster on this machine, one master and one worker, so that the pipeline's
cluster path runs as it would on real machines: the driver inside `spark-submit`, the tasks in an
executor JVM that the worker starts for the application.

    python -m data_mle.cluster serve               # runs one until Ctrl-C; prints the line below
    PYSPARK_PYTHON=.venv/bin/python SPARK_LOCAL_IP=127.0.0.1 \\
        .venv/bin/spark-submit --master spark://127.0.0.1:7077 data_mle/ingest.py --day 2026-01-06

    with LocalCluster() as cluster:                # waits until the worker has registered
        run_to_end(cluster.submit_command("data_mle/ingest.py", "--day", "2026-01-06"),
                   {**os.environ, **cluster.env()})

pyspark's wheel has `spark-class` but not `sbin/start-master.sh`, so each daemon runs in the
foreground as a `shared.server.ChildServer`: a process group of its own (the worker's executors
stop with it), its log in `<lake>/logs/spark-master.log` and `spark-worker.log`, the executors'
logs under `<lake>/logs/spark-work/<app-id>/`. Everything binds to 127.0.0.1; the web UIs (whose
`/json/` state is how readiness is checked) take free ports, and the master's REST submission
server, on a fixed port, is off.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from shared.s3 import free_port
from shared.server import (
    HOST,
    ChildServer,
    Terminated,
    log_dir,
    serve_until_stopped,
    sigterm_exits,
)
from shared.spark import SPARK_SUBMIT

# The launchers come with the pyspark wheel, beside this interpreter (spark-submit: shared.spark).
SPARK_CLASS = str(Path(sys.executable).with_name("spark-class"))
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
WORKER_CORES = 2  # this machine class has 2; one executor gets them all
WORKER_MEMORY = "2g"  # offered to executors: one at Spark's default 1g, with room to spare


def job_env() -> dict[str, str]:
    """What a process of the cluster or an application on it needs in its environment.

    `PYSPARK_PYTHON`: spark-submit starts the driver's Python with it (else whatever `python3` is
    on PATH), and the driver tells the executors to run any Python it ships (UDFs, infra_mle's
    batch scoring) with the same, so both run this interpreter and its packages.
    `SPARK_LOCAL_IP`: every JVM binds and advertises loopback, the web UIs included
    (they bind 0.0.0.0 otherwise)."""
    return {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": HOST}


def _get_json(url: str) -> dict[str, Any] | None:
    """The JSON at `url`, or None while nothing answers there with JSON (a UI that is still
    starting may serve an HTML page there first)."""
    import httpx

    try:
        response = httpx.get(url, timeout=2, follow_redirects=True)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):  # json.JSONDecodeError is a ValueError
        return None


class SparkMaster(ChildServer):
    """The standalone master: it admits workers, and gives each application executors on them.
    Ready when its state says ALIVE (it has elected itself leader)."""

    name = "spark-master"
    grace_s = 10.0  # it holds no work of its own to finish

    def __init__(self, port: int = 0, start_timeout: float = 60.0):
        env = {
            **os.environ,
            **job_env(),
            # Its REST submission server listens on a fixed port (6066); jobs here use the RPC port.
            "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        }
        super().__init__(env, start_timeout)
        self.port = port or free_port()
        self.ui_port = free_port()

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    def state(self) -> dict[str, Any] | None:
        """The master's state (workers, active and completed applications), as its UI shows it."""
        return _get_json(f"http://{HOST}:{self.ui_port}/json/")

    def command(self) -> list[str]:
        return [SPARK_CLASS, MASTER_CLASS, "--host", HOST, "--port", str(self.port),
                "--webui-port", str(self.ui_port)]  # fmt: skip

    def is_ready(self) -> bool:
        state = self.state()
        return state is not None and state.get("status") == "ALIVE"


class SparkWorker(ChildServer):
    """A worker offering `cores` and `memory` to `master`'s applications; it starts their
    executors as its own children, in its process group. Ready when the master lists it ALIVE."""

    name = "spark-worker"
    grace_s = 10.0  # the executors it runs belong to applications, which re-run lost tasks

    def __init__(
        self,
        master: SparkMaster,
        cores: int = WORKER_CORES,
        memory: str = WORKER_MEMORY,
        start_timeout: float = 60.0,
    ):
        super().__init__({**os.environ, **job_env()}, start_timeout)
        self.master, self.cores, self.memory = master, cores, memory
        self.port = free_port()
        self.ui_port = free_port()
        # The executors' logs and each application's files; Spark's default is inside SPARK_HOME,
        # here the installed pyspark package.
        self.work_dir = log_dir(self.child_env) / "spark-work"

    def state(self) -> dict[str, Any] | None:
        """The worker's state: its running and finished executors, by application."""
        return _get_json(f"http://{HOST}:{self.ui_port}/json/")

    def command(self) -> list[str]:
        return [SPARK_CLASS, WORKER_CLASS, "--host", HOST, "--port", str(self.port),
                "--webui-port", str(self.ui_port), "--cores", str(self.cores),
                "--memory", self.memory, "--work-dir", str(self.work_dir),
                self.master.url]  # fmt: skip

    def is_ready(self) -> bool:
        state = self.master.state() or {}
        return any(
            w["port"] == self.port and w["state"] == "ALIVE" for w in state.get("workers", [])
        )


class LocalCluster:
    """A master and one worker, started in that order and stopped in the reverse one (a worker
    whose master is gone only retries to reconnect)."""

    def __init__(self, port: int = 0, cores: int = WORKER_CORES, memory: str = WORKER_MEMORY):
        self.master = SparkMaster(port)
        self.worker = SparkWorker(self.master, cores, memory)
        self._running = ExitStack()

    @property
    def master_url(self) -> str:
        return self.master.url

    @property
    def running(self) -> bool:
        return self.master.running and self.worker.running

    def env(self) -> dict[str, str]:
        """The variables a `spark-submit` to this cluster needs (see `job_env`)."""
        return job_env()

    def submit_command(self, script: str | Path, *args: str) -> list[str]:
        """`spark-submit --master <this cluster> script args...`; run it with `env()` added."""
        return [SPARK_SUBMIT, "--master", self.master_url, str(script), *args]

    def start(self) -> Self:
        """Start the master, then the worker; if the worker fails, the master is stopped too."""
        with ExitStack() as stack:
            stack.enter_context(self.master)
            stack.enter_context(self.worker)
            self._running = stack.pop_all()
        return self

    def stop(self) -> None:
        self._running.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_mle.cluster", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int, default=7077, help="the master's (Spark's default)")
    parser.add_argument("--cores", type=int, default=WORKER_CORES)
    parser.add_argument("--memory", default=WORKER_MEMORY)
    args = parser.parse_args(argv)
    try:
        with sigterm_exits(), LocalCluster(args.port, args.cores, args.memory) as cluster:
            env = " ".join(f"{k}={shlex.quote(v)}" for k, v in cluster.env().items())
            submit = shlex.join(cluster.submit_command("data_mle/ingest.py", "--day", "YYYY-MM-DD"))
            print(
                f"Spark standalone master {cluster.master_url}, one worker "
                f"({args.cores} cores, {args.memory}); logs in {cluster.master.log_path.parent}"
            )
            print(f"In another shell:\n  {env} {submit}", flush=True)
            return serve_until_stopped(cluster)
    except (KeyboardInterrupt, Terminated):  # while the cluster was starting
        return 0


if __name__ == "__main__":
    sys.exit(main())
