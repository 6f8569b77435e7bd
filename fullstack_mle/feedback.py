"""The web app's event log: what visitors were shown and what they clicked, checked against the
event contract, kept on local disk first, then shipped to S3 raw in batches.

    log = FeedbackLog(spool_dir, bucket)
    log.open_day(day)
    log.accept(events)           # checked (`check_events`), then written to disk at once
    log.flush()                  # -> RAW_EVENTS.key(DAY) + "/feedback-0001-<id>.jsonl.gz" in S3

Every accepted event is in the day's spool file before the request that sent it is answered, so
a crash loses nothing the app acknowledged; `flush` uploads the spool and only then moves it aside
(a failed upload keeps it for the next flush). One file per flush keeps S3 requests few: a click
costs a local append, not a round trip to S3.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from data_mle.validate import reason_for
from shared.lake import RAW_EVENTS, partition_name
from shared.raw_log import gzip_bytes, join_lines, to_json_lines
from shared.s3 import s3_client
from shared.schema import EVENTS

# An event stamped later than the open day's end by more than data_mle's ingest tolerates would
# be quarantined there as `future_time`; refuse it here, where the sender can still be told.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


class EventError(ValueError):
    """Events that break the contract; `problems` says which and why, one per bad event."""

    def __init__(self, problems: list[dict]):
        super().__init__(f"{len(problems)} event(s) rejected")
        self.problems = problems


@dataclass(frozen=True)
class Served:
    """An impression the app served: whom it was shown to and what. A click must match it."""

    user_id: str
    item_id: str


@dataclass
class DayLedger:
    """What the open day holds, so a client cannot invent what the system did: the impressions
    the app served, the impressions already clicked, and every event id stored."""

    served: dict[str, Served] = field(default_factory=dict)  # impression id -> what was shown
    clicked: set[str] = field(default_factory=set)  # impression ids with their one click
    stored: set[str] = field(default_factory=set)  # event ids in the day's log

    def record(self, records: list[dict]) -> None:
        for r in records:
            self.stored.add(r["event_id"])
            if r["event_type"] == "impression":
                self.served[r["event_id"]] = Served(r["user_id"], r["item_id"])
            elif r["event_type"] == "click":
                self.clicked.add(r["impression_id"])


@dataclass(frozen=True)
class Checked:
    """A batch that passed: the records to store, and the ids re-sent (already stored, or
    repeated within the batch), which are acknowledged but stored once."""

    records: list[dict]
    resent: list[str]


def _problem(i: int, reason: str, detail: str) -> dict:
    return {"index": i, "reason": reason, "detail": detail}


def check_events(
    events: list[Any],
    day: dt.date,
    ledger: DayLedger | None = None,
    *,
    served_by_app: bool = False,
) -> Checked:
    """Validate raw event objects with the strict event schema (the one ingest applies), check
    they belong to the open `day`, and check them against what the app did (`ledger`):

    - impressions come only from the app itself (`served_by_app`), never from a client;
    - a click or play must name an impression served on the day, to the same user, for the same
      item; an impression is clicked at most once;
    - an event id already stored (or repeated in the batch) is a re-send: acknowledged, not
      stored again.

    Returns what to store, or raises EventError for the whole batch: a batch is kept whole or
    not at all."""
    model = EVENTS.pydantic()
    ledger = ledger or DayLedger()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1) + FUTURE_TOLERANCE
    # What this batch adds is kept apart from the day's ledger, which changes only once the
    # whole batch has passed (`DayLedger.record`): nothing of the day is copied per request.
    batch = DayLedger()
    records, resent, problems = [], [], []
    for i, event in enumerate(events):
        try:
            record = model.model_validate_json(json.dumps(event, allow_nan=False)).model_dump()
        except ValidationError as error:
            problems.append(_problem(i, *reason_for(error)))
            continue
        except (TypeError, ValueError) as error:  # not JSON-serialisable, or NaN/Infinity
            problems.append(_problem(i, "malformed_json", str(error)))
            continue
        if not start <= record["event_time"] < end:
            when = record["event_time"].isoformat()
            problems.append(_problem(i, "wrong_day", f"event_time {when} is not on {day}"))
            continue
        if record["event_id"] in ledger.stored or record["event_id"] in batch.stored:
            resent.append(record["event_id"])
            continue
        if record["event_type"] == "impression":
            if not served_by_app:
                why = (
                    "impressions are logged by the app when it serves a visit, not sent by clients"
                )
                problems.append(_problem(i, "client_impression", why))
                continue
        else:
            impression = record["impression_id"]
            shown = ledger.served.get(impression) or batch.served.get(impression)
            clicked = impression in ledger.clicked or impression in batch.clicked
            why = _click_problem(record, shown, clicked)
            if why is not None:
                problems.append(_problem(i, *why))
                continue
        batch.record([record])
        records.append(record)
    if problems:
        raise EventError(problems)
    return Checked(records, resent)


def _click_problem(record: dict, shown: Served | None, clicked: bool) -> tuple[str, str] | None:
    """Why a click or play does not match the impression it names (`shown`, None when the app
    never served it; `clicked`, whether it has its click already), or None when it does."""
    if shown is None:
        return "unknown_impression", (
            f"impression_id {record['impression_id']!r} was not served by this app today"
        )
    if record["user_id"] != shown.user_id:
        return "wrong_user", f"the impression was shown to another user, not {record['user_id']!r}"
    if record["item_id"] != shown.item_id:
        return "wrong_item", f"the impression showed {shown.item_id!r}, not {record['item_id']!r}"
    if record["event_type"] == "click" and clicked:
        return "duplicate_click", f"impression {record['impression_id']!r} was clicked already"
    return None


@dataclass
class DayCounts:
    events: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    flushed: int = 0
    files: list[str] = field(default_factory=list)


class FeedbackLog:
    """The spool of the open day and its uploads. Thread-safe: the app appends from its worker
    threads while an admin request may flush."""

    def __init__(self, spool: Path, bucket: str):
        self.spool = spool
        self.bucket = bucket
        self.day: dt.date | None = None
        self.ledger = DayLedger()  # what the open day holds: served, clicked, stored
        self.counts = DayCounts()
        self.recent: list[dict] = []  # the last clicks, newest first, for the viewer
        self._lock = threading.Lock()

    def _pending(self) -> Path:
        assert self.day is not None
        return self.spool / partition_name(self.day) / "pending.jsonl"

    def open_day(self, day: dt.date) -> None:
        """Start logging `day`. The previous day must have been flushed."""
        with self._lock:
            if self.day is not None and self._pending().exists():
                raise RuntimeError(f"{self.day} still has unflushed events: flush it first")
            self.day, self.ledger, self.counts, self.recent = day, DayLedger(), DayCounts(), []
            self._pending().parent.mkdir(parents=True, exist_ok=True)

    def accept(self, events: list[Any], *, served_by_app: bool = False) -> Checked:
        """Check `events` (`check_events`) against the open day's ledger and store what passes,
        on disk before returning. One lock around both: two requests cannot both click the same
        impression. Raises EventError (nothing stored) or RuntimeError (no day is open)."""
        with self._lock:
            if self.day is None:
                raise RuntimeError("no day is open")
            checked = check_events(events, self.day, self.ledger, served_by_app=served_by_app)
            self._write(checked.records)
            return checked

    def _write(self, records: list[dict]) -> None:
        if not records:
            return
        table = pa.Table.from_pylist(records, schema=EVENTS.arrow())
        with open(self._pending(), "ab") as f:
            f.write(join_lines(to_json_lines(table)))
            f.flush()
        self.ledger.record(records)
        for record in records:
            kind = record["event_type"]
            self.counts.by_type[kind] = self.counts.by_type.get(kind, 0) + 1
            if kind != "impression":
                self.recent.insert(0, {k: str(v) for k, v in record.items() if v is not None})
        self.counts.events += len(records)
        del self.recent[20:]

    def flush(self) -> dict:
        """Upload the spool as the next `feedback-NNNN.jsonl.gz` of the open day."""
        with self._lock:
            if self.day is None:
                raise RuntimeError("no day is open")
            pending = self._pending()
            if not pending.exists() or pending.stat().st_size == 0:
                return {"day": self.day.isoformat(), "key": None, "events": 0}
            data = pending.read_bytes()
            # Numbered within this run of the app, and unique across runs: a restarted app
            # must never overwrite what an earlier one uploaded.
            name = f"feedback-{len(self.counts.files) + 1:04d}-{uuid.uuid4().hex[:8]}.jsonl.gz"
            key = f"{RAW_EVENTS.key(self.day)}/{name}"
            s3_client().put_object(Bucket=self.bucket, Key=key, Body=gzip_bytes(data))
            pending.replace(pending.with_name(f"sent-{name[:-3]}"))  # kept, for the record
            lines = data.count(b"\n")
            self.counts.flushed += lines
            self.counts.files.append(key)
            return {"day": self.day.isoformat(), "key": key, "events": lines}
