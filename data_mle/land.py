"""Land a day of raw events: copy the S3 partition into the lake's raw zone, checksums verified.

    python -m data_mle.land --day 2026-01-06      # from s3://$MARQUEE_BUCKET/<RAW_EVENTS key>

Spark reads the local copy (this machine has no hadoop-aws jars for s3a://). On a cluster the
ingest job would read `s3a://<bucket>/<RAW_EVENTS.key(DAY)>` directly and this step would go.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from shared.lake import RAW_EVENTS, Lake
from shared.s3 import download_prefix
from shared.settings import get_settings
from shared.storage import read_manifest


def land_day(lake: Lake, day: dt.date, bucket: str | None = None) -> dict:
    """Download the day's partition (replacing any earlier copy) and return its manifest."""
    dest = lake.raw_events(day)
    download_prefix(bucket or get_settings().bucket, RAW_EVENTS.key(day), dest)
    return read_manifest(dest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_mle.land", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--lake", type=Path, default=None, help="default: MARQUEE_LAKE_ROOT")
    args = parser.parse_args(argv)
    lake = Lake(args.lake) if args.lake else Lake.from_settings()
    try:
        manifest = land_day(lake, args.day)
    except FileNotFoundError as error:
        print(f"land: error: {error}", file=sys.stderr)
        return 1
    print(f"landed {args.day}: {manifest['rows']:,} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
