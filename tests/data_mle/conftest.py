"""Fixtures for the data_mle tests: the faulty tiny world landed in a lake and ingested."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from data_mle.ingest import ingest_day
from shared.lake import Lake

START = dt.date(2026, 1, 5)
DAYS = [START + dt.timedelta(days=k) for k in range(4)]  # the faulty_dataset's days


def land(world: Path, lake_root: Path) -> Lake:
    """Copy a generated world's raw events into a lake's raw zone, as the landing task does."""
    shutil.copytree(world / "raw" / "events", lake_root / "raw" / "events")
    return Lake(lake_root)


@pytest.fixture(scope="session")
def ingested(spark, faulty_dataset, tmp_path_factory):
    """The four faulty tiny days, ingested in order: (lake, counts by day, injected faults)."""
    world, _ = faulty_dataset
    lake = land(world, tmp_path_factory.mktemp("lake"))
    counts = {day: ingest_day(spark, lake, day) for day in DAYS}
    faults = json.loads((world / "_faults.json").read_text())["days"]
    return lake, counts, faults


@pytest.fixture(scope="session")
def pipeline_servers(tmp_path_factory):
    """One moto S3 and one Spark Connect server for every test that runs the whole pipeline
    (Airflow, its scheduler, Step Functions), and a tiny day already landed in S3. Started
    without touching this process's environment: each test sets it (`pipeline_lake`)."""
    from data_mle.connect import SparkConnectServer
    from shared.generate import GenerateConfig, generate
    from shared.s3 import MotoServer, upload_dir
    from shared.settings import environment

    logs = tmp_path_factory.mktemp("pipeline-servers")
    with environment(MARQUEE_LAKE_ROOT=str(logs)):  # where the servers' logs go
        s3, spark = MotoServer(), SparkConnectServer()
    try:
        s3.start()
        spark.start()
        with environment(**s3.env()):
            world = tmp_path_factory.mktemp("pipeline-world") / "world"
            generate(GenerateConfig(preset="tiny", days=1), world)
            upload_dir(world / "raw", "marquee-lake", "raw", create_bucket=True)
        yield {**s3.env(), **spark.env()}
    finally:
        spark.stop()
        s3.stop()


@pytest.fixture
def pipeline_lake(pipeline_servers, tmp_path, monkeypatch) -> Lake:
    """A fresh lake for a pipeline run against the shared servers: `START` is in S3."""
    from shared.settings import get_settings

    for key, value in pipeline_servers.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MARQUEE_LAKE_ROOT", str(tmp_path / "lake"))
    get_settings.cache_clear()
    return Lake.from_settings()
