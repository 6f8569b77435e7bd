"""Features: the Spark job equals the pandas reference in `shared.features`, and both are point
in time correct: the features of day D use only what arrived before D."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_mle.features import build_features
from shared.features import FEATURE_TABLES, USER_FEATURES, compute_features
from shared.lake import BRONZE_EVENTS, Lake
from shared.storage import atomic_partition, verify_partition
from tests.data_mle.conftest import DAYS

pytestmark = pytest.mark.slow
D = dt.date(2026, 1, 10)


def _bronze(lake: Lake) -> pd.DataFrame:
    days = lake.days(BRONZE_EVENTS)
    return pd.concat(
        [pq.read_table(lake.bronze_events(d)).to_pandas() for d in days],
        ignore_index=True,
    )


def _spark_tables(lake: Lake, as_of: dt.date) -> list[pd.DataFrame]:
    return [
        pq.read_table(lake.features(t.name, as_of) / "part-0.parquet").to_pandas()
        for t in FEATURE_TABLES
    ]


@pytest.mark.parametrize("as_of", [DAYS[1], DAYS[3], DAYS[3] + dt.timedelta(days=1)], ids=str)
def test_spark_features_equal_the_reference(spark, ingested, as_of):
    lake = ingested[0]
    build_features(spark, lake, as_of)
    reference = compute_features(_bronze(lake), as_of)
    for table, got, want in zip(FEATURE_TABLES, _spark_tables(lake, as_of), reference, strict=True):
        assert list(got.columns) == table.columns
        # Counts are exact; sums and ratios of floats may differ in the last bits (rtol 1e-9).
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, check_dtype=False)
        assert (got.dtypes == want.dtypes).all(), table.name
        manifest = verify_partition(lake.features(table.name, as_of))
        assert manifest["feature_spec_version"] == "1" and manifest["rows"] == len(want)


def _event(event_id, event_type, event_time, ingest_date, **extra) -> dict:
    row = {
        "event_id": event_id, "event_type": event_type,
        "event_time": pd.Timestamp(event_time, tz="UTC"), "user_id": "u1", "session_id": "s1",
        "request_id": "r1", "surface": "home_row", "item_id": "t000001", "position": 1,
        "device": "tv", "context_title_id": None, "impression_id": None, "watch_time_s": None,
        "is_late": pd.Timestamp(event_time).date() < ingest_date, "ingest_date": ingest_date,
    }  # fmt: skip
    return row | extra


def _write_bronze(lake: Lake, events: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(events).astype({"event_time": "datetime64[us, UTC]"})  # as Spark writes
    for day, rows in frame.groupby("ingest_date"):
        with atomic_partition(lake.bronze_events(day)) as part:
            part.write_table("part-0.parquet", pa.Table.from_pandas(rows, preserve_index=False))
    return frame


@pytest.fixture
def leak_trap(tmp_path: Path) -> tuple[Lake, pd.DataFrame]:
    """A user whose click on D-1 arrives late, on D: a job that filters on event_time < D
    instead of ingest_date < D would count it in D's features."""
    lake = Lake(tmp_path / "lake")
    before = D - dt.timedelta(days=1)
    events = [
        _event("i1", "impression", f"{before} 10:00", before),
        _event("c1", "click", f"{before} 10:00:05", before, impression_id="i1"),
        _event("i2", "impression", f"{before} 23:59", before),
        _event("c2", "click", f"{before} 23:59:30", D, impression_id="i2"),  # late
        _event("i3", "impression", f"{D} 08:00", D),  # D itself: not yet known on D
    ]
    return lake, _write_bronze(lake, events)


def _user(tables) -> pd.Series:
    users = tables[0]
    return users[users.user_id == "u1"].iloc[0]


def test_the_reference_uses_only_what_arrived_before_the_day(leak_trap):
    _, events = leak_trap
    on_d = _user(compute_features(events, D))
    assert (on_d.home_impressions_1d, on_d.home_clicks_1d) == (2, 1)
    after = _user(compute_features(events, D + dt.timedelta(days=1)))
    assert (after.home_impressions_1d, after.home_clicks_1d) == (1, 1)  # D's arrivals only
    assert (after.home_impressions_7d, after.home_clicks_7d) == (3, 2)
    assert after.days_since_last_event == 1 and on_d.days_since_last_event == 1


def test_spark_uses_only_what_arrived_before_the_day(spark, leak_trap):
    lake, events = leak_trap
    for as_of in (D, D + dt.timedelta(days=1)):
        build_features(spark, lake, as_of)
        got = _spark_tables(lake, as_of)[0]
        want = compute_features(events, as_of)[0]
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert _user([got]).home_clicks_7d == 2


def test_a_user_never_seen_in_a_window_gets_zero_counts_and_the_prior():
    events = pd.DataFrame([_event("i1", "impression", f"{D} 10:00", D)])
    users = compute_features(events, D + dt.timedelta(days=3))[0]
    row = users.iloc[0]
    assert row.home_impressions_1d == 0 and row.home_impressions_7d == 1
    assert row.home_ctr_1d == pytest.approx(0.06) and row.ad_ctr_28d == pytest.approx(0.02)
    assert row.days_since_last_event == 3
    assert list(users.columns) == USER_FEATURES.columns


def test_the_first_day_is_a_cold_start_with_empty_tables(spark, tmp_path):
    lake = Lake(tmp_path)
    written = build_features(spark, lake, D)
    for table in FEATURE_TABLES:
        assert written[table.name]["rows"] == 0
        frame = pq.read_table(lake.features(table.name, D)).to_pandas()
        assert list(frame.columns) == table.columns and frame.empty


def test_features_are_recomputed_only_when_their_inputs_change(spark, leak_trap):
    """The publish step of D-1 computes the features of D; the run of D finds them up to date.
    A re-ingested bronze day or a damaged feature file makes them stale."""
    lake, events = leak_trap
    after = D + dt.timedelta(days=1)
    assert not any(t["reused"] for t in build_features(spark, lake, after).values())
    kept = {t.name: verify_partition(lake.features(t.name, after)) for t in FEATURE_TABLES}
    again = build_features(spark, lake, after)
    assert all(t["reused"] for t in again.values())
    assert {n: t["rows"] for n, t in again.items()} == {n: m["rows"] for n, m in kept.items()}

    one_more = _event("i4", "impression", f"{D} 09:00", D)  # D's bronze, re-ingested larger
    on_d = [e for e in events.to_dict("records") if e["ingest_date"] == D]
    _write_bronze(lake, [*on_d, one_more])
    assert not any(t["reused"] for t in build_features(spark, lake, after).values())
    assert _user(_spark_tables(lake, after)).home_impressions_1d == 2

    (lake.features(USER_FEATURES.name, after) / "part-0.parquet").write_bytes(b"damaged")
    assert not build_features(spark, lake, after)[USER_FEATURES.name]["reused"]
    assert _user(_spark_tables(lake, after)).home_impressions_1d == 2
