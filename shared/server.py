"""A web server (uvicorn) in a child process: started, waited for until it is ready, and stopped
gracefully. infra_mle's demo and benchmarks run the ranking service this way, fullstack_mle's
loop runs the service and the web app.

    server = ServerProcess("infra_mle.serve", free_port(), env, "/readyz")
    seconds = server.start()      # raises, with the log's last lines, if it exits or times out
    ...
    server.stop()                 # SIGTERM: requests in flight finish first
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


class ServerProcess:
    """`python -m <module> --port <port>` under `env`, ready when `ready_path` answers 200;
    its output goes to `<lake>/logs/<module>.log`."""

    def __init__(self, module: str, port: int, env: dict[str, str], ready_path: str):
        self.module, self.port, self.env, self.ready_path = module, port, env, ready_path
        self.process: subprocess.Popen | None = None
        self.log = Path(env.get("MARQUEE_LAKE_ROOT", ".")) / "logs" / f"{module}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> float:
        """Start and wait until ready; returns the seconds it took."""
        started = time.perf_counter()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        while time.perf_counter() - started < timeout_s:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"{self.module} exited: {' | '.join(tail)}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.module} was not ready in {timeout_s:.0f} s; see {self.log}")

    def stop(self) -> None:
        """SIGTERM: uvicorn finishes the requests in flight and runs the app's shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
