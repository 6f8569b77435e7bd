"""Atomic writes and partition manifests: a reader never sees half a file or half a partition.

A single file is written to a temporary name in the same folder and renamed over the target
(`os.replace` is atomic on one file system). A partition (a folder such as `dt=2026-01-05`) is
written in full into a temporary sibling folder, a `_manifest.json` with the row count and sha256
of every file is added, and only then does it take the partition's name. A writer that raises
leaves the old partition (or nothing) and no temporary files.

    with atomic_partition(lake.bronze_events(day)) as part:
        part.write_table("events.parquet", table)
    verify_partition(path)   # raises ChecksumError if a file changed since it was written
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "_manifest.json"


class ChecksumError(RuntimeError):
    """A file's bytes do not match the sha256 its manifest recorded."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary path beside `dest`; on a clean exit it replaces `dest`, on an error it is
    removed and `dest` is left as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def to_json_text(obj: Any) -> str:
    """The one JSON layout of every file the project writes: sorted keys, so a re-run that
    computes the same content writes the same bytes."""
    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


def atomic_write_json(dest: Path, obj: Any) -> None:
    atomic_write_bytes(dest, to_json_text(obj).encode())


@dataclass
class PartitionWriter:
    """The temporary folder of a partition being written; records what each file holds."""

    path: Path
    files: dict[str, dict[str, int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def write_bytes(self, name: str, data: bytes, rows: int) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.files[name] = {"rows": rows}
        return target

    def add(self, name: str, rows: int) -> Path:
        """Register a file the caller writes itself (say, streamed); returns its path."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.files[name] = {"rows": rows}
        return target

    def write_table(self, name: str, table: pa.Table) -> Path:
        """Parquet, with the same writer options everywhere so equal tables give equal bytes."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, compression="zstd")
        self.files[name] = {"rows": table.num_rows}
        return target


def build_manifest(folder: Path, files: dict[str, dict[str, int]], extra: dict[str, Any]) -> dict:
    entries = {
        name: {
            **meta,
            "bytes": (folder / name).stat().st_size,
            "sha256": sha256_file(folder / name),
        }
        for name, meta in sorted(files.items())
    }
    return {"files": entries, "rows": sum(e["rows"] for e in entries.values()), **extra}


@contextmanager
def atomic_partition(dest: Path) -> Iterator[PartitionWriter]:
    """Write a whole partition, then swap it in. Put any summary for the manifest in
    `writer.extra` (never a timestamp: a re-run must give the same manifest)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    tmp = dest.with_name(f".{dest.name}.tmp-{token}")
    old = dest.with_name(f".{dest.name}.old-{token}")
    tmp.mkdir()
    try:
        writer = PartitionWriter(tmp)
        yield writer
        manifest = build_manifest(tmp, writer.files, writer.extra)
        (tmp / MANIFEST).write_text(to_json_text(manifest))
        if dest.exists():
            os.replace(dest, old)  # from here to the next line there is no partition at all,
        os.replace(tmp, dest)  # never a half one
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def verify_partition(folder: Path) -> dict:
    """Check every file against the manifest; return the manifest."""
    manifest = read_manifest(folder)
    verify_files(folder, manifest["files"])
    return manifest


def verify_files(folder: Path, files: dict[str, dict]) -> None:
    """Check each `folder/name` against the sha256 its manifest entry records."""
    for name, meta in files.items():
        actual = sha256_file(folder / name)
        if actual != meta["sha256"]:
            raise ChecksumError(
                f"{folder / name}: sha256 is {actual[:12]}..., "
                f"the manifest says {meta['sha256'][:12]}..."
            )
