"""Writing a Spark DataFrame as one lake partition: atomic, with a manifest, reproducible.

Spark writes into a scratch folder; the single Parquet file it makes is then moved into a
`shared.storage.atomic_partition` under a fixed name, so the partition appears whole or not at
all, and a re-run of the same day gives the same bytes (Spark's own part-file names are random).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from shared.storage import atomic_partition

PART_FILE = "part-0.parquet"


def write_partition(frame: Any, dest: Path, sort_by: list[str], extra: dict | None = None) -> dict:
    """Write `frame` sorted by `sort_by` as `dest/part-0.parquet` (+ `_manifest.json` holding
    `extra`); return `{"rows": rows written, "path": str(dest)}`. One file per day partition:
    plenty at these sizes; a cluster job writing hundreds of millions of rows a day would keep
    several files."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.spark-") as scratch:
        out = Path(scratch) / "out"
        frame.coalesce(1).sortWithinPartitions(*sort_by).write.parquet(str(out))
        parts = sorted(out.glob("part-*.parquet"))
        if len(parts) != 1:
            raise RuntimeError(f"expected one Parquet file from Spark, found {len(parts)} in {out}")
        with atomic_partition(dest) as part:
            target = part.add(PART_FILE, rows=pq.ParquetFile(parts[0]).metadata.num_rows)
            shutil.move(parts[0], target)
            part.extra.update(extra or {})
        return part.files[PART_FILE] | {"path": str(dest)}


def write_partitions(writes: Sequence[tuple[Any, Path, list[str], dict | None]]) -> list[dict]:
    """`write_partition(frame, dest, sort_by, extra)` for each of `writes`, all at once, each
    from a thread of its own (one Spark session runs the jobs of several threads side by side);
    returns their results in order. A small write is mostly fixed cost, paid while the cores
    wait (through Spark Connect the plan's analysis, the job's scheduling, committing its
    files); at once, one write's waiting overlaps another's work. Each partition still appears
    whole or not at all: when one write fails, the others finish and its error is raised."""
    with ThreadPoolExecutor(len(writes), thread_name_prefix="write") as pool:
        running = [pool.submit(write_partition, *write) for write in writes]
    return [done.result() for done in running]
