"""Labelled training sets, one per surface: a day's impressions, whether each was clicked, and
the features as of that day.

    python -m data_mle.training --day 2026-01-08

Writes `gold/training/{ad_break,home_row}/dt=DAY/`. The label is 1 when a click that names the
impression (`impression_id`) arrived the same day; a click arriving a day late is missed, and
counted in the manifest (`clicks_without_impression`: clicks whose impression is not in the day).
Features come from `silver/*/dt=DAY`, computed from events that arrived before DAY, so no row
sees its own click. Keys a feature table lacks get zero counts, the prior CTR and the capped
recency, exactly what the reference `shared.features` gives an unseen key.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from shared.features import (
    CONTEXT_FEATURES,
    FEATURE_SPEC_VERSION,
    ITEM_FEATURES,
    PRIOR_CTR,
    RECENCY_CAP,
    USER_FEATURES,
    ctr_columns,
)
from shared.lake import Lake
from shared.schema import SURFACES

PREFIX = {ITEM_FEATURES.name: "item_", CONTEXT_FEATURES.name: "ctx_"}  # user names are unique
LABELLED_COLUMNS = (
    "event_id", "event_time", "user_id", "item_id", "surface", "position", "device", "hour",
    "context_title_id", "label",
)  # fmt: skip


def training_table(surface: str) -> str:
    return f"training/{surface}"


def _fill(frame: Any, columns: list[str], surface: str) -> Any:
    """Defaults for rows whose key was not in a feature table."""
    from pyspark.sql import functions as F

    ctr_surface: dict[str, str] = {}  # CTR column -> the surface whose prior fills it
    for table in (USER_FEATURES, ITEM_FEATURES, CONTEXT_FEATURES):
        for ctr, _, _, own in ctr_columns(table):
            ctr_surface[PREFIX.get(table.name, "") + ctr] = own or surface
    for col in columns:
        if col == "days_since_last_event":
            value: float = RECENCY_CAP
        elif col in ctr_surface:
            value = PRIOR_CTR[ctr_surface[col]]
        else:
            value = 0
        frame = frame.withColumn(
            col, F.coalesce(F.col(col), F.lit(value).cast(frame.schema[col].dataType))
        )
    return frame


def build_training_sets(spark: Any, lake: Lake, day: dt.date) -> dict[str, dict]:
    from pyspark.sql import functions as F

    from data_mle.spark_io import write_partition

    bronze = spark.read.parquet(str(lake.partition("bronze", "events", day)))
    features = {}
    for table in (USER_FEATURES, ITEM_FEATURES, CONTEXT_FEATURES):
        path = lake.partition("silver", table.name, day)
        if not path.is_dir():
            raise FileNotFoundError(f"no {table.name} as of {day}: run the features job first")
        frame = spark.read.parquet(str(path))
        prefix = PREFIX.get(table.name, "")
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
        .select(*LABELLED_COLUMNS)
    )
    joined = (
        labelled.join(features[USER_FEATURES.name], "user_id", "left")
        .join(features[ITEM_FEATURES.name], ["item_id", "surface"], "left")
        .join(features[CONTEXT_FEATURES.name], ["surface", "device", "hour"], "left")
    )
    written = {}
    for surface in SURFACES:
        rows = joined.filter(F.col("surface") == surface)
        value_columns = [
            *USER_FEATURES.values,
            *(PREFIX[ITEM_FEATURES.name] + v for v in ITEM_FEATURES.values),
            *(PREFIX[CONTEXT_FEATURES.name] + v for v in CONTEXT_FEATURES.values),
        ]
        rows = _fill(rows, value_columns, surface).select(*labelled.columns, *value_columns)
        written[surface] = write_partition(
            rows,
            lake.partition("gold", training_table(surface), day),
            ["event_time", "event_id"],
            extra={
                "feature_spec_version": FEATURE_SPEC_VERSION,
                "label": "clicked the same arrival day",
                "clicks_without_impression": orphans,
            },
        )
    return written


def main(argv: list[str] | None = None) -> int:
    from data_mle.spark import run_day_job

    def show(written: dict) -> str:
        return "\n".join(f"{s}: {i['rows']:,} rows -> {i['path']}" for s, i in written.items())

    return run_day_job(argv, "training", __doc__, build_training_sets, show)


if __name__ == "__main__":
    sys.exit(main())
