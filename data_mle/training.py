"""Labelled training sets, one per surface: a day's impressions, whether each was clicked, and
the features as of that day.

    python -m data_mle.training --day 2026-01-08

Writes `lake.training_set(surface, DAY)` for both surfaces. The label is 1 when a click that
names the impression (`impression_id`) arrived the same day; a click arriving a day late is
missed, and counted in the manifest (`clicks_without_impression`: clicks whose impression is
not in the day). Features come from `lake.features(table, DAY)`, computed from events that
arrived before DAY, so no row sees its own click. Keys a feature table lacks get zero counts,
the prior CTR and the capped recency, exactly what the reference `shared.features` gives an
unseen key.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from shared.features import (
    FEATURE_PREFIX,
    FEATURE_SPEC_VERSION,
    FEATURE_TABLES,
    TRAINING_KEYS,
    feature_columns,
    feature_defaults,
)
from shared.lake import Lake
from shared.schema import SURFACES


def _fill(frame: Any, surface: str) -> Any:
    """Defaults for rows whose key was not in a feature table (`shared.features`), in one
    projection (a `withColumn` per column would make the plan one level deeper each time)."""
    from pyspark.sql import functions as F

    defaults, schema = feature_defaults(surface), frame.schema  # the schema: read once
    return frame.select(
        *(
            F.coalesce(F.col(c), F.lit(defaults[c]).cast(schema[c].dataType)).alias(c)
            if c in defaults
            else F.col(c)
            for c in frame.columns
        )
    )


def build_training_sets(spark: Any, lake: Lake, day: dt.date) -> dict[str, dict]:
    from pyspark.sql import functions as F

    from data_mle.spark_io import write_partitions

    bronze = spark.read.parquet(str(lake.bronze_events(day)))
    features = {}
    for table in FEATURE_TABLES:
        path = lake.features(table.name, day)
        if not path.is_dir():
            raise FileNotFoundError(f"no {table.name} as of {day}: run the features job first")
        frame = spark.read.parquet(str(path))
        prefix = FEATURE_PREFIX[table.name]
        features[table.name] = frame.select(
            *table.keys, *(F.col(v).alias(prefix + v) for v in table.values)
        )

    impressions = bronze.filter(F.col("event_type") == "impression")
    clicks = (
        bronze.filter(F.col("event_type") == "click")
        .select(F.col("impression_id").alias("event_id"))
        .distinct()
        .withColumn("label", F.lit(1))
    )
    orphans = clicks.join(impressions.select("event_id"), "event_id", "left_anti").count()
    labelled = (
        impressions.join(clicks, "event_id", "left")
        .withColumn("label", F.coalesce("label", F.lit(0)).cast("int"))
        .withColumn("hour", F.hour("event_time").cast("long"))
        .select(*TRAINING_KEYS)
    )
    joined = labelled
    for table in FEATURE_TABLES:
        joined = joined.join(features[table.name], list(table.keys), "left")
    writes = []
    for surface in SURFACES:
        rows = joined.filter(F.col("surface") == surface)
        rows = _fill(rows, surface).select(*TRAINING_KEYS, *feature_columns())
        extra = {
            "feature_spec_version": FEATURE_SPEC_VERSION,
            "label": "clicked the same arrival day",
            "clicks_without_impression": orphans,
        }
        writes.append((rows, lake.training_set(surface, day), ["event_time", "event_id"], extra))
    return dict(zip(SURFACES, write_partitions(writes), strict=True))


def main(argv: list[str] | None = None) -> int:
    from data_mle.spark import run_day_job

    def show(written: dict) -> str:
        return "\n".join(f"{s}: {i['rows']:,} rows -> {i['path']}" for s, i in written.items())

    return run_day_job(argv, "training", __doc__, build_training_sets, show)


if __name__ == "__main__":
    sys.exit(main())
