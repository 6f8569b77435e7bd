"""The web app's event log: what visitors were shown and what they clicked, checked against the
event contract, kept on local disk first, then shipped to S3 raw in batches.

    log = FeedbackLog(spool_dir, bucket)
    log.open_day(day)
    log.append(records)          # already validated (`check_events`); written to disk at once
    log.flush()                  # -> s3://bucket/raw/events/dt=DAY/feedback-0001-<id>.jsonl.gz

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


def check_events(
    events: list[Any], day: dt.date, served: set[str] | frozenset[str] = frozenset()
) -> list[dict]:
    """Validate raw event objects with the strict event schema (the one ingest applies), check
    they belong to the open `day`, and that clicks and plays point at an impression the app
    served (or one earlier in the same batch). Returns typed records, or raises EventError
    for the whole batch: a batch is kept whole or not at all."""
    model = EVENTS.pydantic()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1) + FUTURE_TOLERANCE
    records, problems, seen = [], [], set(served)
    for i, event in enumerate(events):
        try:
            record = model.model_validate_json(json.dumps(event)).model_dump()
        except ValidationError as error:
            reason, detail = reason_for(error)
            problems.append({"index": i, "reason": reason, "detail": detail})
            continue
        except (TypeError, ValueError) as error:  # not JSON-serialisable at all
            problems.append({"index": i, "reason": "malformed_json", "detail": str(error)})
            continue
        if not start <= record["event_time"] < end:
            problems.append(
                {
                    "index": i,
                    "reason": "wrong_day",
                    "detail": f"event_time {record['event_time'].isoformat()} is not "
                    f"on the open day {day}",
                }
            )
            continue
        if record["event_type"] == "impression":
            seen.add(record["event_id"])
        elif record["impression_id"] not in seen:
            problems.append(
                {
                    "index": i,
                    "reason": "unknown_impression",
                    "detail": f"impression_id {record['impression_id']!r} was not "
                    "served by this app today",
                }
            )
            continue
        records.append(record)
    if problems:
        raise EventError(problems)
    return records


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
        self.served: set[str] = set()  # impression ids of the open day
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
            self.day, self.served, self.counts, self.recent = day, set(), DayCounts(), []
            self._pending().parent.mkdir(parents=True, exist_ok=True)

    def append(self, records: list[dict]) -> None:
        """Write validated records to the spool (to disk before returning) and count them."""
        if not records:
            return
        table = pa.Table.from_pylist(records, schema=EVENTS.arrow())
        text = join_lines(to_json_lines(table))
        with self._lock:
            if self.day is None:
                raise RuntimeError("no day is open")
            with open(self._pending(), "ab") as f:
                f.write(text)
                f.flush()
            for record in records:
                kind = record["event_type"]
                self.counts.by_type[kind] = self.counts.by_type.get(kind, 0) + 1
                if kind == "impression":
                    self.served.add(record["event_id"])
                else:
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
