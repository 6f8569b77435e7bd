"""The JVM settings every Spark of the project starts with: local sessions, the Connect server."""

from __future__ import annotations

from data_mle.connect import SparkConnectServer
from shared.spark import DRIVER_JAVA_OPTIONS, DRIVER_MEMORY


def test_a_local_session_runs_the_parallel_collector(spark):
    beans = spark._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    names = {bean.getName() for bean in beans}
    assert names == {"PS Scavenge", "PS MarkSweep"}, names  # G1 would be "G1 Young Generation"


def test_the_connect_server_starts_its_jvm_with_the_same_options():
    command = SparkConnectServer(port=15999).command()
    assert command[command.index("--driver-java-options") + 1] == DRIVER_JAVA_OPTIONS
    assert command[command.index("--driver-memory") + 1] == DRIVER_MEMORY
