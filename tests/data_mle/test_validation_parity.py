"""The ingest's Spark rules (`data_mle.rules`) and the pydantic reference (`data_mle.validate`)
give every line the same reason, and accepted lines the same typed values: on hand-made lines
for every rule and every kind of bad byte, and on a generated day with every fault kind."""

from __future__ import annotations

import datetime as dt
import gzip
import math
from pathlib import Path

import pytest

from data_mle.ingest import read_lines
from data_mle.rules import check_lines
from data_mle.validate import check_line
from shared.lake import BUSINESS_EVENTS_FILE, Lake
from shared.schema import EVENTS
from tests.data_mle.bad_lines import CASES
from tests.data_mle.conftest import DAYS

pytestmark = pytest.mark.slow


def _typed(value: object) -> object:
    """A field's value in one comparable form: instants as epoch microseconds."""
    if isinstance(value, dt.datetime):
        return round(value.timestamp() * 1_000_000)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def spark_verdicts(spark, lines: list[bytes], folder: Path) -> list[tuple]:
    """(reason, typed fields) of each line, as the ingest reads and checks it from a file."""
    from pyspark.sql import functions as F

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lines.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    checked = check_lines(read_lines(spark, folder, ["lines.jsonl.gz"]))
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
    raw = Lake(world).raw_events(DAYS[1]) / BUSINESS_EVENTS_FILE
    lines = gzip.decompress(raw.read_bytes()).splitlines()
    spark_side = spark_verdicts(spark, lines, tmp_path)
    pydantic_side = pydantic_verdicts(lines)
    differ = [i for i, (s, p) in enumerate(zip(spark_side, pydantic_side, strict=True)) if s != p]
    assert differ == [], f"{len(differ)} lines differ, the first: {lines[differ[0]][:200]!r}"
    assert len({reason for reason, _ in spark_side}) >= 7  # every kind of fault is there
