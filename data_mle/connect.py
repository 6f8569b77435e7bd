"""A long-lived Spark Connect server on 127.0.0.1, so short jobs connect in about a second
instead of starting a JVM each (about 4 s here).

    with SparkConnectServer() as server:           # waits until it accepts connections
        subprocess.run([...], env={**os.environ, **server.env()})

    python -m data_mle.connect serve               # runs one until Ctrl-C

The server runs the Python its clients ship (UDFs, `mapInPandas`: infra_mle's batch scoring) with
this interpreter, so clients and server share one environment. On a cluster the server would be the
cluster's own, and jobs would only need its `sc://` URL.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from shared.s3 import free_port
from shared.server import HOST, ChildServer, Terminated, serve_until_stopped, sigterm_exits
from shared.settings import get_settings
from shared.spark import DRIVER_MEMORY, SESSION_CONF, SPARK_SUBMIT, driver_java_options

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


class SparkConnectServer(ChildServer):
    """A Spark Connect server in a child process (its JVM in the same process group, so it stops
    with it); its log goes to `<lake>/logs/spark-connect.log`, not the console."""

    name = "spark-connect"
    grace_s = 20.0

    def __init__(self, port: int = 0, master: str | None = None, start_timeout: float = 90.0):
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": HOST}
        super().__init__(env, start_timeout)
        self.port = port or free_port()
        self.master = master or get_settings().spark_master

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
        args = [SPARK_SUBMIT, "--class", SERVER_CLASS]
        args += ["--master", self.master, "--name", "marquee-connect"]
        args += ["--driver-memory", DRIVER_MEMORY, "--driver-java-options", driver_java_options()]
        for key, value in conf.items():
            args += ["--conf", f"{key}={value}"]
        return [*args, "spark-internal"]

    def is_ready(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex((HOST, self.port)) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_mle.connect", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int, default=15002)
    args = parser.parse_args(argv)
    try:
        with sigterm_exits(), SparkConnectServer(port=args.port) as server:
            print(f"Spark Connect on {server.url} (log {server.log_path}); in another shell:")
            print(f"  export MARQUEE_SPARK_REMOTE={server.url}", flush=True)
            return serve_until_stopped(server)
    except (KeyboardInterrupt, Terminated):  # while the server was starting
        return 0


if __name__ == "__main__":
    sys.exit(main())
