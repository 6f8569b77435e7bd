"""Hand-made raw lines with the reason each must get: every rule of the contract, and the bytes
that used to crash the ingest (invalid UTF-8, control characters, integers beyond int32, NaN and
Infinity, duplicate keys, a megabyte id), and `reseal` to put lines into a raw partition.
Shared by the parity and the end-to-end tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from shared.storage import atomic_partition, read_manifest
from tests.records import DROP, VALID_EVENT, event_line


def reseal(
    partition: Path,
    texts: dict[str, bytes | None] | None = None,
    files: dict[str, tuple[bytes, int]] | None = None,
) -> None:
    """Rewrite a raw partition as its writer would have sealed it, with a correct manifest:
    `texts` (name -> lines, gzipped here; None removes the file) and `files` (name -> the
    file's exact bytes and the lines its manifest says it holds) replace or join its own."""
    texts, files = texts or {}, files or {}
    new = {name: (gzip.compress(t, mtime=0), t.count(b"\n")) for name, t in texts.items() if t}
    new |= files
    old = {
        name: (data := (partition / name).read_bytes(), gzip.decompress(data).count(b"\n"))
        for name in read_manifest(partition)["files"]
        if name not in texts and name not in files
    }
    with atomic_partition(partition) as part:
        for name, (data, rows) in (old | new).items():
            part.write_bytes(name, data, rows=rows)


def _line(**changes: object) -> bytes:
    return event_line(**changes).encode()


def _raw(old: str, new: bytes) -> bytes:
    """The valid event's JSON with the text `old` replaced by raw bytes."""
    line = event_line().encode()
    assert old.encode() in line, old
    return line.replace(old.encode(), new, 1)


def _nested_duplicate() -> bytes:
    return _raw('"ad00001"', b'{"a": 1, "a": 2}')


PLAY = {"event_type": "play", "watch_time_s": 12.5}
# name -> (the line's bytes, the reason it must get; None: accepted)
CASES: dict[str, tuple[bytes, str | None]] = {
    "clean click": (_line(), None),
    "clean play": (_line(**PLAY), None),
    "clean play, integer seconds": (_line(event_type="play", watch_time_s=30), None),
    "clean impression, nulls": (_line(event_type="impression", impression_id=None), None),
    "clean, optional fields left out": (_line(context_title_id=DROP, impression_id=DROP), None),
    "clean, a zone offset": (_line(event_time="2026-01-05T21:00:01.250+01:00"), None),
    "clean, whole seconds": (_line(event_time="2026-01-05T20:00:01Z"), None),
    "clean, position 2^31-1": (_line(position=2**31 - 1), None),
    "clean, a 64-character id": (_line(item_id="a" * 64), None),
    "clean, CRLF": (_line() + b"\r", None),
    "clean, no spaces": (json.dumps(VALID_EVENT, separators=(",", ":")).encode(), None),
    # bytes
    "invalid UTF-8 in an id": (_raw("ad00001", b"ad\xff0001"), "invalid_utf8"),
    "a lone continuation byte": (b"\x80" + _line(), "invalid_utf8"),
    "a raw NUL in an id": (_raw('"s1"', b'"s\x001"'), "malformed_json"),
    "a raw ESC in an id": (_raw('"s1"', b'"s\x1b[2J1"'), "malformed_json"),
    "an escaped NUL in an id": (_line(session_id="s\x001"), "impossible_value"),
    "an escaped ESC in an id": (_line(user_id="u\x1b[31m1"), "impossible_value"),
    "a space in an id": (_line(request_id="r 1"), "impossible_value"),
    "a newline in an id": (_line(request_id="r1\n"), "impossible_value"),
    "an empty id": (_line(event_id=""), "impossible_value"),
    "an empty optional id": (_line(impression_id=""), "impossible_value"),
    "a 65-character id": (_line(item_id="a" * 65), "impossible_value"),
    "a 1 MB item_id": (_line(item_id="a" * (1 << 20)), "impossible_value"),
    # JSON
    "cut short": (_line()[:40], "malformed_json"),
    "an empty line": (b"", "malformed_json"),
    "a JSON array": (b"[1, 2]", "malformed_json"),
    "a JSON string": (b'"event"', "malformed_json"),
    "JSON null": (b"null", "malformed_json"),
    "text after the object": (_line() + b" x", "malformed_json"),
    "two objects on one line": (_line() + _line(), "malformed_json"),
    "a bracket after the object": (_line() + b"]", "malformed_json"),
    "single quotes": (_line().replace(b'"', b"'"), "malformed_json"),
    "watch_time_s NaN": (_line(**PLAY | {"watch_time_s": float("nan")}), "malformed_json"),
    "watch_time_s Infinity": (_line(**PLAY | {"watch_time_s": float("inf")}), "malformed_json"),
    "watch_time_s -Infinity": (_line(**PLAY | {"watch_time_s": -float("inf")}), "malformed_json"),
    "a duplicate key": (_line()[:-1] + b', "position": 3}', "duplicate_key"),
    "a duplicate key, same value": (_line()[:-1] + b', "device": "tv"}', "duplicate_key"),
    "a duplicate key in a nested object": (_nested_duplicate(), "duplicate_key"),
    "a duplicate key and a raw NUL": (
        _raw('"s1"', b'"s\x001"')[:-1] + b', "position": 3}',
        "malformed_json",
    ),
    # the contract
    "an added field": (_line(app_version="7.4.1"), "schema_drift"),
    "a renamed field": (_line(user_id=DROP, userId="u0000001"), "schema_drift"),
    "a missing field": (_line(user_id=DROP), "missing_field"),
    "a missing timestamp": (_line(event_time=DROP), "missing_field"),
    "position as a string": (_line(position="3"), "wrong_type"),
    "position 3.0": (_raw('"position": 2', b'"position": 3.0'), "wrong_type"),
    "position 1e3": (_raw('"position": 2', b'"position": 1e3'), "wrong_type"),
    "position true": (_line(position=True), "wrong_type"),
    "position null": (_line(position=None), "wrong_type"),
    "position an object": (_line(position={"n": 2}), "wrong_type"),
    "user_id a number": (_line(user_id=1), "wrong_type"),
    "user_id null": (_line(user_id=None), "wrong_type"),
    "event_time in epoch ms": (_line(event_time=1767643201250), "wrong_type"),
    "event_time without a zone": (_line(event_time="2026-01-05T20:00:01"), "wrong_type"),
    "event_time with a space": (_line(event_time="2026-01-05 20:00:01Z"), "wrong_type"),
    "event_time of February 30": (_line(event_time="2026-02-30T20:00:01Z"), "wrong_type"),
    "event_time in microseconds": (_line(event_time="2026-01-05T20:00:01.250001Z"), "wrong_type"),
    "watch_time_s a string": (_line(**PLAY | {"watch_time_s": "12"}), "wrong_type"),
    "watch_time_s true": (_line(**PLAY | {"watch_time_s": True}), "wrong_type"),
    "an unknown device": (_line(device="console"), "unknown_value"),
    "device a number": (_line(device=3), "unknown_value"),
    "device null": (_line(device=None), "unknown_value"),
    "position 0": (_line(position=0), "impossible_value"),
    "position 2^31": (_line(position=2**31), "impossible_value"),
    "position -2^31-1": (_line(position=-(2**31) - 1), "impossible_value"),
    "position 2^63": (_line(position=2**63), "impossible_value"),
    "position 2^64": (_line(position=2**64), "impossible_value"),
    "position 10^50": (_line(position=10**50), "impossible_value"),
    "watch_time_s 1e308": (_line(**PLAY | {"watch_time_s": 1e308}), "impossible_value"),
    "watch_time_s 1e400": (
        _raw('"watch_time_s": null', b'"watch_time_s": 1e400'),
        "impossible_value",
    ),
    "watch_time_s negative": (_line(**PLAY | {"watch_time_s": -1.0}), "impossible_value"),
    # priority: the first reason in `validate.REASONS` order wins
    "drift and a wrong type": (_line(app_version="7", position="3"), "schema_drift"),
    "a wrong type and an unknown value": (_line(position="3", device="console"), "wrong_type"),
}
