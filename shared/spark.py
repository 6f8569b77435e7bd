"""The SparkSession every Spark job of the project starts from (data_mle's ETL steps, infra_mle's
batch scoring), configured once.

Three ways to run the same job, chosen by the environment, not by the code:
- `python -m data_mle.ingest ...`: a local Spark in this process (`MARQUEE_SPARK_MASTER`, default
  `local[*]`); a new JVM costs about 4 s here (6.5 s without `shared.spark_classes`).
- `MARQUEE_SPARK_REMOTE=sc://127.0.0.1:15002 python -m data_mle.ingest ...`: a client of a
  long-lived Spark Connect server (`data_mle.connect`), about 1 s to connect. This is also how a
  job reaches a remote cluster. A server that stops answering fails the job within about 20 s
  (`CONNECT_RETRY`), not pyspark's 10 minutes.
- `spark-submit --master spark://host:7077 data_mle/ingest.py ...` (or `--remote sc://...`):
  spark-submit's own settings are kept.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from shared.settings import get_settings

# The driver's heap in local mode (and of the Connect server): Spark's 1 GB default runs out on a
# medium-preset day (1.6 million lines); this machine class has 24 GiB.
DRIVER_MEMORY = "4g"
# The JVM's garbage collector: the parallel collector instead of G1, the default. On 2 cores
# G1's concurrent threads compete with the job, and a job's garbage is short-lived anyway.
# Ingest of a small-preset day, a fresh local session: the first 13.1-13.3 s instead of
# 13.7-15.0 s, the third 4.3-4.5 s instead of 4.4-5.3 s (three runs each, 2026-12-07).
GC_OPTIONS = "-XX:+UseParallelGC"
# Spark's classes, already loaded and verified, in one file the JVM maps at start
# (`shared.spark_classes`, made by `make setup`): a local session starts about 2.5 s sooner.
CLASS_ARCHIVE = Path(sys.prefix) / "share" / "marquee" / "spark-classes.jsa"
# pyspark's launcher, installed beside this interpreter: the Connect server, a cluster job and
# the class archive's job start their JVM with it.
SPARK_SUBMIT = str(Path(sys.executable).with_name("spark-submit"))
# Settings of the session itself; a Spark Connect server is started with the same ones.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",  # event times are UTC instants
    "spark.sql.shuffle.partitions": "8",  # the default 200 is for clusters
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Parquet timestamps as UTC instants (the default INT96 reads back without a zone).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # The ingest's checks compile to methods over 8,000 bytes of bytecode, which the JVM never
    # JIT-compiles (HotSpot's DontCompileHugeMethods): past this limit Spark generates smaller
    # code per expression instead. Ingest of a small-preset day: 6.6 s -> 5.9 s (2026-12-06).
    "spark.sql.codegen.hugeMethodLimit": "8000",
}


# How a Spark Connect client retries a server it cannot reach (pyspark's `DefaultPolicy` with
# these arguments): waits of 0.05, 0.2, 0.8, 3.2, 5, 5 and 5 s, then the error. pyspark's own
# default waits at least 10 minutes (15 retries, growing to 60 s apart): a step whose server had
# died hung that long before it failed (measured: 611 s), and as long again closing its session,
# while Step Functions' worker kept sending heartbeats. A server restarts here in seconds; a
# longer outage is for the orchestrator's own retries, each with a new session.
CONNECT_RETRY = {"max_retries": 7, "max_backoff": 5_000}


def driver_java_options() -> str:
    """The options of every Spark JVM the project starts: the collector, and the class archive
    when the environment has one. A JVM ignores an archive made for another Java or other jars;
    the log lines that would say so on every start are switched off."""
    options = GC_OPTIONS
    if CLASS_ARCHIVE.is_file():
        archive = shlex.quote(str(CLASS_ARCHIVE))  # Spark splits these options like a shell
        options += f" -XX:SharedArchiveFile={archive} -Xlog:cds=off,cds+dynamic=off"
    return options


def spark_remote() -> str | None:
    """The Spark Connect server that sessions connect to (`SPARK_REMOTE`, else
    `MARQUEE_SPARK_REMOTE`), or None for a Spark of this process's own."""
    return os.environ.get("SPARK_REMOTE") or get_settings().spark_remote


def connect_retry_wait_s() -> float:
    """The longest a Connect client waits, over all its retries, before it gives up on an
    unreachable server (`CONNECT_RETRY`, each wait at most its jitter longer)."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    policy = DefaultPolicy(**CONNECT_RETRY)
    total, wait = 0.0, float(policy.initial_backoff)
    for _ in range(policy.max_retries or 0):
        total += wait + (policy.jitter if wait >= policy.min_jitter_threshold else 0)
        wait *= policy.backoff_multiplier
        if policy.max_backoff is not None:
            wait = min(wait, float(policy.max_backoff))
    return total / 1000


class SparkConnectionError(ConnectionError):
    """A Spark Connect server that does not answer, in one line instead of a gRPC trace."""

    def __init__(self, remote: str):
        super().__init__(
            f"the Spark Connect server {remote} does not answer (retried for up to "
            f"{connect_retry_wait_s():.0f} s): start it, or unset MARQUEE_SPARK_REMOTE and "
            "SPARK_REMOTE to run Spark in this process"
        )
        self.remote = remote


def connect_reachable(url: str, timeout_s: float = 1.0) -> bool:
    """Whether the Spark Connect server at `url` (`sc://host:port/...`) accepts a connection."""
    from pyspark.sql.connect.client import DefaultChannelBuilder

    host, _, port = DefaultChannelBuilder(url).endpoint.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def stop_session(spark: Any) -> None:
    """Stop `spark`. A Spark Connect session whose server no longer answers is closed without
    asking that server to release it: the request would only wait out `CONNECT_RETRY` again."""
    remote = spark_remote()
    if remote and not connect_reachable(remote):
        spark.release_session_on_close = False
    spark.stop()


def spark_session(app_name: str) -> Any:
    """A SparkSession in UTC with the Python workers on this interpreter."""
    from pyspark.sql import SparkSession

    # Workers must run the same interpreter (and so the same packages) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback, and no warning about it
    remote = spark_remote()
    if remote:
        # Under spark-submit, MASTER names the local master it was given; the work goes to the
        # Connect server instead, and pyspark refuses to be configured for both.
        os.environ.pop("MASTER", None)
        from pyspark.sql.connect.client.retries import DefaultPolicy

        # No `appName` on the builder: getOrCreate would set it by a call with pyspark's retries.
        session = SparkSession.builder.remote(remote).getOrCreate()
        session.client.set_retry_policies([DefaultPolicy(**CONNECT_RETRY)])  # before any call
        try:
            for key, value in {"spark.app.name": app_name, **SESSION_CONF}.items():
                session.conf.set(key, value)
        except Exception as error:
            stop_session(session)  # the caller never gets it
            if connect_reachable(remote):
                raise
            raise SparkConnectionError(remote) from error
        return session
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # no progress bars in job output
        .config("spark.driver.memory", DRIVER_MEMORY)  # read when the JVM starts, i.e. here
        .config("spark.driver.extraJavaOptions", driver_java_options())  # so is this
    )
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    # Launched by spark-submit, whose JVM (and its --master) already exists, this is set. Not
    # `SparkConf().contains("spark.master")`: before a SparkContext that conf is always empty.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = get_settings().spark_master
        builder = builder.master(master)
        if master.startswith("local"):
            # Loopback only: the block manager serves large results to the driver over it, and
            # the machine's other addresses may not accept the connection.
            builder = builder.config("spark.driver.bindAddress", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
