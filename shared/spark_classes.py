"""Spark's classes, loaded once and kept in a file: a class-data archive that every Spark JVM of
the project maps at start instead of reading and verifying the same classes from 200+ jars.

    python -m shared.spark_classes        # (re)writes it; `make setup` runs this

A JVM started with `-XX:ArchiveClassesAtExit=<file>` writes every class it loaded into that file
when it exits (HotSpot's dynamic class-data sharing, "AppCDS", JDK 13+); one started with
`-XX:SharedArchiveFile=<file>` maps them. Here a short Spark job (`workload`: JSON, variants,
a window, Parquet, Arrow) loads what the project's jobs load. On this machine class, the start of
a local session and a first small job: 6.0-7.3 s -> 4.4-4.5 s; a Spark Connect server accepts
connections after 2.4-2.5 s instead of 3.8-4.0 s (2026-12-07).

The archive belongs to the exact Java and jars it was made with: it lives in the environment
(`CLASS_ARCHIVE`, beside the installed pyspark), and a JVM that finds it made for another
version or class path ignores it (quietly: `shared.spark.driver_java_options`) and loads the
classes as usual. It is written to a scratch name and renamed when the JVM that wrote it has
exited, because a JVM that maps a half-written archive crashes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared.spark import CLASS_ARCHIVE, DRIVER_MEMORY, GC_OPTIONS, SPARK_SUBMIT

WORKLOAD_LINES = [
    '{"id": "a1", "at": "2026-01-05T20:15:03.250Z", "n": 3, "x": 0.5, "tags": ["p"]}',
    '{"id": "a2", "at": "2026-01-05T21:00:00.000Z", "n": 1, "x": 1.5, "tags": []}',
    '{"id": "a1", "at": "2026-01-05T22:00:00.000Z", "n": 2, "x": null, "tags": ["q"]}',
    "not json",
]


def workload(scratch: Path) -> None:
    """A small job through the parts of Spark the project's jobs use, so their classes are
    loaded when the JVM exits: text and JSON (`from_json`, `to_json`, variants), a window and
    an aggregation, a broadcast join, the cache, sorted Parquet out and back, Arrow to pandas."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from shared.spark import spark_session

    spark = spark_session("spark-classes")
    raw = scratch / "lines.jsonl"
    raw.write_text("\n".join(WORKLOAD_LINES) + "\n")
    schema = "id string, at timestamp, n int, x double, tags array<string>"
    lines = spark.read.text(str(raw)).select(
        F.lit(raw.name).alias("file"),
        (F.monotonically_increasing_id() + 1).alias("line"),
        F.col("value").alias("raw"),
    )
    parsed = lines.select(
        "*",
        F.from_json("raw", schema).alias("typed"),
        F.try_parse_json("raw").alias("json"),
        F.is_valid_utf8("raw").alias("utf8"),
        F.json_array_length(F.concat(F.lit("["), F.col("raw"), F.lit(",0]"))).alias("items"),
        F.get_json_object("raw", "$.n").rlike(r"\A-?[0-9]+\z").alias("digits"),
    ).select(
        "*",
        F.to_json("typed").alias("again"),
        F.schema_of_variant(F.try_variant_get("json", "$.n", "variant")).alias("n_type"),
        F.try_variant_get("json", "$", "map<string,variant>").alias("fields"),
        F.row_number().over(Window.partitionBy("typed.id").orderBy("file", "line")).alias("k"),
    )
    parsed = parsed.join(F.broadcast(spark.range(3).withColumnRenamed("id", "k")), "k", "left")
    parsed = parsed.select("*", F.size(F.map_keys("fields")).alias("keys")).cache()
    parsed.groupBy("k", "n_type").count().collect()
    out = scratch / "out"
    parsed.select("line", "typed.*", "keys").coalesce(1).sortWithinPartitions("line").write.parquet(
        str(out)
    )
    spark.read.parquet(str(out)).groupBy("id").agg(F.max("at"), F.sum("x")).toPandas()
    parsed.unpersist()
    spark.stop()


def build(archive: Path = CLASS_ARCHIVE) -> Path:
    """Run `workload` in a JVM that writes its classes to a scratch file on exit, then move that
    file to `archive`. Raises `RuntimeError` (and leaves any archive there as it was) when the
    job fails."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    scratch_archive = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    options = f"{GC_OPTIONS} -XX:ArchiveClassesAtExit={shlex.quote(str(scratch_archive))}"
    # spark-submit execs the JVM, and the JVM runs this file's workload as its Python child, so
    # this call returns once the JVM has written the archive and exited.
    command = [
        SPARK_SUBMIT,
        *("--master", "local[2]", "--driver-memory", DRIVER_MEMORY),
        *("--driver-java-options", f"{options} -Xlog:cds=off,cds+dynamic=off"),
        str(Path(__file__)),
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="spark-classes-") as scratch:
            env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
            env.pop("MARQUEE_SPARK_REMOTE", None)  # the workload needs its own JVM
            done = subprocess.run(
                [*command, "--workload", scratch], env=env, capture_output=True, text=True
            )
        if done.returncode != 0 or not scratch_archive.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(
                f"the Spark class archive was not written (exit {done.returncode}):\n{tail}"
            )
        os.replace(scratch_archive, archive)
    finally:
        scratch_archive.unlink(missing_ok=True)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.spark_classes", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workload", type=Path, help=argparse.SUPPRESS)  # inside the JVM
    args = parser.parse_args(argv)
    if args.workload is not None:
        workload(args.workload)
        return 0
    started = time.perf_counter()
    try:
        archive = build()
    except RuntimeError as error:
        print(f"spark_classes: {error}", file=sys.stderr)
        return 1
    size = archive.stat().st_size / 2**20
    print(f"wrote {archive} ({size:.0f} MiB) in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
