"""The ingest's Spark rules (`data_mle.rules`) and the pydantic reference (`data_mle.validate`)
give every line the same reason, and accepted lines the same typed values: on hand-made lines
for every rule and every kind of bad byte, and on a generated day with every fault kind."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from pathlib import Path

import pytest

from data_mle.ingest import read_lines
from data_mle.rules import check_lines
from data_mle.validate import check_line
from shared.lake import Lake
from shared.raw_log import read_business_lines
from shared.schema import EVENTS
from tests.data_mle.bad_lines import CASES
from tests.data_mle.conftest import DAYS
from tests.records import event_line

pytestmark = pytest.mark.slow


def _typed(value: object) -> object:
    """A field's value in one comparable form: instants as epoch microseconds."""
    if isinstance(value, dt.datetime):
        return round(value.timestamp() * 1_000_000)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def spark_checked(spark, lines: list[bytes], folder: Path, fast: bool = True):
    """`check_lines` of `lines`, read from a file as the ingest reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lines.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return check_lines(read_lines(spark, folder, ["lines.jsonl.gz"]), fast=fast)


def spark_verdicts(spark, lines: list[bytes], folder: Path, fast: bool = True) -> list[tuple]:
    """(reason, typed fields) of each line, as the ingest reads and checks it from a file."""
    from pyspark.sql import functions as F

    checked = spark_checked(spark, lines, folder, fast)
    fields = [
        F.unix_micros(c.name).alias(c.name) if c.kind == "timestamp" else F.col(c.name)
        for c in EVENTS.columns
    ]
    rows = checked.select("line", "reason", *fields).orderBy("line").collect()
    assert [r["line"] for r in rows] == list(range(1, len(lines) + 1))
    return [
        (r["reason"], None if r["reason"] else tuple(_typed(r[n]) for n in EVENTS.names))
        for r in rows
    ]


def pydantic_verdicts(lines: list[bytes]) -> list[tuple]:
    verdicts = []
    for line in lines:
        record, reason, _ = check_line(line)
        verdicts.append(
            (reason, None if reason else tuple(_typed(record[n]) for n in EVENTS.names))
        )
    return verdicts


def test_pydantic_gives_each_hand_made_line_its_reason():
    got = {name: check_line(line)[1] for name, (line, _) in CASES.items()}
    assert got == {name: reason for name, (_, reason) in CASES.items()}


def test_spark_and_pydantic_agree_on_every_hand_made_line(spark, tmp_path):
    lines = [line for line, _ in CASES.values()]
    spark_side = dict(zip(CASES, spark_verdicts(spark, lines, tmp_path), strict=True))
    pydantic_side = dict(zip(CASES, pydantic_verdicts(lines), strict=True))
    assert spark_side == pydantic_side
    assert {name: v[0] for name, v in spark_side.items()} == {
        name: reason for name, (_, reason) in CASES.items()
    }


def test_spark_and_pydantic_agree_on_a_day_with_every_fault_kind(spark, faulty_dataset, tmp_path):
    world, _ = faulty_dataset
    lines = [
        line.removesuffix(b"\n") for line in read_business_lines(Lake(world).raw_events(DAYS[1]))
    ]
    spark_side = spark_verdicts(spark, lines, tmp_path)
    pydantic_side = pydantic_verdicts(lines)
    differ = [i for i, (s, p) in enumerate(zip(spark_side, pydantic_side, strict=True)) if s != p]
    assert differ == [], f"{len(differ)} lines differ, the first: {lines[differ[0]][:200]!r}"
    assert len({reason for reason, _ in spark_side}) >= 7  # every kind of fault is there


def _as_written(line: bytes) -> bytes | None:
    """`line` as the contract's own writers would put it, if it is a JSON object: compact, the
    contract's keys first and in order (null where absent), any others after. Most such lines
    take the ingest's fast path."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    ordered = {name: record.get(name) for name in EVENTS.names} | record
    return json.dumps(ordered, separators=(",", ":")).encode()


def _written(**changes: object) -> bytes:
    return _as_written(event_line(**changes).encode()) or b""


# Written as the writers write, but wrong: only the fast path's value rules or its round trip
# (to_json of what from_json read) can turn these away.
WRITTEN_WRONG = [
    _written(watch_time_s="NaN", event_type="play"),  # from_json reads "NaN" as a double
    _written(watch_time_s="Infinity", event_type="play"),
    _written(watch_time_s=-0.5, event_type="play"),
    _written(watch_time_s=1e308, event_type="play"),
    _written(event_time="2026-02-30T20:00:01.250Z"),
    _written(event_time="2026-01-05T20:00:01.250+00:00"),  # valid, written differently
    _written(user_id=5),  # from_json reads 5 as the string "5"
    _written(user_id=None),
    _written(device=None),
    _written(position=None),
    _written(position=2**31),
    _written(item_id="\u0000"),
    _written(session_id="a" * 65),
    _written(app_version="1"),
]


def test_the_fast_path_gives_the_full_checks_verdicts(spark, tmp_path):
    """`check_lines` accepts a line written as the contract's writers write it on one reading
    (`rules._clean`); on every hand-made case rewritten that way, and on lines that are written
    that way but wrong, it gives the same verdicts as the full check and the reference."""
    lines = [w for line, _ in CASES.values() if (w := _as_written(line))] + WRITTEN_WRONG
    fast = spark_verdicts(spark, lines, tmp_path / "fast")
    assert fast == spark_verdicts(spark, lines, tmp_path / "full", fast=False)
    assert fast == pydantic_verdicts(lines)
    clean = spark_checked(spark, lines, tmp_path / "clean").filter("clean").count()
    accepted = sum(reason is None for reason, _ in fast)
    assert 10 <= clean < accepted  # most accepted lines went fast; the +00:00 one did not
