"""Ingest one day of raw events into bronze: parse, validate, de-duplicate, quarantine, reconcile.

    python -m data_mle.ingest --day 2026-01-06
    spark-submit --master spark://host:7077 data_mle/ingest.py --day 2026-01-06   # on a cluster

Reads `lake.raw_events(DAY)` (the landed copy of the S3 partition), only the files its
`_manifest.json` lists, and writes, each atomically:
- `lake.quarantine_events(DAY)`: every rejected line with its file, line number (from 1), reason,
  detail and raw text (invalid UTF-8 shown as U+FFFD), and one row per file quarantined whole;
- `lake.bronze_events(DAY)`: the accepted events, typed, one row per event id, with `is_late`.

Policies, written down once here:
- The partition must be what its writer sealed: a file present but not in the manifest, or
  listed but absent, refuses the whole day (`ManifestMismatch`; the command exits with 2).
- A listed file that cannot be read as gzipped lines (truncated, not gzip, unreadable) is
  quarantined whole as `unreadable_file`, counted with the lines its manifest says it holds, and
  named in one printed line; the rest of the day goes on.
- Each line is checked against the event contract by Spark column expressions
  (`data_mle.rules`, held to the pydantic reference `data_mle.validate` by a parity test):
  invalid UTF-8, malformed JSON, a duplicate key, schema drift, missing fields, wrong types,
  unknown enum values and impossible values (ids too long or with odd characters, numbers out of
  range or not finite) are quarantined, the first reason in that order.
- Time: an event more than `FUTURE_TOLERANCE` after the day's end is quarantined as
  `future_time` (a skewed clock); one more than `MAX_LATENESS` before the day's start as
  `too_late`. An event from before the day but within the lateness window is accepted into
  *this* day's partition with `is_late = true`: bronze is partitioned by arrival day, so a late
  event never rewrites a day that downstream jobs have already read.
- Duplicates (the same `event_id`) are kept once: the first line within the day (by file name,
  then line), and not at all if a bronze partition of the `DEDUP_LOOKBACK_DAYS` before holds it.
- Reconciliation, checked on every run and stored in the bronze manifest:
  input lines = accepted + quarantined (by reason) + duplicates, where a file quarantined whole
  counts as its manifest's lines (`files_quarantined` names each, with why).
"""

from __future__ import annotations

import datetime as dt
import gzip
import sys
import zlib
from collections import Counter
from functools import reduce
from pathlib import Path
from typing import Any

from shared.lake import Lake
from shared.schema import EVENTS
from shared.storage import MANIFEST, read_manifest

FUTURE_TOLERANCE = dt.timedelta(minutes=5)  # clocks drift a little; more is a broken clock
MAX_LATENESS = dt.timedelta(days=2)  # offline mobile viewing uploads within a day or two
DEDUP_LOOKBACK_DAYS = 3  # re-sends older than this are not expected, and not checked
UNREADABLE = "unreadable_file"  # the reason of a file quarantined whole


class ReconciliationError(RuntimeError):
    """The counts of an ingest run do not add up: some lines went missing."""


class ManifestMismatch(RuntimeError):
    """The files of a raw partition are not the ones its manifest lists."""


def listed_files(raw: Path) -> dict[str, dict]:
    """The files the partition's `_manifest.json` lists, by name. Raises `ManifestMismatch`
    when there is no manifest, or the folder holds a file it does not list or lacks one it does:
    a partition that is not what its writer sealed is refused, not guessed at."""
    if not (raw / MANIFEST).is_file():
        raise ManifestMismatch(f"{raw}: no {MANIFEST}; the partition was not sealed")
    listed = read_manifest(raw)["files"]
    present = {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()} - {MANIFEST}
    missing, unlisted = sorted(set(listed) - present), sorted(present - set(listed))
    if missing or unlisted:
        raise ManifestMismatch(
            f"{raw}: files and {MANIFEST} disagree: "
            + "; ".join(
                f"{what}: {', '.join(names)}"
                for what, names in (("listed but missing", missing), ("not listed", unlisted))
                if names
            )
        )
    return listed


def unreadable(path: Path) -> str | None:
    """Why `path` cannot be read as gzipped lines, or None. Reading it to the end once checks
    the gzip length and CRC, so a truncated or corrupt file is found here, whole, instead of
    failing Spark's job half-way (`ignoreCorruptFiles` would drop its tail silently instead).
    About 0.2 s for a small-preset day on one core."""
    if not path.name.endswith(".gz"):  # Spark picks the codec by the name
        return "not a .gz file"
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        return f"{type(error).__name__}: {error}"
    return None


def read_lines(spark: Any, raw: Path, names: list[str]) -> Any:
    """`file`, `line` (1-based, within the file) and `raw` (the line's text, its bytes as they
    are) of each named file. A gzip file cannot be split, so Spark reads each as one partition
    and `monotonically_increasing_id()` counts its lines from 0; the files are read one
    DataFrame each, so that count restarts for every file."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    frames = [
        spark.read.option("lineSep", "\n")  # lines as the manifest counts them, not at a lone \r
        .text(str(raw / name))
        .select(
            F.lit(name).alias("file"),
            (F.monotonically_increasing_id() + 1).alias("line"),
            F.col("value").alias("raw"),
        )
        for name in names
    ]
    if not frames:
        return spark.createDataFrame([], "file string, line bigint, raw string")
    return reduce(DataFrame.unionByName, frames)


def classify(lines: Any, day: dt.date) -> Any:
    """Each line with its typed fields, `reason` (null when accepted), `detail` and `is_late`:
    the contract's rules (`data_mle.rules`), then the time policy of the day."""
    from pyspark.sql import functions as F

    from data_mle.rules import check_lines

    checked = check_lines(lines)
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
    accepted = F.col("reason").isNull()
    return (
        checked.withColumn(
            "detail",
            F.when(accepted, F.when(time_reason.isNotNull(), time_detail)).otherwise(
                F.col("detail")
            ),
        )
        .withColumn("reason", F.when(accepted, time_reason).otherwise(F.col("reason")))
        .withColumn("is_late", F.col("reason").isNull() & (F.col("event_time") < F.lit(start)))
    )


def mark_duplicates(rows: Any, earlier_ids: Any | None) -> Any:
    """`rows` (with `event_id`, `file`, `line` and `reason`) with `duplicate_of`, for accepted
    rows (`reason` null; null for every other row): null for the line kept, `same_day` for each
    later line (by file, then line) of an event id the day already accepted, `earlier_day` for
    an id a bronze partition of the days before already holds (`earlier_ids`, None when there is
    none). A quarantined line never makes an accepted one a duplicate."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    accepted = F.col("reason").isNull()
    # Accepted lines first (false sorts before true), so an accepted line's number counts only
    # the accepted lines before it.
    first = Window.partitionBy("event_id").orderBy(~accepted, "file", "line")
    ranked = rows.withColumn("_n", F.row_number().over(first))
    duplicate_of = F.when(accepted & (F.col("_n") > 1), F.lit("same_day"))
    if earlier_ids is not None:
        # A few days of ids, a few MB at most: each task gets a copy, and the day's lines stay put.
        seen = earlier_ids.select("event_id").distinct().withColumn("_seen", F.lit(True))
        ranked = ranked.join(F.broadcast(seen), "event_id", "left")
        duplicate_of = duplicate_of.when(accepted & F.col("_seen"), F.lit("earlier_day"))
    # Not `select(*rows.columns, ...)`: through Spark Connect, asking for the columns is a round
    # trip that analyses the whole plan of the day's checks.
    return ranked.withColumn("duplicate_of", duplicate_of).drop("_n", "_seen")


def _whole_files(spark: Any, bad: dict[str, str]) -> Any:
    """One quarantine row for each file that could not be read: no line, no text."""
    return spark.createDataFrame(
        [(name, None, UNREADABLE, why, None) for name, why in bad.items()],
        "file string, line bigint, reason string, detail string, raw string",
    )


def ingest_day(spark: Any, lake: Lake, day: dt.date) -> dict:
    """Run the ingest for `day` and return its reconciliation (also in the bronze manifest)."""
    from pyspark.sql import functions as F

    from data_mle.spark_io import write_partitions

    raw = lake.raw_events(day)
    if not raw.is_dir():
        raise FileNotFoundError(f"no raw partition for {day}: {raw} does not exist")
    files = listed_files(raw)
    bad = {name: why for name in sorted(files) if (why := unreadable(raw / name))}
    for name, why in bad.items():
        print(
            f"ingest {day}: {name} quarantined whole as {UNREADABLE} "
            f"({files[name]['rows']:,} lines, by its manifest): {why}",
            file=sys.stderr,
        )
    lines = read_lines(spark, raw, [n for n in sorted(files) if n not in bad])
    rows = classify(lines, day)
    earlier = [
        lake.bronze_events(d)
        for d in (day - dt.timedelta(days=k) for k in range(1, DEDUP_LOOKBACK_DAYS + 1))
        if lake.bronze_events(d).is_dir()
    ]
    earlier_ids = spark.read.parquet(*map(str, earlier)) if earlier else None
    # The text is kept for quarantine only. Checked, counted, de-duplicated and written from one
    # parse, kept as a local checkpoint: the counts and both writes read its rows, and their
    # plans start there (with `cache()`, each would name and analyse the whole plan again from
    # the raw text: 0.2-0.3 s a query through Spark Connect). Its rows are freed when `marked`
    # is gone: a Connect client tells the server then, a local session's cleaner notices.
    rows = rows.withColumn("raw", F.when(F.col("reason").isNotNull(), F.col("raw")))
    marked = mark_duplicates(rows, earlier_ids).localCheckpoint()
    outcomes = marked.groupBy("reason", "duplicate_of", "is_late").count().collect()
    quarantined: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()
    accepted = late = 0
    for r in outcomes:
        if r["reason"] is not None:
            quarantined[r["reason"]] += r["count"]
        elif r["duplicate_of"] is not None:
            duplicates[r["duplicate_of"]] += r["count"]
        else:
            accepted += r["count"]
            late += r["count"] if r["is_late"] else 0
    unread_lines = {name: files[name]["rows"] for name in bad}
    if bad:
        quarantined[UNREADABLE] = sum(unread_lines.values())
    counts = {
        "input_lines": sum(r["count"] for r in outcomes) + sum(unread_lines.values()),
        "accepted": accepted,
        "late": late,
        "quarantined": dict(quarantined),
        "duplicates": dict(duplicates),
        "files_quarantined": {
            name: {"reason": UNREADABLE, "detail": why, "lines": unread_lines[name]}
            for name, why in bad.items()
        },
    }
    total = counts["accepted"] + sum(quarantined.values()) + sum(duplicates.values())
    counts["reconciled"] = total == counts["input_lines"]
    if not counts["reconciled"]:
        raise ReconciliationError(
            f"{day}: {counts['input_lines']} lines in, but accepted + quarantined + "
            f"duplicates = {total}; nothing was written"
        )
    quarantine = marked.filter("reason IS NOT NULL").select(
        "file", "line", "reason", "detail", F.make_valid_utf8("raw").alias("raw")
    )
    if bad:
        quarantine = quarantine.unionByName(_whole_files(spark, bad))
    bronze = marked.filter("reason IS NULL AND duplicate_of IS NULL")
    bronze = bronze.select(*EVENTS.names, "is_late")
    bronze = bronze.withColumn("ingest_date", F.lit(day.isoformat()).cast("date"))
    write_partitions([
        (quarantine, lake.quarantine_events(day), ["file", "line"], None),
        (bronze, lake.bronze_events(day), ["event_time", "event_id"], {"reconciliation": counts}),
    ])  # fmt: skip
    return counts


def main(argv: list[str] | None = None) -> int:
    from data_mle.spark import run_day_job

    return run_day_job(
        argv, "ingest", __doc__, ingest_day, lambda counts: f"ingest: {counts}",
        errors=(FileNotFoundError, ReconciliationError), refusals=(ManifestMismatch,),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
