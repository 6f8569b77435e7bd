"""Ingest one day of raw events into bronze: parse, validate, de-duplicate, quarantine, reconcile.

    python -m data_mle.ingest --day 2026-01-06
    spark-submit --master spark://host:7077 data_mle/ingest.py --day 2026-01-06   # on a cluster

Reads `lake.raw_events(DAY)` (the landed copy of the S3 partition) and writes, each atomically:
- `lake.quarantine_events(DAY)`: every rejected line with its line number, reason and raw text;
- `lake.bronze_events(DAY)`: the accepted events, typed, one row per event id, with `is_late`.

Policies, written down once here:
- A line is checked against the event contract (`data_mle.validate`): malformed JSON, schema
  drift, missing fields, wrong types, unknown enum values and impossible values are quarantined.
- Time: an event more than `FUTURE_TOLERANCE` after the day's end is quarantined as
  `future_time` (a skewed clock); one more than `MAX_LATENESS` before the day's start as
  `too_late`. An event from before the day but within the lateness window is accepted into
  *this* day's partition with `is_late = true`: bronze is partitioned by arrival day, so a late
  event never rewrites a day that downstream jobs have already read.
- Duplicates (the same `event_id`) are kept once: the first line within the day, and not at all
  if a bronze partition of the `DEDUP_LOOKBACK_DAYS` before already holds it.
- Reconciliation, checked on every run and stored in the bronze manifest:
  input lines = accepted + quarantined (by reason) + duplicates.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from shared.lake import Lake
from shared.schema import EVENTS

FUTURE_TOLERANCE = dt.timedelta(minutes=5)  # clocks drift a little; more is a broken clock
MAX_LATENESS = dt.timedelta(days=2)  # offline mobile viewing uploads within a day or two
DEDUP_LOOKBACK_DAYS = 3  # re-sends older than this are not expected, and not checked


class ReconciliationError(RuntimeError):
    """The counts of an ingest run do not add up: some lines went missing."""


class ManifestMismatch(RuntimeError):
    """The files of a raw partition are not the ones its manifest lists."""


def _validated_schema() -> Any:
    from pyspark.sql import types as T

    typed = [T.StructField(f.name, f.dataType, True) for f in EVENTS.spark().fields]
    return T.StructType(
        [*typed,
         T.StructField("line", T.LongType()),
         T.StructField("reason", T.StringType()),
         T.StructField("detail", T.StringType()),
         T.StructField("raw", T.StringType())]
    )  # fmt: skip


def _validate_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    from data_mle.validate import validate_lines  # imported on the worker

    for batch in batches:
        checked = validate_lines(batch["value"])
        checked["line"] = batch["line"].to_numpy()
        yield checked


def classify(spark: Any, raw_path: Path, day: dt.date) -> Any:
    """Every raw line with its typed fields, `reason` (null when accepted) and `is_late`."""
    from pyspark.sql import functions as F

    lines = spark.read.text(str(raw_path)).withColumn("line", F.monotonically_increasing_id())
    # A gzip file is one Spark partition (it cannot be split); spread the validation over cores.
    lines = lines.repartition(int(spark.conf.get("spark.sql.shuffle.partitions")), "line")
    checked = lines.mapInPandas(_validate_batches, _validated_schema())
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    time_reason = (
        F.when(F.col("event_time") >= F.lit(end + FUTURE_TOLERANCE), F.lit("future_time"))
        .when(F.col("event_time") < F.lit(start - MAX_LATENESS), F.lit("too_late"))
    )  # fmt: skip
    time_detail = F.concat(
        F.lit("event_time "),
        F.date_format("event_time", "yyyy-MM-dd'T'HH:mm:ss.SSSX"),
        F.lit(f" is outside {day} (-{MAX_LATENESS.days} days, +{FUTURE_TOLERANCE})"),
    )
    return (
        checked.withColumn(
            "detail", F.when(time_reason.isNotNull(), time_detail).otherwise(F.col("detail"))
        )
        .withColumn("reason", F.coalesce("reason", time_reason))
        .withColumn("is_late", F.col("reason").isNull() & (F.col("event_time") < F.lit(start)))
    )


def deduplicate(accepted: Any, earlier_ids: Any | None) -> tuple[Any, Any]:
    """Keep the first line of each event id, and drop ids an earlier day already holds.
    Returns (kept, removed) where `removed` has a `duplicate_of` column."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy("event_id").orderBy("line")
    ranked = accepted.withColumn("_n", F.row_number().over(first))
    kept = ranked.filter("_n = 1").drop("_n")
    removed = ranked.filter("_n > 1").drop("_n").withColumn("duplicate_of", F.lit("same_day"))
    if earlier_ids is not None:
        seen = earlier_ids.select("event_id").distinct().withColumn("_seen", F.lit(True))
        marked = kept.join(seen, "event_id", "left")
        removed = removed.unionByName(
            marked.filter("_seen").drop("_seen").withColumn("duplicate_of", F.lit("earlier_day"))
        )
        kept = marked.filter(F.col("_seen").isNull()).drop("_seen")
    return kept, removed


def ingest_day(spark: Any, lake: Lake, day: dt.date) -> dict:
    """Run the ingest for `day` and return its reconciliation (also in the bronze manifest)."""
    from pyspark.sql import functions as F

    from data_mle.spark_io import write_partition

    raw = lake.raw_events(day)
    if not raw.is_dir():
        raise FileNotFoundError(f"no raw partition for {day}: {raw} does not exist")
    rows = classify(spark, raw, day).cache()
    kept = None
    try:
        earlier = [
            lake.bronze_events(d)
            for d in (day - dt.timedelta(days=k) for k in range(1, DEDUP_LOOKBACK_DAYS + 1))
            if lake.bronze_events(d).is_dir()
        ]
        earlier_ids = spark.read.parquet(*map(str, earlier)) if earlier else None
        kept, removed = deduplicate(rows.filter("reason IS NULL"), earlier_ids)
        kept = kept.cache()

        counts = {
            "input_lines": rows.count(),
            "accepted": kept.count(),
            "late": kept.filter("is_late").count(),
            "quarantined": {
                r["reason"]: r["count"]
                for r in rows.filter("reason IS NOT NULL").groupBy("reason").count().collect()
            },
            "duplicates": {
                r["duplicate_of"]: r["count"]
                for r in removed.groupBy("duplicate_of").count().collect()
            },
        }
        total = counts["accepted"] + sum(counts["quarantined"].values())
        total += sum(counts["duplicates"].values())
        counts["reconciled"] = total == counts["input_lines"]
        if not counts["reconciled"]:
            raise ReconciliationError(
                f"{day}: {counts['input_lines']} lines in, but accepted + quarantined + "
                f"duplicates = {total}; nothing was written"
            )
        quarantine = rows.filter("reason IS NOT NULL").select("line", "reason", "detail", "raw")
        write_partition(quarantine, lake.quarantine_events(day), ["line"])
        bronze = kept.select(*EVENTS.names, "is_late").withColumn(
            "ingest_date", F.lit(day.isoformat()).cast("date")
        )
        write_partition(
            bronze,
            lake.bronze_events(day),
            ["event_time", "event_id"],
            extra={"reconciliation": counts},
        )
        return counts
    finally:  # a Spark Connect server outlives this job: free what it cached
        rows.unpersist()
        if kept is not None:
            kept.unpersist()


def main(argv: list[str] | None = None) -> int:
    from data_mle.spark import run_day_job

    return run_day_job(
        argv, "ingest", __doc__, ingest_day, lambda counts: f"ingest: {counts}",
        errors=(FileNotFoundError, ReconciliationError),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
