"""Spark unit tests on tiny frames: de-duplication of the ingest. Each row is (event_id, file,
line, reason); `mark_duplicates` adds `duplicate_of` and must keep every row."""

from __future__ import annotations

import datetime as dt

import pytest

from data_mle.ingest import mark_duplicates

pytestmark = pytest.mark.slow
LINES = "event_id string, file string, line long, reason string"
EARLIER = "event_id string, day date"


def _marked(rows, earlier=None) -> dict[tuple[str, int], str | None]:
    """`duplicate_of` by (file, line), after checking that no row was added or lost."""
    marked = mark_duplicates(rows, earlier_ids=earlier)
    assert marked.columns == [*rows.columns, "duplicate_of"], (
        f"mark_duplicates returns the input's columns plus `duplicate_of`, got {marked.columns}. "
        "Hint: select(*rows.columns, 'duplicate_of') at the end drops any helper column."
    )
    got = marked.collect()
    assert len(got) == rows.count(), (
        f"mark_duplicates marks rows, it never drops or adds any: {rows.count()} in, {len(got)} "
        "out. Hint: a window keeps every row; a join to earlier ids must be to distinct ids "
        "(and a left join)."
    )
    return {(r.file, r.line): r.duplicate_of for r in got}


def _check(got: dict, want: dict, why: str) -> None:
    wrong = {k: f"{got.get(k)!r}, want {v!r}" for k, v in want.items() if got.get(k) != v}
    assert not wrong, f"duplicate_of by (file, line): {wrong}. {why}"


def test_the_first_line_of_an_event_id_is_kept(spark):
    accepted = spark.createDataFrame(
        [("e1", "a.gz", 3, None), ("e2", "a.gz", 1, None), ("e1", "a.gz", 7, None),
         ("e3", "a.gz", 2, None), ("e1", "a.gz", 9, None)],
        LINES,
    )  # fmt: skip
    want = {("a.gz", 3): None, ("a.gz", 1): None, ("a.gz", 2): None,
            ("a.gz", 7): "same_day", ("a.gz", 9): "same_day"}  # fmt: skip
    _check(
        _marked(accepted),
        want,
        "e1 is on lines 3, 7 and 9: the first (line 3) is kept, the later two are `same_day`. "
        "Hint: row_number() over a window partitioned by event_id, ordered by file, then line.",
    )


def test_files_are_ordered_by_name_then_line(spark):
    accepted = spark.createDataFrame([("e1", "b.gz", 1, None), ("e1", "a.gz", 5, None)], LINES)
    _check(
        _marked(accepted),
        {("a.gz", 5): None, ("b.gz", 1): "same_day"},
        "the kept line is the first by file name, then line: a.gz line 5 comes before b.gz line 1.",
    )


def test_an_id_an_earlier_day_holds_is_removed(spark):
    accepted = spark.createDataFrame([("e1", "a.gz", 1, None), ("e2", "a.gz", 2, None)], LINES)
    earlier = spark.createDataFrame([("e2", dt.date(2026, 1, 5))], EARLIER)
    _check(
        _marked(accepted, earlier),
        {("a.gz", 1): None, ("a.gz", 2): "earlier_day"},
        "e2 is already in the bronze of an earlier day: today's line is an `earlier_day` "
        "duplicate. Hint: left-join the distinct earlier ids (broadcast: they are few).",
    )


def test_a_quarantined_line_does_not_make_an_accepted_one_a_duplicate(spark):
    rows = spark.createDataFrame(
        [("e1", "a.gz", 1, "wrong_type"), ("e1", "a.gz", 2, None), ("e1", "a.gz", 3, None)],
        LINES,
    )
    _check(
        _marked(rows),
        {("a.gz", 1): None, ("a.gz", 2): None, ("a.gz", 3): "same_day"},
        "line 1 of e1 was quarantined (never in bronze), so line 2 is the first accepted one "
        "and is kept; only line 3 is a duplicate. Hint: order the window by accepted lines "
        "first (`~accepted`: false sorts before true), then file and line.",
    )


def test_an_id_seen_earlier_is_never_kept_and_quarantined_lines_are_never_marked(spark):
    rows = spark.createDataFrame(
        [("e1", "a.gz", 1, None), ("e1", "a.gz", 2, None), ("e2", "a.gz", 3, "malformed_json"),
         ("e3", "a.gz", 4, None)],
        LINES,
    )  # fmt: skip
    # Three earlier days' bronze: e1 twice (a re-send already kept once is still one id).
    earlier = spark.createDataFrame(
        [("e1", dt.date(2026, 1, 3)), ("e1", dt.date(2026, 1, 4)), ("e2", dt.date(2026, 1, 4))],
        EARLIER,
    )
    got = _marked(rows, earlier)
    _check(
        got,
        {("a.gz", 1): "earlier_day", ("a.gz", 3): None, ("a.gz", 4): None},
        "e1's first line today is an `earlier_day` duplicate (bronze already holds e1); e2's "
        "line was quarantined, and `duplicate_of` is null for every quarantined line: it is "
        "counted once, under its reason.",
    )
    assert got[("a.gz", 2)] in ("same_day", "earlier_day"), (
        f"e1's second line today is a duplicate too, got {got[('a.gz', 2)]!r}: no line of an "
        "id an earlier day holds is ever kept."
    )
