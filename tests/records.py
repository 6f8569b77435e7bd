"""Hand-made records for the tests: one valid raw event, and variations of it."""

from __future__ import annotations

import json

VALID_EVENT = {
    "event_id": "e1",
    "event_type": "click",
    "event_time": "2026-01-05T20:00:01.250Z",
    "user_id": "u0000001",
    "session_id": "s1",
    "request_id": "r1",
    "surface": "ad_break",
    "item_id": "ad00001",
    "position": 2,
    "device": "tv",
    "context_title_id": "t000001",
    "impression_id": "e0",
    "watch_time_s": None,
}
DROP = object()  # a value that removes its field


def event_line(**changes: object) -> str:
    """The valid event as a JSON line, with `changes` applied (a field set to DROP is left out)."""
    record = {**VALID_EVENT, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not DROP})
