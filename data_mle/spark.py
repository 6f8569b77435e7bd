"""The SparkSession every data_mle job starts from, configured once.

Jobs are plain scripts: `python -m data_mle.ingest ...` uses `MARQUEE_SPARK_MASTER` (default
`local[*]`); `spark-submit --master spark://host:7077 data_mle/ingest.py ...` keeps the master that
spark-submit was given, so the same job runs on a cluster unchanged.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from shared.settings import get_settings


def spark_session(app_name: str) -> Any:
    """A SparkSession in UTC with the Python workers on this interpreter."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    # Workers must run the same interpreter (and so the same packages) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")  # event times are UTC instants
        .config("spark.ui.enabled", "false")  # no web UI port per job on a laptop
        .config("spark.sql.shuffle.partitions", "8")  # the default 200 is for clusters
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Parquet timestamps as UTC instants (the default INT96 reads back without a zone).
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    if not SparkConf().contains("spark.master"):  # not launched by spark-submit
        master = get_settings().spark_master
        builder = builder.master(master)
        if master.startswith("local"):
            builder = builder.config("spark.driver.bindAddress", "127.0.0.1")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
