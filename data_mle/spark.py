"""The command line every data_mle Spark step shares. The session itself comes from
`shared.spark` (local, Spark Connect, or whatever spark-submit says)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.lake import Lake
from shared.spark import spark_session, stop_session


def run_day_job(
    argv: list[str] | None,
    name: str,
    doc: str,
    job: Callable[[Any, Lake, dt.date], Any],
    show: Callable[[Any], str],
    errors: tuple[type[Exception], ...] = (FileNotFoundError,),
    refusals: tuple[type[Exception], ...] = (),
) -> int:
    """The command line every Spark step shares: `--day YYYY-MM-DD [--lake PATH]`, a session
    for the job, one line of output, and a one-line error with exit status 1 for `errors`, 2
    for `refusals` (input the job will not touch, such as a partition its manifest disagrees
    with: a retry cannot help)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m data_mle.{name}", description=doc.split("\n")[0]
    )
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    parser.add_argument("--lake", type=Path, default=None, help="default: MARQUEE_LAKE_ROOT")
    args = parser.parse_args(argv)
    lake = Lake(args.lake) if args.lake else Lake.from_settings()
    spark = spark_session(f"{name}-{args.day}")
    try:
        result = job(spark, lake, args.day)
    except refusals as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    except errors as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 1
    finally:
        stop_session(spark)
    print(show(result))
    return 0
