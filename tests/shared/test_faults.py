"""Fault injection: each kind corrupts exactly the requested number of lines, the ledger names
every one, and the lines of each partition reconcile with the clean events."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from shared.faults import FAULT_KINDS, FaultConfig
from shared.raw_log import read_business_lines
from shared.schema import EVENTS
from tests.conftest import FAULT_RATE

EventRecord = EVENTS.pydantic()
DAYS = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]
FAULTED = {"2026-01-06", "2026-01-07"}  # days 1 and 2 of the fixture


def _ledger(out: Path, day: str):
    return pq.read_table(out / f"truth/faults/dt={day}/ledger.parquet").to_pandas()


def _lines(out: Path, day: str) -> list[str]:
    return [
        line.decode().rstrip("\n") for line in read_business_lines(out / f"raw/events/dt={day}")
    ]


def _parsed(line: str) -> dict:
    """The record of a line, or {} for a line that is not JSON at all."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return {}


def _broken(line: str) -> bool:
    try:
        EventRecord.model_validate_json(line)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("day", DAYS)
def test_each_kind_corrupts_exactly_the_requested_count(faulty_dataset, day: str):
    out, summary = faulty_dataset
    counts = json.loads((out / "_faults.json").read_text())["days"][day]
    events = summary["days"][day]["events"]
    for kind in FAULT_KINDS:
        if day not in FAULTED or kind == "late":
            continue
        assert counts[kind] == round(FAULT_RATE * events), kind
    ledger = Counter(_ledger(out, day).kind)
    assert {k: ledger.get(k, 0) for k in FAULT_KINDS} == {k: counts[k] for k in FAULT_KINDS}


def test_days_without_faults_are_clean(faulty_dataset):
    out, _ = faulty_dataset
    lines = _lines(out, "2026-01-05")
    assert not any(_broken(line) for line in lines)
    assert len({json.loads(line)["event_id"] for line in lines}) == len(lines)


@pytest.mark.parametrize("day", DAYS)
def test_lines_reconcile_with_the_clean_events(faulty_dataset, day: str):
    out, summary = faulty_dataset
    counts = json.loads((out / "_faults.json").read_text())["days"][day]
    expected = (
        summary["days"][day]["events"] - counts["late_out"] + counts["late"] + counts["duplicate"]
    )
    assert len(_lines(out, day)) == expected == summary["days"][day]["lines"]


def test_late_events_land_in_the_next_days_partition_with_their_own_time(faulty_dataset):
    out, _ = faulty_dataset
    counts = json.loads((out / "_faults.json").read_text())["days"]
    # Day 1 sends its late events into day 2; day 2's go to day 3, which has no faults itself.
    assert counts["2026-01-07"]["late"] == counts["2026-01-06"]["late_out"] > 0
    assert counts["2026-01-08"]["late"] == counts["2026-01-07"]["late_out"] > 0
    late_ids = set(_ledger(out, "2026-01-07").query("kind == 'late'").event_id)
    late_times = [
        r["event_time"]
        for r in map(_parsed, _lines(out, "2026-01-07"))
        if r.get("event_id") in late_ids
    ]
    assert len(late_times) == len(late_ids)
    assert all(t.startswith("2026-01-06") for t in late_times)
    earlier_ids = {
        json.loads(x).get("event_id") for x in _lines(out, "2026-01-06") if not _broken(x)
    }
    assert not late_ids & earlier_ids, "a late event is moved, not copied"


def test_duplicates_are_exact_copies(faulty_dataset):
    out, _ = faulty_dataset
    lines = _lines(out, "2026-01-06")
    dup_ids = set(_ledger(out, "2026-01-06").query("kind == 'duplicate'").event_id)
    by_id: dict[str, list[str]] = {}
    for line in lines:
        if not _broken(line):
            by_id.setdefault(json.loads(line)["event_id"], []).append(line)
    assert {i for i, copies in by_id.items() if len(copies) > 1} == dup_ids
    assert all(len(set(by_id[i])) == 1 and len(by_id[i]) == 2 for i in dup_ids)


@pytest.mark.parametrize(
    ("kind", "symptom"),
    [
        ("malformed", "json_invalid"),
        ("wrong_type", "_type"),
        ("missing_field", "missing"),
        ("unknown_enum", "literal_error"),
        ("impossible_value", "greater_than_equal"),
        ("added_field", "extra_forbidden"),
        ("renamed_field", "extra_forbidden"),
    ],
)
def test_each_corrupted_line_fails_validation_for_its_reason(faulty_dataset, kind, symptom):
    out, _ = faulty_dataset
    ledger = _ledger(out, "2026-01-06").query("kind == @kind")
    # A line that lost its own event_id cannot be found by it; the others must all fail.
    ids = set(ledger.query("detail != 'event_id left out'").event_id)
    assert ids
    failures = []
    for line in _lines(out, "2026-01-06"):
        try:
            EventRecord.model_validate_json(line)
        except ValidationError as error:
            failures.append((line, {e["type"] for e in error.errors()}))
    hits = [errs for line, errs in failures if any(f'"event_id":"{i}"' in line for i in ids)]
    if kind != "malformed":  # a cut line may have lost its own id
        assert len(hits) == len(ids)
    assert hits and all(any(symptom in e for e in errs) for errs in hits)


def test_clock_skew_puts_events_after_their_partition(faulty_dataset):
    out, _ = faulty_dataset
    ids = set(_ledger(out, "2026-01-06").query("kind == 'clock_skew'").event_id)
    times = [
        json.loads(line)["event_time"]
        for line in _lines(out, "2026-01-06")
        if not _broken(line) and json.loads(line)["event_id"] in ids
    ]
    assert len(times) == len(ids)
    assert all(t[:10] > "2026-01-06" for t in times)


def test_fault_configuration_is_validated():
    with pytest.raises(ValueError, match="within 0..1"):
        FaultConfig({"malformed": 1.5})
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultConfig({"gremlins": 0.1})
    with pytest.raises(ValueError, match="more than 1"):
        FaultConfig({"malformed": 0.6, "late": 0.6})
    with pytest.raises(ValueError, match="cannot read faults"):
        FaultConfig.parse("malformed=lots")
    assert FaultConfig.parse("0.02").rates == dict.fromkeys(FAULT_KINDS, 0.02)
    assert FaultConfig.parse("late=0.1", "1,3").days == (1, 3)
