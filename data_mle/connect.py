"""A long-lived Spark Connect server on 127.0.0.1, so short jobs connect in about a second
instead of starting a JVM each (about 6 s here).

    with SparkConnectServer() as server:           # waits until it accepts connections
        subprocess.run([...], env={**os.environ, **server.env()})

    python -m data_mle.connect serve               # runs one until Ctrl-C

The server runs the Python UDFs of its clients (the ingest job's validation) with this
interpreter, so clients and server share one environment. On a cluster the server would be the
cluster's own, and jobs would only need its `sc://` URL.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from shared.s3 import free_port
from shared.settings import get_settings
from shared.spark import DRIVER_MEMORY, SESSION_CONF

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
HOST = "127.0.0.1"


class SparkConnectServer:
    """A Spark Connect server in a child process; its log goes to a file, not the console."""

    def __init__(self, port: int = 0, master: str | None = None, start_timeout: float = 90.0):
        self.port = port or free_port()
        self.master = master or get_settings().spark_master
        self.start_timeout = start_timeout
        self.log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"sc://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"MARQUEE_SPARK_REMOTE": self.url}

    def command(self) -> list[str]:
        conf = {
            **SESSION_CONF,
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.driver.bindAddress": HOST,
            "spark.driver.host": HOST,  # executors fetch classes from the driver: loopback only
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
        }
        args = [str(Path(sys.executable).with_name("spark-submit")), "--class", SERVER_CLASS]
        args += ["--master", self.master, "--name", "marquee-connect"]
        args += ["--driver-memory", DRIVER_MEMORY]
        for key, value in conf.items():
            args += ["--conf", f"{key}={value}"]
        return [*args, "spark-internal"]

    def start(self) -> SparkConnectServer:
        fd, name = tempfile.mkstemp(prefix="spark-connect-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": HOST}
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,  # its own group: stop() ends the JVM too
            )  # fmt: skip
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with socket.socket() as s:
                if s.connect_ex((HOST, self.port)) == 0:
                    return self
            time.sleep(0.25)
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
        self.stop()
        raise RuntimeError(f"Spark Connect server did not start on {self.url}: {' | '.join(tail)}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def __enter__(self) -> SparkConnectServer:
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
        prog="python -m data_mle.connect", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int, default=15002)
    args = parser.parse_args(argv)
    with SparkConnectServer(port=args.port) as server:
        print(f"Spark Connect on {server.url}; in another shell:")
        print(f"  export MARQUEE_SPARK_REMOTE={server.url}", flush=True)
        try:
            while server._process is not None and server._process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
