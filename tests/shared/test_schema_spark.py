"""The Spark form of the event schema reads the raw log exactly as pyarrow's rows describe it.

This uses a real local SparkSession (Java 17+, the `spark` fixture), so it also proves the
environment can run the data and batch jobs: PYSPARK_PYTHON, the JVM and the pyspark install."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shared.lake import BUSINESS_EVENT_FILES
from shared.schema import EVENTS

pytestmark = pytest.mark.slow


def test_spark_reads_a_clean_day_with_the_contract_schema(spark, clean_dataset):
    out, summary = clean_dataset
    paths = [str(out / "raw/events/dt=2026-01-05" / name) for name in BUSINESS_EVENT_FILES]
    frame = spark.read.schema(EVENTS.spark()).option("mode", "FAILFAST").json(paths)
    rows = frame.orderBy("event_time", "event_type", "event_id").collect()
    assert len(rows) == summary["days"]["2026-01-05"]["events"]
    first = rows[0].asDict()
    assert set(first) == set(EVENTS.names)
    assert isinstance(first["event_time"], dt.datetime) and isinstance(first["position"], int)
    by_type = {r["event_type"]: r["count"] for r in frame.groupBy("event_type").count().collect()}
    assert by_type == summary["days"]["2026-01-05"]["by_type"]


def test_spark_flags_a_wrong_type_instead_of_coercing_it(spark, tmp_path: Path):
    good = '{"event_id":"e1","event_type":"click","event_time":"2026-01-05T20:00:01.250Z","user_id":"u1","session_id":"s","request_id":"r","surface":"ad_break","item_id":"ad00001","position":2,"device":"tv","context_title_id":null,"impression_id":"e0","watch_time_s":null}'  # noqa: E501
    bad = good.replace('"position":2', '"position":"two"')
    (tmp_path / "events.jsonl").write_text(good + "\n" + bad + "\n")
    schema = EVENTS.spark().add("_corrupt_record", "string")
    frame = (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .json(str(tmp_path / "events.jsonl"))
    )
    rows = frame.collect()
    assert [r["_corrupt_record"] is None for r in rows] == [True, False]
