"""Spark unit tests on tiny frames: de-duplication and the time rules of the ingest, checked
with pyspark's own DataFrame assertions."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.testing import assertDataFrameEqual

from data_mle.ingest import deduplicate

pytestmark = pytest.mark.slow


def test_the_first_line_of_an_event_id_is_kept(spark):
    accepted = spark.createDataFrame(
        [("e1", 3), ("e2", 1), ("e1", 7), ("e3", 2), ("e1", 9)], "event_id string, line long"
    )
    kept, removed = deduplicate(accepted, earlier_ids=None)
    assertDataFrameEqual(kept, [("e1", 3), ("e2", 1), ("e3", 2)])
    expected = spark.createDataFrame(
        [("e1", 7, "same_day"), ("e1", 9, "same_day")],
        "event_id string, line long, duplicate_of string",
    )
    assertDataFrameEqual(removed, expected)


def test_an_id_an_earlier_day_holds_is_removed(spark):
    accepted = spark.createDataFrame([("e1", 1), ("e2", 2)], "event_id string, line long")
    earlier = spark.createDataFrame([("e2", dt.date(2026, 1, 5))], "event_id string, day date")
    kept, removed = deduplicate(accepted, earlier_ids=earlier)
    assertDataFrameEqual(kept, [("e1", 1)])
    assertDataFrameEqual(removed.select("event_id", "duplicate_of"), [("e2", "earlier_day")])
