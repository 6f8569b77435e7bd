"""Publish a day's outputs: the online feature snapshot for serving, and everything to S3.

    python -m data_mle.publish --day 2026-01-08

After day D is processed, serving on D+1 needs the features as of D+1 (all that arrived through
D). This step computes them, gathers them into one folder, `lake.online_snapshot(D+1)`
(`user_features.parquet`, `item_features.parquet`, `context_features.parquet`, a manifest), and
uploads, under the same paths in the bucket: the features and training sets of D and the
snapshot of D+1. Each upload sends the manifest last, so a reader that waits for
`_manifest.json` never sees half a partition.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from shared.features import FEATURE_SPEC_VERSION, FEATURE_TABLES
from shared.lake import Lake
from shared.s3 import ensure_bucket, upload_dir
from shared.schema import SURFACES
from shared.settings import get_settings
from shared.storage import atomic_partition, read_manifest


def snapshot(lake: Lake, as_of: dt.date) -> Path:
    """Gather the three feature tables of `as_of` into one snapshot partition."""
    dest = lake.online_snapshot(as_of)
    with atomic_partition(dest) as part:
        for table in FEATURE_TABLES:
            source = lake.features(table.name, as_of)
            rows = read_manifest(source)["rows"]
            shutil.copyfile(source / "part-0.parquet", part.add(f"{table.name}.parquet", rows))
        part.extra.update(
            {"feature_spec_version": FEATURE_SPEC_VERSION, "as_of": as_of.isoformat()}
        )
    return dest


def upload_partitions(lake: Lake, partitions: list[Path], bucket: str) -> list[str]:
    """Upload each partition under its lake key (its manifest last) to an existing bucket;
    return the keys."""
    return [key for path in partitions for key in upload_dir(path, bucket, lake.key(path))]


def publish_day(spark: Any, lake: Lake, day: dt.date, bucket: str | None = None) -> list[str]:
    """Make the snapshot for the day after `day` and upload the day's outputs; return the keys."""
    from data_mle.features import build_features

    next_day = day + dt.timedelta(days=1)
    bucket = bucket or get_settings().bucket
    made = [
        *(lake.features(t.name, day) for t in FEATURE_TABLES),
        *(lake.training_set(s, day) for s in SURFACES),
    ]
    ensure_bucket(bucket)
    # The day's own outputs are there already: they go up while Spark computes tomorrow's
    # features (the upload waits on the network, the features on the cores).
    with ThreadPoolExecutor(1, thread_name_prefix="upload") as uploads:
        sent = uploads.submit(upload_partitions, lake, made, bucket)
        build_features(spark, lake, next_day)
    return sent.result() + upload_partitions(lake, [snapshot(lake, next_day)], bucket)


def main(argv: list[str] | None = None) -> int:
    from data_mle.spark import run_day_job

    return run_day_job(
        argv, "publish", __doc__, publish_day, lambda keys: f"published {len(keys)} objects"
    )


if __name__ == "__main__":
    sys.exit(main())
