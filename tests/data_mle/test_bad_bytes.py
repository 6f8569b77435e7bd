"""Any bytes at all in a landed file end in bronze or quarantine, never in a crash of the day:
every hand-made bad line in a raw file of its own, next to the business's file and to files the
job cannot read (truncated gzip, not gzip at all), with a correct manifest."""

from __future__ import annotations

import gzip

import pyarrow.parquet as pq
import pytest

from data_mle.ingest import UNREADABLE, ingest_day
from shared.lake import BUSINESS_EVENT_FILES, Lake, Table
from shared.storage import read_manifest, verify_partition
from tests.data_mle.bad_lines import CASES, reseal
from tests.data_mle.conftest import DAYS, land

pytestmark = pytest.mark.slow
BAD_FILE = "feedback-0001-bad.jsonl.gz"
TRUNCATED = "feedback-0002-truncated.jsonl.gz"
NOT_GZIP = "feedback-0003-plain.jsonl.gz"


@pytest.fixture(scope="module")
def bad_day(spark, clean_dataset, tmp_path_factory):
    """Day 1 of the clean world with the bad files added, ingested after day 0: (lake, counts,
    the earlier day's manifests before and after, what the job printed)."""
    world, _ = clean_dataset
    lake = land(world, tmp_path_factory.mktemp("bad-bytes") / "lake")
    first, day = DAYS[0], DAYS[1]
    ingest_day(spark, lake, first)
    earlier = {z: _manifest(lake, z, first) for z in ("bronze", "quarantine")}

    good = b"".join(line + b"\n" for line, _ in CASES.values())
    whole = gzip.compress(good * 3, mtime=0)
    reseal(
        lake.raw_events(day),
        texts={BAD_FILE: good},
        files={
            TRUNCATED: (whole[: len(whole) // 2], 3 * len(CASES)),
            NOT_GZIP: (good, len(CASES)),
        },
    )
    counts = ingest_day(spark, lake, day)
    return lake, counts, earlier, {z: _manifest(lake, z, first) for z in ("bronze", "quarantine")}


def _manifest(lake: Lake, zone: str, day) -> bytes:
    return (lake.path(Table(zone, "events"), day) / "_manifest.json").read_bytes()


def test_every_bad_line_is_quarantined_with_its_file_line_and_reason(bad_day):
    lake, _, _, _ = bad_day
    table = pq.read_table(lake.quarantine_events(DAYS[1]) / "part-0.parquet")
    got = {r["line"]: r for r in table.to_pylist() if r["file"] == BAD_FILE}
    for line, (name, (_, reason)) in enumerate(CASES.items(), start=1):
        if reason is None:
            assert line not in got, name
        else:
            assert got[line]["reason"] == reason, name
            assert got[line]["detail"], name


def test_unreadable_files_are_quarantined_whole_and_the_day_goes_on(bad_day, clean_dataset):
    lake, counts, _, _ = bad_day
    _, summary = clean_dataset
    files = counts["files_quarantined"]
    assert {name: (f["reason"], f["lines"]) for name, f in files.items()} == {
        TRUNCATED: (UNREADABLE, 3 * len(CASES)),  # the manifest's count: the file holds them
        NOT_GZIP: (UNREADABLE, len(CASES)),
    }
    assert "EOFError" in files[TRUNCATED]["detail"]
    assert "Not a gzipped file" in files[NOT_GZIP]["detail"]
    assert counts["quarantined"][UNREADABLE] == 4 * len(CASES)
    table = pq.read_table(lake.quarantine_events(DAYS[1]) / "part-0.parquet").to_pylist()
    whole = {r["file"]: r for r in table if r["reason"] == UNREADABLE}
    assert set(whole) == {TRUNCATED, NOT_GZIP}
    assert all(r["line"] is None and r["raw"] is None and r["detail"] for r in whole.values())
    # The business's own file was ingested as usual.
    business = summary["days"][DAYS[1].isoformat()]["lines"]
    assert counts["accepted"] >= business


def test_the_day_reconciles_line_by_line(bad_day, clean_dataset):
    lake, counts, _, _ = bad_day
    _, summary = clean_dataset
    expected: dict[str, int] = {UNREADABLE: 4 * len(CASES)}
    for _, reason in CASES.values():
        if reason is not None:
            expected[reason] = expected.get(reason, 0) + 1
    accepted_cases = sum(reason is None for _, reason in CASES.values())
    business = summary["days"][DAYS[1].isoformat()]["lines"]
    assert counts["input_lines"] == business + 5 * len(CASES)
    assert counts["quarantined"] == expected
    # Every accepted hand-made line is event e1: the first is kept, the others are re-sends.
    assert counts["duplicates"] == {"same_day": accepted_cases - 1}
    assert counts["accepted"] == business + 1
    assert counts["reconciled"]
    assert verify_partition(lake.bronze_events(DAYS[1]))["reconciliation"] == counts


def test_the_earlier_day_is_untouched(bad_day):
    _, _, before, after = bad_day
    assert before == after


def test_an_unreadable_file_is_reported_in_one_line(spark, clean_dataset, tmp_path, capfd):
    world, _ = clean_dataset
    lake = land(world, tmp_path / "lake")
    raw = lake.raw_events(DAYS[0])
    cut, kept = BUSINESS_EVENT_FILES  # one collector's file truncated, the other's intact
    data = (raw / cut).read_bytes()
    files = read_manifest(raw)["files"]
    rows = files[cut]["rows"]
    reseal(raw, files={cut: (data[:-100], rows)})

    counts = ingest_day(spark, lake, DAYS[0])
    assert counts["quarantined"] == {UNREADABLE: rows}
    assert counts["accepted"] == files[kept]["rows"], "the rest of the day goes on"
    assert counts["reconciled"]
    printed = [line for line in capfd.readouterr().err.splitlines() if cut in line]
    assert len(printed) == 1 and "quarantined whole" in printed[0]
