"""The app's event log: validation against the event contract, the spool, the upload to S3 raw,
and the sealed partition that data_mle's land step accepts."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pandas as pd
import pytest

from data_mle.land import land_day
from data_mle.validate import validate_lines
from fullstack_mle.feedback import DayLedger, EventError, FeedbackLog, check_events
from fullstack_mle.raw_day import seal_day
from fullstack_mle.visit import click_event
from shared.lake import BUSINESS_EVENT_FILES, RAW_EVENTS, Lake
from shared.s3 import MotoServer, ensure_bucket, list_keys, s3_client
from shared.storage import read_manifest

DAY = dt.date(2026, 1, 6)
BUCKET = "marquee-lake"


def impression(event_id: str = "a" * 24, **changes) -> dict:
    event = {
        "event_id": event_id,
        "event_type": "impression",
        "event_time": "2026-01-06T20:00:00.001Z",
        "user_id": "u000001",
        "session_id": "s" * 16,
        "request_id": "r" * 16,
        "surface": "ad_break",
        "item_id": "ad0001",
        "position": 1,
        "device": "tv",
        "context_title_id": "t0001",
        "impression_id": None,
        "watch_time_s": None,
    }
    return {**event, **changes}


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        ensure_bucket(BUCKET)
        yield server


def test_an_impression_and_its_click_pass_and_come_back_typed():
    shown = impression()
    records = check_events([shown, click_event(shown)], DAY, served_by_app=True).records
    assert [r["event_type"] for r in records] == ["impression", "click"]
    assert records[1]["impression_id"] == shown["event_id"]
    assert records[1]["event_time"] == dt.datetime(2026, 1, 6, 20, 0, 3, 1000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (impression(position="1"), "wrong_type"),  # strict: no coercion, as ingest
        (impression(surface="banner"), "unknown_value"),
        (impression(colour="red"), "schema_drift"),
        ({k: v for k, v in impression().items() if k != "user_id"}, "missing_field"),
        (impression(position=0), "impossible_value"),
        (impression(event_time="2026-01-08T00:00:00Z"), "wrong_day"),
    ],
)
def test_a_bad_event_is_refused_with_ingests_reason(event, reason):
    with pytest.raises(EventError) as caught:
        check_events([event], DAY, served_by_app=True)
    assert caught.value.problems[0]["reason"] == reason
    assert caught.value.problems[0]["index"] == 0


def _ledger(*shown: dict) -> DayLedger:
    """A day on which the app served `shown`."""
    ledger = DayLedger()
    ledger.record(check_events(list(shown), DAY, served_by_app=True).records)
    return ledger


def _refused(events: list[dict], ledger: DayLedger) -> list[str]:
    with pytest.raises(EventError) as caught:
        check_events(events, DAY, ledger)
    return [p["reason"] for p in caught.value.problems]


def test_a_click_on_an_impression_the_app_never_served_is_refused():
    click = click_event(impression())
    assert _refused([click], DayLedger()) == ["unknown_impression"]
    assert check_events([click], DAY, _ledger(impression())).records  # served earlier: fine


def test_a_client_cannot_log_impressions_only_the_app_can():
    assert _refused([impression("f" * 24, item_id="ad99999")], DayLedger()) == ["client_impression"]
    # Not even one followed by a click on it in the same batch: both are refused.
    forged = impression("f" * 24, item_id="ad99999")
    assert _refused([forged, click_event(forged)], DayLedger()) == [
        "client_impression",
        "unknown_impression",
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"user_id": "u000002"}, "wrong_user"),  # someone else's impression
        ({"item_id": "ad0002"}, "wrong_item"),  # a different ad than the one shown
    ],
)
def test_a_click_must_match_the_user_and_item_of_its_impression(changes, reason):
    shown = impression()
    assert _refused([{**click_event(shown), **changes}], _ledger(shown)) == [reason]


def test_an_impression_is_clicked_at_most_once():
    shown = impression()
    ledger = _ledger(shown)
    assert _refused([click_event(shown), click_event(shown)], ledger) == ["duplicate_click"]
    ledger.record(check_events([click_event(shown)], DAY, ledger).records)
    assert _refused([click_event(shown)], ledger) == ["duplicate_click"]  # in a later batch


def test_a_resent_event_id_is_acknowledged_and_stored_once(moto, tmp_path):
    log = FeedbackLog(tmp_path / "spool", BUCKET)
    log.open_day(DAY)
    shown = impression()
    log.accept([shown], served_by_app=True)
    click = click_event(shown)
    first = log.accept([click])
    again = log.accept([click, click])  # a client retry, twice over
    assert (len(first.records), first.resent) == (1, [])
    assert (again.records, again.resent) == ([], [click["event_id"]] * 2)
    assert log.counts.by_type == {"impression": 1, "click": 1}
    shipped = s3_client().get_object(Bucket=BUCKET, Key=log.flush()["key"])["Body"].read()
    assert gzip.decompress(shipped).decode().count(click["event_id"]) == 1


def test_one_bad_event_refuses_the_whole_batch_and_names_it():
    with pytest.raises(EventError) as caught:
        check_events([impression(), impression("b" * 24, device="vcr")], DAY, served_by_app=True)
    assert [p["index"] for p in caught.value.problems] == [1]


def test_the_log_spools_to_disk_then_ships_one_file_per_flush(moto, tmp_path):
    log = FeedbackLog(tmp_path / "spool", BUCKET)
    log.open_day(DAY)
    shown = impression()
    log.accept([shown], served_by_app=True)
    pending = tmp_path / "spool" / "dt=2026-01-06" / "pending.jsonl"
    assert pending.read_text().count("\n") == 1  # on disk before any upload
    log.accept([click_event(shown)])
    first = log.flush()
    assert first["events"] == 2 and not pending.exists()
    log.accept([impression("c" * 24)], served_by_app=True)
    second = log.flush()
    assert first["key"] != second["key"]
    assert log.flush()["key"] is None  # nothing new: no empty file
    body = s3_client().get_object(Bucket=BUCKET, Key=first["key"])["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    assert validate_lines(pd.Series(lines))["reason"].isna().all()
    assert json.loads(lines[1])["impression_id"] == shown["event_id"]
    assert log.counts.by_type == {"impression": 2, "click": 1}


def test_a_new_day_cannot_open_over_unshipped_events(moto, tmp_path):
    log = FeedbackLog(tmp_path / "spool", BUCKET)
    log.open_day(DAY)
    log.accept([impression()], served_by_app=True)
    with pytest.raises(RuntimeError, match="unflushed"):
        log.open_day(DAY + dt.timedelta(days=1))
    log.flush()
    log.open_day(DAY + dt.timedelta(days=1))
    assert log.counts.events == 0 and log.ledger == DayLedger()


def test_a_sealed_day_lists_every_file_and_lands_verified(moto, tmp_path):
    day = dt.date(2026, 1, 9)
    business = gzip.compress(b'{"a": 1}\n{"a": 2}\n')
    s3_client().put_object(
        Bucket=BUCKET, Key=f"{RAW_EVENTS.key(day)}/{BUSINESS_EVENT_FILES[0]}", Body=business
    )
    log = FeedbackLog(tmp_path / "spool", BUCKET)
    log.open_day(day)
    log.accept([impression(event_time="2026-01-09T10:00:00Z")], served_by_app=True)
    log.flush()
    manifest = seal_day(BUCKET, day)
    assert manifest["rows"] == 3 and len(manifest["files"]) == 2
    assert f"{RAW_EVENTS.key(day)}/_manifest.json" in list_keys(BUCKET, RAW_EVENTS.key())
    lake = Lake(tmp_path / "lake")
    landed = land_day(lake, day, BUCKET)  # data_mle's own step: checks every sha256
    assert landed == manifest
    assert read_manifest(lake.raw_events(day))["rows"] == 3
