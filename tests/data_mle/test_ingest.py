"""The ingest job on real Spark: every injected fault is quarantined under its reason, every day
reconciles, re-runs are byte-identical, a crash leaves the old partition, and a partition its
manifest does not describe is refused."""

from __future__ import annotations

import gc
import gzip
import os
import shutil
import subprocess
import sys
import weakref

import pyarrow.parquet as pq
import pytest

import data_mle.spark_io
from data_mle.ingest import ManifestMismatch, ingest_day
from shared.lake import BUSINESS_EVENT_FILES, Lake, Table
from shared.raw_log import read_business_lines
from shared.settings import REPO_ROOT
from shared.storage import verify_partition
from tests.data_mle.bad_lines import reseal
from tests.data_mle.conftest import DAYS, START, land

pytestmark = pytest.mark.slow
# The generator's fault kinds, and where the ingest job puts each.
EXPECTED_REASON = {
    "malformed": "malformed_json",
    "added_field": "schema_drift",
    "renamed_field": "schema_drift",
    "missing_field": "missing_field",
    "wrong_type": "wrong_type",
    "unknown_enum": "unknown_value",
    "impossible_value": "impossible_value",
    "clock_skew": "future_time",
}


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_every_fault_is_quarantined_under_its_reason(ingested, day):
    _, counts, faults = ingested
    injected = faults[day.isoformat()]
    expected: dict[str, int] = {}
    for kind, reason in EXPECTED_REASON.items():
        if injected[kind]:
            expected[reason] = expected.get(reason, 0) + injected[kind]
    got = counts[day]
    assert got["quarantined"] == expected
    assert got["duplicates"] == (
        {"same_day": injected["duplicate"]} if injected["duplicate"] else {}
    )
    assert got["late"] == injected["late"]


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_every_day_reconciles(ingested, faulty_dataset, day):
    lake, counts, _ = ingested
    _, summary = faulty_dataset
    c = counts[day]
    assert c["reconciled"]
    assert c["input_lines"] == summary["days"][day.isoformat()]["lines"]
    quarantined = sum(c["quarantined"].values())
    assert c["input_lines"] == c["accepted"] + quarantined + sum(c["duplicates"].values())
    bronze = verify_partition(lake.bronze_events(day))
    assert bronze["rows"] == c["accepted"] and bronze["reconciliation"] == c
    assert verify_partition(lake.quarantine_events(day))["rows"] == quarantined


def test_bronze_is_typed_unique_and_flags_late_events(ingested):
    lake, _, _ = ingested
    day = DAYS[2]
    table = pq.read_table(lake.bronze_events(day) / "part-0.parquet").to_pandas()
    assert table.event_id.is_unique
    assert str(table.event_time.dt.tz) == "UTC"
    late = table[table.is_late]
    assert len(late) > 0 and (late.event_time.dt.date < day).all()
    assert (table[~table.is_late].event_time.dt.date == day).all()
    assert (table.ingest_date == day).all()


def test_quarantine_keeps_each_rejected_line_verbatim(ingested, faulty_dataset):
    lake, _, _ = ingested
    world, _ = faulty_dataset
    day = DAYS[1]
    raw = {
        name: gzip.decompress((Lake(world).raw_events(day) / name).read_bytes()).split(b"\n")
        for name in BUSINESS_EVENT_FILES
    }
    quarantine = pq.read_table(lake.quarantine_events(day) / "part-0.parquet")
    assert {row["file"] for row in quarantine.to_pylist()} == set(BUSINESS_EVENT_FILES)
    for row in quarantine.to_pylist():
        # Lines count from 1 within their file, as editors do.
        assert raw[row["file"]][row["line"] - 1].decode() == row["raw"]
        assert row["reason"] and row["detail"]


def test_rerunning_a_day_gives_identical_checksums(spark, ingested):
    lake, counts, _ = ingested
    day = DAYS[1]
    before = {
        zone: (lake.path(Table(zone, "events"), day) / "_manifest.json").read_bytes()
        for zone in ("bronze", "quarantine")
    }
    assert ingest_day(spark, lake, day) == counts[day]
    for zone, manifest in before.items():
        assert (lake.path(Table(zone, "events"), day) / "_manifest.json").read_bytes() == manifest


def test_the_checked_day_is_not_kept_once_the_ingest_returns(
    spark, clean_dataset, tmp_path, monkeypatch
):
    """The ingest keeps a day's checked lines as a local checkpoint while it counts and writes
    them, and no reference to it once it returns. Spark frees a checkpoint whose DataFrame is
    gone (a Connect client tells its server; a local session's cleaner finds it after the JVM's
    next collection, in its own time), so a long-lived session does not keep one per day."""
    world, _ = clean_dataset
    lake = land(world, tmp_path / "lake")
    frame_class = type(spark.range(1))
    checkpoint, made = frame_class.localCheckpoint, []

    def recorded(self, *args, **kwargs):
        frame = checkpoint(self, *args, **kwargs)
        made.append(weakref.ref(frame))
        return frame

    monkeypatch.setattr(frame_class, "localCheckpoint", recorded)
    ingest_day(spark, lake, DAYS[0])
    gc.collect()
    assert made, "the ingest no longer checkpoints its checked day; update this test"
    kept = [ref() for ref in made if ref() is not None]
    assert not kept, f"{len(kept)} checkpoint(s) of the day still referenced after the ingest"


def test_a_crash_in_the_middle_of_a_write_leaves_the_old_partition(
    spark, ingested, tmp_path, monkeypatch
):
    lake = Lake(tmp_path / "lake")
    shutil.copytree(ingested[0].root, lake.root)
    day = DAYS[2]
    bronze = lake.bronze_events(day)
    before = verify_partition(bronze)

    real_move = shutil.move

    def crash_on_bronze(src, dst):
        if "bronze" in str(dst):
            raise OSError("disk full (simulated)")
        return real_move(src, dst)

    monkeypatch.setattr(data_mle.spark_io.shutil, "move", crash_on_bronze)
    with pytest.raises(OSError, match="simulated"):
        ingest_day(spark, lake, day)
    assert verify_partition(bronze) == before
    assert [p.name for p in bronze.parent.iterdir() if p.name.startswith(".")] == []

    monkeypatch.undo()
    assert ingest_day(spark, lake, day) == before["reconciliation"]
    assert verify_partition(bronze) == before


def test_an_event_already_in_an_earlier_day_is_a_duplicate(
    spark, clean_dataset, tmp_path, record_property
):
    world, _ = clean_dataset
    lake = land(world, tmp_path / "lake")
    first, second = DAYS[0], DAYS[1]
    ingest_day(spark, lake, first)
    # The client re-sends five of yesterday's events with today's upload.
    old = read_business_lines(lake.raw_events(first))[:5]
    last = BUSINESS_EVENT_FILES[-1]
    lines = gzip.decompress((lake.raw_events(second) / last).read_bytes())
    reseal(lake.raw_events(second), texts={last: lines + b"".join(old)})

    counts = ingest_day(spark, lake, second)
    assert counts["duplicates"] == {"earlier_day": 5}, (
        f"five of yesterday's events re-sent today: expected duplicates {{'earlier_day': 5}}, "
        f"got {counts['duplicates']}. Hint: the ingest passes mark_duplicates the bronze of the "
        "days before (`earlier_ids`); an accepted line whose event_id is there is `earlier_day`."
    )
    assert counts["late"] == 0, "a re-sent event is a duplicate, not a late arrival"
    assert counts["reconciled"]
    record_property(
        "figure",
        f"duplicates {counts['duplicates']}, accepted {counts['accepted']:,} of "
        f"{counts['input_lines']:,} lines",
    )


def test_a_missing_raw_partition_is_a_clear_error(spark, tmp_path):
    with pytest.raises(FileNotFoundError, match="no raw partition for 2026-01-05"):
        ingest_day(spark, Lake(tmp_path), START)


def test_a_partition_its_manifest_disagrees_with_is_refused(spark, clean_dataset, tmp_path):
    world, _ = clean_dataset
    lake = land(world, tmp_path / "lake")
    raw = lake.raw_events(START)
    (raw / "stray.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    with pytest.raises(ManifestMismatch, match=r"not listed: stray\.jsonl\.gz$"):
        ingest_day(spark, lake, START)
    (raw / "stray.jsonl.gz").unlink()
    (raw / BUSINESS_EVENT_FILES[0]).unlink()
    with pytest.raises(ManifestMismatch, match=rf"listed but missing: {BUSINESS_EVENT_FILES[0]}$"):
        ingest_day(spark, lake, START)
    assert not lake.bronze_events(START).exists()


def test_the_command_refuses_a_mismatched_partition_with_exit_2(clean_dataset, tmp_path):
    world, _ = clean_dataset
    lake = land(world, tmp_path / "lake")
    (lake.raw_events(START) / "stray.jsonl.gz").write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "data_mle.ingest", "--day", START.isoformat(),
         "--lake", str(lake.root)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("ingest: error:")]
    assert len(errors) == 1 and "not listed: stray.jsonl.gz" in errors[0]
    assert "Traceback" not in result.stderr
