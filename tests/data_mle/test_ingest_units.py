"""Spark unit tests on tiny frames: de-duplication of the ingest, checked with pyspark's own
DataFrame assertions."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.testing import assertDataFrameEqual

from data_mle.ingest import mark_duplicates

pytestmark = pytest.mark.slow
LINES = "event_id string, file string, line long, reason string"


def test_the_first_line_of_an_event_id_is_kept(spark):
    accepted = spark.createDataFrame(
        [("e1", "a.gz", 3, None), ("e2", "a.gz", 1, None), ("e1", "a.gz", 7, None),
         ("e3", "a.gz", 2, None), ("e1", "a.gz", 9, None)],
        LINES,
    )  # fmt: skip
    expected = spark.createDataFrame(
        [("e1", "a.gz", 3, None, None), ("e2", "a.gz", 1, None, None),
         ("e3", "a.gz", 2, None, None), ("e1", "a.gz", 7, None, "same_day"),
         ("e1", "a.gz", 9, None, "same_day")],
        f"{LINES}, duplicate_of string",
    )  # fmt: skip
    assertDataFrameEqual(mark_duplicates(accepted, earlier_ids=None), expected)


def test_files_are_ordered_by_name_then_line(spark):
    accepted = spark.createDataFrame([("e1", "b.gz", 1, None), ("e1", "a.gz", 5, None)], LINES)
    marked = mark_duplicates(accepted, earlier_ids=None)
    assertDataFrameEqual(
        marked.filter("duplicate_of IS NULL").select("file", "line"), [("a.gz", 5)]
    )


def test_an_id_an_earlier_day_holds_is_removed(spark):
    accepted = spark.createDataFrame([("e1", "a.gz", 1, None), ("e2", "a.gz", 2, None)], LINES)
    earlier = spark.createDataFrame([("e2", dt.date(2026, 1, 5))], "event_id string, day date")
    marked = mark_duplicates(accepted, earlier_ids=earlier)
    assertDataFrameEqual(
        marked.select("event_id", "duplicate_of"), [("e1", None), ("e2", "earlier_day")]
    )


def test_a_quarantined_line_does_not_make_an_accepted_one_a_duplicate(spark):
    rows = spark.createDataFrame(
        [("e1", "a.gz", 1, "wrong_type"), ("e1", "a.gz", 2, None), ("e1", "a.gz", 3, None)],
        LINES,
    )
    marked = mark_duplicates(rows, earlier_ids=None)
    assertDataFrameEqual(
        marked.select("line", "duplicate_of"), [(1, None), (2, None), (3, "same_day")]
    )
