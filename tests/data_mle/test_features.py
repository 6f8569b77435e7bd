"""Features: the Spark job equals the pandas reference in `shared.features`, and both are point
in time correct: the features of day D use only what arrived before D."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_mle.features import bronze_days_before, build_features, known_before
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


def _same_as_reference(got: pd.DataFrame, want: pd.DataFrame, what: str, **tolerance) -> None:
    """`got` (Spark) equals `want` (the pandas reference), or a message that says how to look."""
    try:
        pd.testing.assert_frame_equal(got, want, check_dtype=False, **tolerance)
    except AssertionError as error:
        raise AssertionError(
            f"{what}: the Spark table differs from the pandas reference "
            f"(shared.features.compute_features), which is the contract:\n{error}\nHint: "
            "events count for day D only if they *arrived* before D (ingest_date < D), and a "
            "window of w days holds the arrival days D-w .. D-1."
        ) from None


@pytest.mark.parametrize("as_of", [DAYS[1], DAYS[3], DAYS[3] + dt.timedelta(days=1)], ids=str)
def test_spark_features_equal_the_reference(spark, ingested, as_of):
    lake = ingested[0]
    build_features(spark, lake, as_of)
    reference = compute_features(_bronze(lake), as_of)
    for table, got, want in zip(FEATURE_TABLES, _spark_tables(lake, as_of), reference, strict=True):
        assert list(got.columns) == table.columns, (
            f"{table.name}: expected the contract's columns in order {table.columns}, got "
            f"{list(got.columns)}. Hint: `_with_ctrs` adds the CTRs and orders the columns."
        )
        # Counts are exact; sums and ratios of floats may differ in the last bits (rtol 1e-9).
        _same_as_reference(got, want, f"{table.name} as of {as_of}", check_exact=False, rtol=1e-9)
        wrong = {
            c: f"{got[c].dtype}, want {want[c].dtype}" for c in got if got[c].dtype != want[c].dtype
        }
        assert not wrong, f"{table.name}: column types differ from the reference: {wrong}"
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
        _same_as_reference(got, want, f"user features of the leak trap as of {as_of}")
    clicks = _user([got]).home_clicks_7d
    assert clicks == 2, f"as of D+1 both clicks have arrived: home_clicks_7d 2, got {clicks}"


def test_a_late_click_counts_from_the_day_after_it_arrived(spark, leak_trap, record_property):
    """The click c2 happened on D-1 at 23:59:30 but arrived on D: the features of D (made
    before D began, as serving saw them) cannot know it; those of D+1 do."""
    lake, _ = leak_trap
    rows = {}
    for as_of in (D, D + dt.timedelta(days=1)):
        build_features(spark, lake, as_of)
        user = _user(_spark_tables(lake, as_of))
        rows[as_of] = user
        cols = ["home_impressions_1d", "home_clicks_1d", "home_impressions_7d", "home_clicks_7d"]
        got = tuple(int(user[c]) for c in cols)
        want = (2, 1, 2, 1) if as_of == D else (1, 1, 3, 2)
        assert got == want, (
            f"as of {as_of}, {cols}: expected {want}, got {got}. "
            + (
                "On D only i1, c1 and i2 had arrived (on D-1); c2 arrived on D and i3 happened "
                "on D: counting c2 means filtering on event_time, counting i3 means <= D. "
                if as_of == D
                else "On D+1 the 1-day window is D's arrivals only (c2 and i3); the 7-day "
                "window holds all five. "
            )
            + "Hint: filter on ingest_date: as_of - days <= ingest_date < as_of."
        )
        days = int(user.days_since_last_event)
        assert days == 1, (
            f"as of {as_of}, days_since_last_event: expected 1 (the last arrival day before it "
            f"was the day before), got {days}. Hint: datediff(as_of, max(ingest_date))."
        )
    record_property(
        "figure",
        f"u1's home_clicks_7d: {int(rows[D].home_clicks_7d)} as of D (the late click not yet "
        f"known), {int(rows[D + dt.timedelta(days=1)].home_clicks_7d)} as of D+1",
    )


def test_the_features_of_a_day_read_the_28_arrival_days_before_it(tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    offsets = (-40, -29, -28, -7, -1, 0, 1)
    for k in offsets:  # bronze partitions from 40 days before D to the day after
        lake.bronze_events(D + dt.timedelta(days=k)).mkdir(parents=True)
    got = [(d - D).days for d in bronze_days_before(lake, D)]
    assert got == [-28, -7, -1], (
        f"of the bronze days {list(offsets)} (relative to D), the features of D read "
        f"[-28, -7, -1], got {got}. D's own partition (0) and later ones arrived after D began: "
        "reading them is how a leak starts; before D-28 is outside every window. Hint: "
        "lake.days(BRONZE_EVENTS), kept when D - 28 <= day < D, in order."
    )


def test_known_before_keeps_what_arrived_in_the_window(spark):
    rows = [  # (event_id, event_time, ingest_date), relative to D
        ("arrived-d-1", -1, -1),
        ("late-arrived-d-1", -2, -1),  # happened 2 days before, arrived the day before
        ("happened-d-1-arrived-d", -1, 0),  # the leak: known only from D on
        ("arrived-d", 0, 0),
        ("arrived-d-7", -7, -7),
        ("arrived-d-8", -8, -8),
        ("late-arrived-d-7", -9, -7),
        ("happened-d-7-arrived-d-6", -7, -6),
    ]
    events = spark.createDataFrame(
        [
            (name, dt.datetime.combine(D + dt.timedelta(days=t), dt.time(23, 59), dt.UTC),
             D + dt.timedelta(days=i))
            for name, t, i in rows
        ],
        "event_id string, event_time timestamp, ingest_date date",
    )  # fmt: skip
    got = sorted(r.event_id for r in known_before(events, D, 7).collect())
    want = sorted(n for n, _, i in rows if -7 <= i <= -1)
    assert got == want, (
        f"known_before(events, D, days=7) must keep what arrived D-7 .. D-1: expected {want}, "
        f"got {got}. Hint: filter on ingest_date (when the pipeline knew the event), never on "
        "event_time (when it happened): a late event belongs to the day it arrived."
    )


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
