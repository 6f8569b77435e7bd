"""The raw log's JSON text round-trips to the exact rows it was made from."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from shared.lake import BUSINESS_EVENT_FILES
from shared.presets import get_preset
from shared.raw_log import (
    gzip_bytes,
    join_lines,
    read_business_lines,
    to_json_lines,
    write_business_events,
)
from shared.schema import EVENTS
from shared.simulate import simulate_day
from shared.storage import atomic_partition, read_manifest
from shared.world import build_world


def test_every_line_parses_back_to_its_row():
    events = simulate_day(build_world(get_preset("tiny"), 3, dt.date(2026, 1, 5)), 0).events
    text = join_lines(to_json_lines(events)).decode()
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == events.num_rows
    for line, row in zip(lines, events.to_pylist(), strict=True):
        record = json.loads(line)
        assert list(record) == EVENTS.names
        record["event_time"] = dt.datetime.fromisoformat(record["event_time"])
        assert record == row


def test_timestamps_keep_milliseconds_and_utc():
    table = pa.table(
        {
            c.name: pa.array(
                [dt.datetime(2026, 3, 1, 23, 59, 59, 7000, tzinfo=dt.UTC)]
                if c.kind == "timestamp"
                else [None if not c.required else (1 if c.kind == "int" else "x")],
                type=EVENTS.arrow().field(c.name).type,
            )
            for c in EVENTS.columns
        }
    )
    record = json.loads(join_lines(to_json_lines(table)))
    assert record["event_time"] == "2026-03-01T23:59:59.007Z"
    assert record["watch_time_s"] is None and record["position"] == 1


def test_gzip_is_deterministic():
    data = b'{"a":1}\n' * 1000
    assert gzip_bytes(data) == gzip_bytes(data)


def test_streamed_file_holds_the_same_text_whatever_the_chunk_size(tmp_path):
    import gzip

    from shared.raw_log import read_lines, write_jsonl_gz

    lines = pa.array([f'{{"n":{i}}}\n' for i in range(2500)])
    write_jsonl_gz(tmp_path / "a.gz", lines, chunk_rows=1000)
    write_jsonl_gz(tmp_path / "b.gz", lines, chunk_rows=1000)
    write_jsonl_gz(tmp_path / "c.gz", lines, chunk_rows=7)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert gzip.decompress((tmp_path / "c.gz").read_bytes()) == join_lines(lines)
    assert read_lines(tmp_path / "a.gz") == [f'{{"n":{i}}}' for i in range(2500)]


def test_chunked_formatting_gives_the_same_lines():
    events = simulate_day(build_world(get_preset("tiny"), 3, dt.date(2026, 1, 5)), 0).events
    whole = to_json_lines(events)
    assert join_lines(to_json_lines(events, chunk_rows=1000)) == join_lines(whole)
    assert len(to_json_lines(events.slice(0, 0))) == 0


@pytest.mark.parametrize("count", [0, 1, 5, 10])
def test_a_days_lines_are_shared_by_the_collectors_files_in_order(tmp_path, count):
    lines = pa.array([f'{{"n": {i}}}\n' for i in range(count - 1)] + ['{"x": "a\rb"}\n'][:count])
    with atomic_partition(tmp_path / "dt=2026-01-05") as part:
        write_business_events(part, lines)
    manifest = read_manifest(tmp_path / "dt=2026-01-05")
    assert list(manifest["files"]) == list(BUSINESS_EVENT_FILES)
    rows = [manifest["files"][name]["rows"] for name in BUSINESS_EVENT_FILES]
    assert sum(rows) == count and max(rows) - min(rows) <= 1
    back = read_business_lines(tmp_path / "dt=2026-01-05")
    assert back == [line.encode() for line in lines.to_pylist()], "a \\r stays inside its line"
