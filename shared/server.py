"""Child processes that a demo, a test or the loop starts, and that must stop when it stops.

One lifecycle for every server the project runs (moto's S3, Spark Connect, the uvicorn services)
and for the one-shot commands it waits on (`airflow dags test`, the batch job):

- each child runs in a process group of its own, so stopping it also stops what it started (Spark
  Connect's JVM, Airflow's task runners);
- its output goes to `<lake>/logs/<name>.log`, not to the console;
- a server is started and waited for until it is ready; one that dies on start-up is reported
  with the last lines of its log;
- stopping sends SIGTERM to the group (servers finish what they are doing), then SIGKILL after a
  grace period;
- `sigterm_exits()` turns SIGTERM into a normal exit of the Python process that started them, so
  its `with` blocks and `finally` clauses run and the children stop with it. Without it, Python
  dies on SIGTERM without unwinding and leaves every child running.

    with sigterm_exits(), UvicornServer("infra_mle.serve", free_port(), env, "/readyz") as server:
        httpx.get(server.url + "/healthz")

    result = run_to_end(["airflow", "dags", "test", ...], env)  # its group stopped on error
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from shared.settings import get_settings

HOST = "127.0.0.1"  # every server binds to loopback only


class ServerStartError(RuntimeError):
    """A child server exited or did not become ready; the message ends with its log's tail."""


def log_dir(env: dict[str, str] | None = None) -> Path:
    """`<lake>/logs`, for the lake the child will use (its `MARQUEE_LAKE_ROOT`, else ours)."""
    root = (env or {}).get("MARQUEE_LAKE_ROOT")
    return (Path(root) if root else get_settings().lake_root) / "logs"


def _log_tail(path: Path, since: int, lines: int = 5) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
    except OSError:
        return "no log"
    tail = text.strip().splitlines()[-lines:]
    return " | ".join(tail) if tail else "it exited without a message"


def stop_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the process group of `process`, then SIGKILL if it has not exited in time."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # What the leader left behind in its group (a JVM that outlived its launcher) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class ChildServer:
    """A server in a child process. Subclasses say what to run (`command`) and when it is ready
    (`is_ready`); this class starts, waits, reports, logs and stops it.

    `start()` returns the server itself and records `ready_s`, the seconds until it was ready."""

    name = "server"
    grace_s = 30.0  # SIGTERM -> SIGKILL: time for requests in flight to finish

    def __init__(self, env: dict[str, str] | None = None, start_timeout: float = 60.0):
        self.child_env = dict(os.environ if env is None else env)
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir(self.child_env) / f"{self.name}.log"
        self.ready_s: float | None = None
        self._log_offset = 0

    # -- what a subclass defines ----------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    # -- the lifecycle --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> Self:
        """Start the child and wait until it is ready; raise `ServerStartError` if it exits or
        does not get ready in `start_timeout` seconds (it is stopped then, as it is when the
        wait is interrupted or `is_ready` raises)."""
        started = time.perf_counter()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                self.command(), env=self.child_env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # its own group: see stop()
            )  # fmt: skip
        try:
            while time.perf_counter() - started < self.start_timeout:
                if self.process.poll() is not None:
                    why = self.tail()
                    self.process = None
                    raise ServerStartError(f"{self.name} exited: {why}")
                if self.is_ready():
                    self.ready_s = time.perf_counter() - started
                    return self
                time.sleep(0.1)
        except BaseException:  # a readiness check that raised, Ctrl-C, SIGTERM: no orphan
            self.stop()
            raise
        why = self.tail()
        self.stop()
        raise ServerStartError(
            f"{self.name} was not ready in {self.start_timeout:.0f} s: {why} (log: {self.log_path})"
        )

    def tail(self, lines: int = 5) -> str:
        """The last lines this run of the child wrote to its log."""
        return _log_tail(self.log_path, self._log_offset, lines)

    def stop(self) -> None:
        """SIGTERM to the child's group, SIGKILL after `grace_s`; a no-op when not running."""
        if self.process is not None:
            stop_group(self.process, self.grace_s)
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class UvicornServer(ChildServer):
    """`python -m <module> --port <port>` (a FastAPI app under uvicorn), ready when `ready_path`
    answers 200. SIGTERM lets uvicorn finish the requests in flight and run the app's shutdown."""

    def __init__(
        self,
        module: str,
        port: int,
        env: dict[str, str],
        ready_path: str,
        start_timeout: float = 120.0,
    ):
        self.name = module
        self.module, self.port, self.ready_path = module, port, ready_path
        super().__init__(env, start_timeout)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, "--port", str(self.port)]

    def is_ready(self) -> bool:
        import httpx

        try:
            return httpx.get(self.url + self.ready_path, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


def run_to_end(
    command: list[str], env: dict[str, str], timeout_s: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot command in its own process group and wait for it, its output captured.
    If this process is interrupted meanwhile (Ctrl-C, SIGTERM through `sigterm_exits`, a
    timeout), the whole group is stopped before the exception goes on."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except BaseException:
        stop_group(process, grace_s=10)
        raise
    stop_group(process, grace_s=0)  # anything it left running in its group
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


class Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM (exit status 143)."""


@contextlib.contextmanager
def sigterm_exits() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated` (a `SystemExit`) in the main thread, so `with`
    blocks unwind and child servers stop, as they do on Ctrl-C."""

    def terminate(signum: int, frame: object) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Running(Protocol):
    """Anything that can say whether it still runs: a `ChildServer`, a cluster of them."""

    @property
    def running(self) -> bool: ...


def serve_until_stopped(server: Running, poll_s: float = 0.5) -> int:
    """Block while `server` runs, for a command that keeps servers up until Ctrl-C: 0 when
    Ctrl-C or SIGTERM ends the wait (the caller's `with` blocks then stop the servers), 1 when
    the server stopped by itself."""
    try:
        with sigterm_exits():
            while server.running:
                time.sleep(poll_s)
    except (KeyboardInterrupt, Terminated):
        return 0
    return 1
