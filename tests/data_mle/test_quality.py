"""Every quality gate passes on clean numbers and trips on numbers made to trip it; on Spark, a
day with half its events missing fails with a message that names the gate."""

from __future__ import annotations

import datetime as dt
import gzip
import math
from dataclasses import asdict

import pandas as pd
import pytest

from data_mle.ingest import ingest_day
from data_mle.quality import (
    DayProfile,
    GateConfig,
    QualityGateError,
    QualityReport,
    evaluate,
    profile_day,
    psi,
    run_gates,
    trailing_profiles,
)
from shared.lake import BUSINESS_EVENT_FILES
from shared.schema import DEVICES, EVENT_TYPES, SURFACES
from shared.storage import read_manifest, to_json_text
from tests.data_mle.conftest import DAYS, land

HOURS = {str(h): 1 / 24 for h in range(24)}


def _profile(**changes) -> DayProfile:
    profile = {
        "day": "2026-01-06",
        "rows": 6000,
        "input_lines": 6100,
        "quarantined": 60,
        "duplicates": 40,
        "late": 10,
        "schema_missing": [],
        "null_share": {"context_title_id": 0.0, "impression_id": 0.0, "watch_time_s": 0.0},
        "ctr": {"ad_break": 0.02, "home_row": 0.065},
        "latest_event": "2026-01-06T23:58:00+00:00",
        "shares": {
            "device": {"tv": 0.45, "mobile": 0.35, "web": 0.12, "tablet": 0.08},
            "hour": dict(HOURS),
        },
    }
    profile.update(changes)
    return DayProfile(**profile)


def _failed(profile: DayProfile, trailing: list[DayProfile] | None = None) -> set[str]:
    trailing = [_profile(day="2026-01-05")] if trailing is None else trailing
    return {r.name for r in evaluate(profile, trailing, GateConfig()) if not r.passed}


def test_clean_numbers_pass_every_gate():
    results = evaluate(_profile(), [_profile(day="2026-01-05")], GateConfig())
    assert {r.name for r in results} >= {
        "schema", "quarantine_share", "duplicate_share", "null_share", "freshness",
        "ctr_ad_break", "ctr_home_row", "volume", "drift",
    }  # fmt: skip
    assert all(r.passed for r in results)


def _shifted_hours() -> dict:
    night = {str(h): (0.09 if h < 8 else 0.28 / 16) for h in range(24)}
    return {"device": _profile().shares["device"], "hour": night}


@pytest.mark.parametrize(
    ("changes", "gate"),
    [
        ({"schema_missing": ["event_time timestamp"]}, "schema"),
        ({"quarantined": 1200}, "quarantine_share"),
        ({"duplicates": 500}, "duplicate_share"),
        ({"null_share": {"context_title_id": 0.3, "impression_id": 0.0}}, "null_share"),
        ({"latest_event": "2026-01-06T17:00:00+00:00"}, "freshness"),
        ({"latest_event": None}, "freshness"),
        ({"ctr": {"ad_break": 0.2, "home_row": 0.065}}, "ctr_ad_break"),
        ({"ctr": {"ad_break": 0.02}}, "ctr_home_row"),  # no home-row impressions at all
        ({"rows": 2900}, "volume"),  # half the events missing
        ({"rows": 13000}, "volume"),
        ({"shares": _shifted_hours()}, "drift"),
    ],
)  # fmt: skip
def test_each_gate_trips_on_input_made_to_trip_it(changes: dict, gate: str):
    assert _failed(_profile(**changes)) == {gate}


def test_a_failure_message_names_the_check_the_value_and_the_threshold():
    results = evaluate(_profile(rows=2900), [_profile(day="2026-01-05")], GateConfig())
    volume = next(r for r in results if r.name == "volume")
    assert volume.message == (
        "volume: rows / mean of 1 trailing days = 0.4833, allowed 0.5-2.0: FAILED"
    )


def test_volume_and_drift_wait_for_history():
    assert _failed(_profile(rows=10), trailing=[]) == set()


def test_psi_is_zero_for_equal_distributions_and_grows_with_the_shift(record_property):
    same = psi(HOURS, HOURS)
    assert same == pytest.approx(0.0), f"PSI of a distribution against itself is 0, got {same}"
    shifted = psi(HOURS, _shifted_hours()["hour"])
    assert shifted > GateConfig().max_psi, (
        f"a day with 72% of its events before 08:00 must trip the drift gate (PSI > "
        f"{GateConfig().max_psi}), got PSI {shifted:.4f}"
    )
    record_property("figure", f"PSI of the night-heavy hours against flat hours: {shifted:.4f}")


def test_psi_matches_a_hand_worked_example():
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    got = psi({"a": 0.5, "b": 0.5}, {"a": 0.8, "b": 0.2})
    assert got == pytest.approx(expected), (
        f"psi(expected=50/50, actual=80/20) should be {expected:.4f}, got {got!r}. PSI sums "
        "(actual - expected) * ln(actual / expected) over the buckets of `expected`."
    )


def test_psi_of_an_emptied_bucket_is_large_but_finite():
    floor = 1e-4
    expected = (floor - 0.5) * math.log(floor / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    got = psi({"a": 0.5, "b": 0.5}, {"b": 1.0}, floor=floor)
    assert math.isfinite(got), (
        f"a bucket with no events today gave PSI {got}: ln(0) is -infinity, so clip both shares "
        "to `floor` before taking the log"
    )
    assert got == pytest.approx(expected), (
        f"with bucket 'a' missing today, PSI should be {expected:.4f} (its share counted as "
        f"floor={floor}), got {got:.4f}"
    )


@pytest.mark.slow
def test_clean_and_mildly_faulty_days_pass_on_spark(spark, ingested):
    lake, _, _ = ingested
    for day in DAYS:
        report = run_gates(spark, lake, day)
        assert report.passed
        saved = QualityReport.read(lake, day)  # the file holds exactly what was returned
        assert saved is not None and to_json_text(asdict(saved)) == to_json_text(asdict(report))
    assert len(trailing_profiles(lake, DAYS[-1] + dt.timedelta(days=1))) == len(DAYS)


def _pandas_profile(events: pd.DataFrame) -> dict:
    """The profile's numbers computed the plain way, from the same bronze rows."""
    rows = len(events)
    must_have = {
        "context_title_id": events["surface"] == "ad_break",
        "impression_id": events["event_type"] != "impression",
        "watch_time_s": events["event_type"] == "play",
    }
    ctr = {}
    for surface in SURFACES:
        of = events[events["surface"] == surface]["event_type"]
        if (of == "impression").any():
            ctr[surface] = (of == "click").sum() / (of == "impression").sum()
    hours = events["event_time"].dt.hour
    return {
        "rows": rows,
        "null_share": {n: events.loc[m, n].isna().mean() for n, m in must_have.items()},
        "ctr": ctr,
        "latest_event": events["event_time"].max().isoformat(),
        "shares": {
            "device": {v: (events["device"] == v).sum() / rows for v in DEVICES},
            "surface": {v: (events["surface"] == v).sum() / rows for v in SURFACES},
            "event_type": {v: (events["event_type"] == v).sum() / rows for v in EVENT_TYPES},
            "hour": {str(h): (hours == h).sum() / rows for h in range(24)},
        },
    }


@pytest.mark.slow
def test_the_profile_is_the_plain_count_of_the_day_read_in_one_spark_job(spark, ingested):
    lake, _, _ = ingested
    day = DAYS[1]  # a faulty day: quarantined lines, duplicates, late events
    path = lake.bronze_events(day)
    bronze = spark.read.parquet(str(path))  # reading the schema is a job of its own
    tracker, group = spark.sparkContext.statusTracker(), "profile-one-job"
    spark.sparkContext.setJobGroup(group, "profile_day")
    # Adaptive execution runs a shuffle's stages as jobs of their own: off, one action is one job.
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        profile = profile_day(bronze, day, read_manifest(path)["reconciliation"])
    finally:
        spark.conf.unset("spark.sql.adaptive.enabled")
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    jobs = tracker.getJobIdsForGroup(group)
    assert len(jobs) == 1, f"the profile should read the day once, it ran {len(jobs)} jobs"

    expected = _pandas_profile(pd.read_parquet(path))
    got = asdict(profile)
    assert got["latest_event"] == expected.pop("latest_event")
    assert got["rows"] == expected.pop("rows") > 0
    for key, value in expected.items():
        if key == "shares":
            for dimension, shares in value.items():
                assert got[key][dimension] == pytest.approx(shares), f"shares of {dimension}"
        else:
            assert got[key] == pytest.approx(value), f"{key}: {got[key]} != {value}"


@pytest.mark.slow
def test_a_day_missing_half_its_events_fails_the_volume_gate(spark, clean_dataset, tmp_path):
    world, _ = clean_dataset
    lake = land(world, tmp_path / "lake")
    first, second = DAYS[0], DAYS[1]
    ingest_day(spark, lake, first)
    run_gates(spark, lake, first)
    for name in BUSINESS_EVENT_FILES:  # an upload that lost half its events
        raw = lake.raw_events(second) / name
        lines = gzip.decompress(raw.read_bytes()).splitlines(keepends=True)
        raw.write_bytes(gzip.compress(b"".join(lines[::2])))
    ingest_day(spark, lake, second)

    with pytest.raises(QualityGateError, match=r"volume: rows / mean of 1 trailing days = 0\.\d+"):
        run_gates(spark, lake, second)
    report = QualityReport.read(lake, second)
    assert report is not None and not report.passed
    assert [g.name for g in report.failures()] == ["volume"]
    # A failed day is no baseline for the next one.
    assert [p.day for p in trailing_profiles(lake, second + dt.timedelta(days=1))] == [
        first.isoformat()
    ]
