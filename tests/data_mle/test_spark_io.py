"""A lake partition is written atomically and reproducibly: a reader sees the old partition or
the new one, never half of either; a write that fails leaves the old one; a re-run of the same
data writes the same bytes under the same names."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_mle.spark_io import PART_FILE, write_partition, write_partitions
from shared.storage import (
    MANIFEST,
    atomic_partition,
    build_manifest,
    read_manifest,
    to_json_text,
    verify_partition,
)


class Boom(RuntimeError):
    pass


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a partition, by name, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _leftovers(parent: Path) -> list[str]:
    """Whatever a writer left beside its partitions (each test's partitions are named dt=...),
    whichever way its scratch folders are named."""
    return sorted(p.name for p in parent.iterdir() if not p.name.startswith("dt="))


def test_a_partition_appears_whole_or_not_at_all(tmp_path: Path):
    part = tmp_path / "events" / "dt=2026-01-05"
    with atomic_partition(part) as w:
        w.write_bytes("data.txt", b"old rows\n", rows=1)
    old = _snapshot(part)
    assert set(old) == {"data.txt", MANIFEST}, (
        f"a written partition holds its files and a {MANIFEST}; got {sorted(old)}. Hint: write "
        "build_manifest(tmp, writer.files, writer.extra) into the folder before the swap."
    )

    with pytest.raises(Boom), atomic_partition(part) as w:
        w.write_bytes("data.txt", b"new rows\n" * 10, rows=10)
        during = _snapshot(part) if part.exists() else {}
        w.write_bytes("more.txt", b"half", rows=1)
        raise Boom  # the writer dies half-way
    assert during == old, (
        "while a new partition is being written, readers must still see the old one whole; "
        f"got {sorted(during)} with data.txt = {during.get('data.txt')!r}. Hint: write into a "
        "temporary sibling folder (same parent, so a rename is atomic), not into the partition."
    )
    assert _snapshot(part) == old, (
        "a writer that raised must leave the old partition exactly as it was; got "
        f"{sorted(_snapshot(part))}. Hint: swap the folders only after the `yield` returned."
    )
    assert _leftovers(part.parent) == [], (
        f"a failed write must clean up its temporary folders, found {_leftovers(part.parent)}. "
        "Hint: remove them in a `finally`."
    )

    with atomic_partition(part) as w:
        w.write_bytes("other.txt", b"b\n", rows=1)
        w.extra["source"] = "test"
    got = _snapshot(part)
    assert set(got) == {"other.txt", MANIFEST}, (
        f"a rewrite replaces the whole partition: expected other.txt and {MANIFEST}, got "
        f"{sorted(got)}. Hint: the old folder is moved aside (os.replace) and removed, not merged."
    )
    manifest = verify_partition(part)
    assert manifest["rows"] == 1 and manifest["source"] == "test", (
        f"the manifest holds the row count and `writer.extra`; got {manifest}"
    )
    assert _leftovers(part.parent) == [], f"temporary folders left: {_leftovers(part.parent)}"


def _frame(spark, n: int, fail_at: int | None = None):
    """`n` rows with ids in a scrambled order; with `fail_at`, the job dies at that id."""
    from pyspark.sql import functions as F

    ids = spark.range(n, numPartitions=3).select(((F.col("id") * 7919) % n).alias("id"))
    value = F.concat(F.lit("row-"), F.col("id").cast("string"))
    if fail_at is not None:
        value = F.when(F.col("id") == fail_at, F.raise_error(F.lit("disk full (simulated)")))
        value = value.otherwise(F.concat(F.lit("new-"), F.col("id").cast("string")))
    return ids.withColumn("value", value)


@pytest.mark.slow
def test_a_rerun_of_a_partition_writes_the_same_bytes(spark, tmp_path: Path, record_property):
    dest = tmp_path / "silver" / "things" / "dt=2026-01-05"
    first = write_partition(_frame(spark, 1000), dest, ["id"], extra={"as_of": "2026-01-05"})
    before = _snapshot(dest)
    assert set(before) == {PART_FILE, MANIFEST}, (
        f"a partition is one Parquet file under the fixed name {PART_FILE} and its {MANIFEST}; "
        f"got {sorted(before)}. Hint: Spark writes into a scratch folder (its part-file names "
        "are random, plus _SUCCESS and .crc files); move its one part file into the partition."
    )
    ids = pq.read_table(dest / PART_FILE).column("id").to_pylist()
    assert ids == sorted(ids) and len(ids) == 1000, (
        f"the file holds the 1000 rows sorted by {['id']}; got {len(ids)} rows starting "
        f"{ids[:5]}. Hint: coalesce(1), then sortWithinPartitions(*sort_by)."
    )
    assert first == {"rows": 1000, "path": str(dest)}, (
        f"write_partition returns the rows written and the partition's path; got {first}"
    )
    assert read_manifest(dest)["as_of"] == "2026-01-05", "`extra` goes into the manifest"

    second = write_partition(_frame(spark, 1000), dest, ["id"], extra={"as_of": "2026-01-05"})
    after = _snapshot(dest)
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    assert changed == [], (
        f"a re-run of the same data must write the same bytes; these differ: {changed}. "
        "Hint: fixed file names, sorted rows, no timestamps in the manifest."
    )
    assert second == first, f"the same re-run returns the same summary: {first} then {second}"
    assert _leftovers(dest.parent) == [], f"scratch folders left: {_leftovers(dest.parent)}"
    digest = read_manifest(dest)["files"][PART_FILE]["sha256"]
    record_property("figure", f"sha256 of {PART_FILE}, both runs: {digest[:12]}...")


@pytest.mark.slow
def test_a_write_that_fails_halfway_leaves_the_old_partition(spark, tmp_path: Path):
    dest = tmp_path / "silver" / "things" / "dt=2026-01-05"
    dest.mkdir(parents=True)  # yesterday's partition, as an earlier run left it
    pq.write_table(pa.table({"id": [0, 1], "value": ["row-0", "row-1"]}), dest / PART_FILE)
    files = {PART_FILE: {"rows": 2}}
    (dest / MANIFEST).write_text(to_json_text(build_manifest(dest, files, {})))
    old = _snapshot(dest)

    with pytest.raises(Exception, match="disk full"):
        write_partition(_frame(spark, 500, fail_at=250), dest, ["id"])

    assert dest.is_dir() and _snapshot(dest) == old, (
        "a Spark job that died half-way must leave yesterday's partition whole and readable; "
        f"got {sorted(_snapshot(dest)) if dest.is_dir() else 'no partition at all'}. Hint: "
        "never let Spark write (mode overwrite deletes first) into the partition itself: write "
        "into a scratch folder and swap the result in with atomic_partition."
    )
    verify_partition(dest)
    values = pq.read_table(dest / PART_FILE).column("value").to_pylist()
    assert values[:2] == ["row-0", "row-1"], f"expected the old rows, got {values[:2]}"
    assert _leftovers(dest.parent) == [], (
        f"a failed write must remove its scratch folders, found {_leftovers(dest.parent)}. "
        "Hint: tempfile.TemporaryDirectory(dir=dest.parent) cleans up even on an error."
    )


@pytest.mark.slow
def test_partitions_written_at_once_each_appear_whole_and_a_failure_is_raised(spark, tmp_path):
    parent = tmp_path / "silver" / "things"
    a, b, c = (parent / f"dt=2026-01-0{k}" for k in (5, 6, 7))
    done = write_partitions([
        (_frame(spark, 300), a, ["id"], {"as_of": "2026-01-05"}),
        (_frame(spark, 200), b, ["id"], None),
    ])  # fmt: skip
    assert done == [{"rows": 300, "path": str(a)}, {"rows": 200, "path": str(b)}], (
        f"write_partitions returns each write's summary, in the order given; got {done}"
    )
    assert read_manifest(a)["as_of"] == "2026-01-05" and verify_partition(b)["rows"] == 200
    assert pq.read_table(b / PART_FILE).column("id").to_pylist() == list(range(200))

    old = _snapshot(a)
    with pytest.raises(Exception, match="disk full"):
        write_partitions([
            (_frame(spark, 500, fail_at=250), a, ["id"], None),
            (_frame(spark, 100), c, ["id"], None),
        ])  # fmt: skip
    assert _snapshot(a) == old, "the failed write left its partition as it was"
    assert verify_partition(c)["rows"] == 100, "the write beside the failed one still finished"
    assert _leftovers(parent) == [], f"scratch folders left: {_leftovers(parent)}"
