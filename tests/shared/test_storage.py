"""Atomic writes leave the old content or the new, never part of either; manifests record
checksums that match the files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from shared.storage import (
    ChecksumError,
    atomic_partition,
    atomic_write_bytes,
    read_manifest,
    sha256_file,
    verify_partition,
)


class Boom(RuntimeError):
    pass


def test_a_writer_that_raises_leaves_no_partial_file(tmp_path: Path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    from shared.storage import atomic_path

    with pytest.raises(Boom), atomic_path(target) as tmp:
        tmp.write_bytes(b"half of the new")
        raise Boom
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_replaces_the_whole_file(tmp_path: Path):
    target = tmp_path / "a" / "b.json"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_a_partition_writer_that_raises_leaves_the_old_partition(tmp_path: Path):
    part = tmp_path / "events" / "dt=2026-01-05"
    with atomic_partition(part) as w:
        w.write_bytes("data.txt", b"old rows\n", rows=1)
    before = read_manifest(part)

    with pytest.raises(Boom), atomic_partition(part) as w:
        w.write_bytes("data.txt", b"new rows\n" * 10, rows=10)
        w.write_bytes("more.txt", b"half", rows=1)
        raise Boom

    assert (part / "data.txt").read_bytes() == b"old rows\n"
    assert not (part / "more.txt").exists()
    assert read_manifest(part) == before
    assert [p.name for p in part.parent.iterdir()] == ["dt=2026-01-05"], "no temporary folders"


def test_manifest_checksums_and_row_counts_match_the_files(tmp_path: Path):
    part = tmp_path / "dt=2026-01-05"
    table = pa.table({"x": list(range(42))})
    with atomic_partition(part) as w:
        w.write_table("t.parquet", table)
        w.write_bytes("notes.txt", b"a\nb\n", rows=2)
        w.extra["source"] = "test"
    manifest = verify_partition(part)
    assert manifest["rows"] == 44 and manifest["source"] == "test"
    for name, meta in manifest["files"].items():
        assert meta["sha256"] == sha256_file(part / name)
        assert meta["bytes"] == (part / name).stat().st_size
    assert manifest["files"]["t.parquet"]["rows"] == 42


def test_a_changed_file_fails_verification(tmp_path: Path):
    part = tmp_path / "dt=2026-01-05"
    with atomic_partition(part) as w:
        w.write_bytes("data.txt", b"original", rows=1)
    (part / "data.txt").write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="data.txt"):
        verify_partition(part)


def test_rewriting_a_partition_with_the_same_content_gives_the_same_manifest(tmp_path: Path):
    part = tmp_path / "dt=2026-01-05"
    table = pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    manifests = []
    for _ in range(2):
        with atomic_partition(part) as w:
            w.write_table("t.parquet", table)
        manifests.append((part / "_manifest.json").read_bytes())
    assert manifests[0] == manifests[1]
