"""ETL throughput: the data MLE's ingest and feature jobs on Spark, against a pandas peer.

Reported, each with the machine and versions (see `benchmarks/__main__.py`):
- the cost of starting a local SparkSession (a fresh process each time), and the fixed cost of
  one ingest job (a 100-line day), apart from the throughput;
- ingest throughput, in lines per second, for a small-preset day (1x), a day with 4x the
  sessions (4x), and a medium-preset day (10x); the growth ratio time(4x) / time(1x) (4.0 would
  be linear; less means fixed costs are being amortised; the goal is at most 3);
- against a peer in the same session on the same partition: Spark's bare JSON read of it
  (`spark.read.schema(EVENTS.spark()).json(path)`, every column parsed, no checks, nothing
  written: see `bare_read`), as ingest lines/s over bare-read lines/s (goal: at least 0.5);
- the features of a day in Spark against the pandas reference (`shared.features`) on the same
  bronze events, as a ratio: where Spark starts to pay off on one machine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.report import spread
from shared.features import compute_features
from shared.lake import BRONZE_EVENTS, Lake
from shared.presets import get_preset
from shared.raw_log import to_json_lines, write_business_events
from shared.schema import EVENTS
from shared.simulate import simulate_day
from shared.storage import atomic_partition
from shared.world import build_world

DAY = dt.date(2026, 1, 6)  # a Tuesday: the history day before it is a Monday
SIZES = {"1x": ("small", 1), "4x": ("small", 4), "10x": ("medium", 1)}
REPEATS = {"1x": 3, "4x": 2, "10x": 1}
GOAL_GROWTH_4X = 3.0  # time(4x) / time(1x): the fixed costs must not dominate
GOAL_OVER_BARE_READ = 0.5  # ingest lines/s over a bare read's: checking may cost 2x, not more
START_CODE = (
    "import time; t = time.perf_counter()\n"
    "from shared.spark import spark_session\n"
    "s = spark_session('bench-start'); s.range(1).count()\n"
    "print(time.perf_counter() - t); s.stop()\n"
)


def _land_day(
    lake: Lake, preset_name: str, factor: int, day_index: int, lines: int | None = None
) -> int:
    """Simulate a day (with `factor` times the preset's sessions) into the lake's raw zone."""
    base = get_preset(preset_name)
    preset = dataclasses.replace(base, sessions_per_day=base.sessions_per_day * factor)
    world = build_world(preset, seed=7, start=DAY - dt.timedelta(days=1))
    events = simulate_day(world, day_index).events
    text = to_json_lines(events if lines is None else events.slice(0, lines))
    with atomic_partition(lake.raw_events(DAY - dt.timedelta(days=1 - day_index))) as part:
        write_business_events(part, text)
    return len(text)


def bare_read(spark, path: Path) -> None:
    """Spark's JSON reader on the partition, every column parsed, the rows thrown away. Not
    `.count()`: with no column asked for, Spark's JSON source skips parsing (SPARK-24959) and
    only decompresses and splits lines, which is no peer for a job that reads every field."""
    spark.read.schema(EVENTS.spark()).json(str(path)).write.format("noop").mode("overwrite").save()


def session_start(repeats: int = 3) -> dict:
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", START_CODE], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return spread(times)


def run() -> dict:
    from data_mle.features import build_features
    from data_mle.ingest import ingest_day
    from shared.spark import spark_session

    started = session_start()
    spark = spark_session("bench-etl")
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            overhead_lake = Lake(Path(tmp) / "overhead")
            _land_day(overhead_lake, "tiny", 1, 1, lines=100)
            ingest_day(spark, overhead_lake, DAY)  # warm-up: first jobs compile and start workers
            job_overhead = []
            for _ in range(3):
                t = time.perf_counter()
                ingest_day(spark, overhead_lake, DAY)
                job_overhead.append(time.perf_counter() - t)

            for label, (preset, factor) in SIZES.items():
                lake = Lake(Path(tmp) / label)
                _land_day(lake, preset, factor, 0)  # the history day, for features
                lines = _land_day(lake, preset, factor, 1)
                ingest_day(spark, lake, DAY - dt.timedelta(days=1))
                ingest_times = []
                for _ in range(REPEATS[label]):
                    t = time.perf_counter()
                    ingest_day(spark, lake, DAY)
                    ingest_times.append(time.perf_counter() - t)
                bare_times = []
                for _ in range(REPEATS[label]):
                    t = time.perf_counter()
                    bare_read(spark, lake.raw_events(DAY))
                    bare_times.append(time.perf_counter() - t)
                as_of = DAY + dt.timedelta(days=1)
                t = time.perf_counter()
                build_features(spark, lake, as_of)
                spark_features = time.perf_counter() - t
                t = time.perf_counter()
                bronze = pa.concat_tables(
                    pq.read_table(lake.bronze_events(d)) for d in lake.days(BRONZE_EVENTS)
                ).to_pandas()
                compute_features(bronze, as_of)
                pandas_features = time.perf_counter() - t
                results.append(
                    {
                        "size": label,
                        "preset": preset,
                        "sessions_factor": factor,
                        "lines": lines,
                        "ingest_s": spread(ingest_times),
                        "ingest_lines_per_s": round(lines / statistics.median(ingest_times)),
                        "bare_read_s": spread(bare_times),
                        "bare_read_lines_per_s": round(lines / statistics.median(bare_times)),
                        "ingest_over_bare_read": round(
                            statistics.median(bare_times) / statistics.median(ingest_times), 3
                        ),
                        "features_spark_s": round(spark_features, 2),
                        "features_pandas_s": round(pandas_features, 2),
                        "features_spark_over_pandas": round(spark_features / pandas_features, 2),
                    }
                )
    finally:
        spark.stop()
    by = {r["size"]: r for r in results}
    growth = by["4x"]["ingest_s"]["median"] / by["1x"]["ingest_s"]["median"]
    return {
        "name": "etl_throughput",
        "goal": f"growth ratio 4x/1x <= {GOAL_GROWTH_4X}; ingest >= {GOAL_OVER_BARE_READ}x the "
        "lines/s of a bare Spark JSON read of the same partition; Spark against pandas reported",
        "session_start_s": started,
        "job_overhead_s": spread(job_overhead),
        "growth_ratio_4x": round(growth, 2),
        "results": results,
    }


def markdown(entry: dict) -> str:
    s, o = entry["session_start_s"], entry["job_overhead_s"]
    rows = [
        "## ETL throughput (data_mle)",
        "",
        f"Local SparkSession start, a fresh process: median {s['median']:.1f} s "
        f"({s['min']:.1f}-{s['max']:.1f}, {s['repeats']} runs). Fixed cost of one ingest job "
        f"(a 100-line day, warm session): median {o['median']:.2f} s. Growth ratio, ingest time "
        f"at 4x the data over 1x: **{entry['growth_ratio_4x']}** (4.0 would be linear).",
        "",
        f"Ingest against a bare Spark JSON read of the same partition (every field parsed, no "
        f"checks, nothing written), "
        f"lines/s over lines/s: goal at least {GOAL_OVER_BARE_READ}; growth goal at most "
        f"{GOAL_GROWTH_4X}.",
        "",
        "| size | preset | lines | ingest, s (median, min-max) | lines/s | bare read, s | "
        "ingest / bare read | features: Spark s | pandas s | Spark / pandas |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in entry["results"]:
        i, b = r["ingest_s"], r["bare_read_s"]
        rows.append(
            f"| {r['size']} | {r['preset']} x{r['sessions_factor']} | {r['lines']:,} | "
            f"{i['median']:.1f} ({i['min']:.1f}-{i['max']:.1f}) | {r['ingest_lines_per_s']:,} | "
            f"{b['median']:.2f} | {r['ingest_over_bare_read']} | "
            f"{r['features_spark_s']} | {r['features_pandas_s']} | "
            f"{r['features_spark_over_pandas']} |"
        )
    return "\n".join([*rows, ""])
