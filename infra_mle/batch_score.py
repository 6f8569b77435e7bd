"""The home row's daily batch job: score every user against the title catalogue with Spark, keep
each user's top K, publish them for the service to read.

    python -m infra_mle.batch_score --day 2026-01-18 [--k 10] [--upload] [--timings t.json]
    spark-submit infra_mle/batch_score.py --day 2026-01-18
    run = run_batch_job(lake, day, upload=True)   # from Python: the same job, its own process

Inputs, all from the lake unless given: the home-row model artifact
(`lake.models("home_row")`, its `latest.json`), the online feature snapshot of the day
(`lake.online_snapshot(DAY)`, data_mle's output) and the entity tables (`lake.entities()`).
Output: `lake.batch_recs(DAY)` with `home_rows.parquet` (user_id, rank, title_id,
p_click), `popular.parquet` (the fallback row for users the job did not score) and a manifest;
`--upload` publishes it to S3 under the same path. Re-running a day gives the same files.

Scoring is `mapInPandas` over batches of users: each Python worker loads the model and the
snapshot once (the same `OnlineScorer` the real-time service uses, so a batch score and an online
score of the same user, title and context agree) and scores a batch of users x all titles in one
forward pass. A home row is shown when the app opens, whatever the moment, so the batch scores
in one fixed context: the user's primary device at 20:00 UTC, the evening peak. That is the
price of batch: the service's ad ranking sees the actual device and hour.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shared.lake import Lake

K = 10
BATCH_HOUR = 20  # the evening peak of sessions (shared.simulate.HOUR_PROFILE)
HOME_FILE, POPULAR_FILE = "home_rows.parquet", "popular.parquet"  # what the service reads
USERS_PER_BATCH = 256  # x 1,000 titles: about 256,000 rows per forward pass, 20 MB of inputs
OUTPUT_SCHEMA = "user_id string, rank int, title_id string, p_click double"
PARTITIONS = 8  # tasks: a few per core here; a cluster would use more


@lru_cache(maxsize=2)
def worker_scorer(model_dir: str, snapshot_dir: str) -> Any:
    """The model and features, loaded once per Python worker (workers are reused)."""
    import torch

    from infra_mle.online import OnlineScorer
    from shared.artifacts import load_model

    torch.set_num_threads(1)  # Spark already runs one worker per core
    return OnlineScorer.load(load_model(Path(model_dir), surface="home_row"), Path(snapshot_dir))


def top_k_rows(users: pd.DataFrame, titles: np.ndarray, scorer: Any, k: int = K) -> pd.DataFrame:
    """The k best titles of each user (user_id, device) by p_click, in the batch's context."""
    n_users, n_titles = len(users), len(titles)
    categorical, dense = scorer.inputs(
        np.repeat(users["user_id"].to_numpy(object), n_titles),
        np.tile(titles, n_users),
        np.repeat(users["device"].to_numpy(object), n_titles),
        np.full(n_users * n_titles, BATCH_HOUR),
    )
    p = scorer.score_arrays(categorical, dense).reshape(n_users, n_titles)
    best = np.argsort(-p, axis=1, kind="stable")[:, :k]  # ties: catalogue order
    return pd.DataFrame(
        {
            "user_id": np.repeat(users["user_id"].to_numpy(object), k),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int32), n_users),
            "title_id": titles[best].ravel(),
            "p_click": np.take_along_axis(p, best, axis=1).ravel(),
        }
    )


def score_all_users(
    spark: Any, users: pd.DataFrame, titles: np.ndarray, model_dir: Path, snapshot_dir: Path,
    k: int = K,
) -> pd.DataFrame:  # fmt: skip
    """Every user's top k, computed by Spark workers; sorted by user and rank."""
    model, snapshot = str(model_dir), str(snapshot_dir)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        # Imported by name, not taken from this module's globals: run as a script (spark-submit,
        # python -m) this module is __main__, which the workers cannot import.
        from infra_mle.batch_score import worker_scorer

        scorer = worker_scorer(model, snapshot)
        for frame in batches:
            yield top_k_rows(frame, titles, scorer, k)

    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(USERS_PER_BATCH))
    frame = spark.createDataFrame(users[["user_id", "device"]]).repartition(PARTITIONS)
    result = frame.mapInPandas(score, OUTPUT_SCHEMA).toPandas()
    return result.sort_values(["user_id", "rank"], ignore_index=True)


def popular_row(snapshot_dir: Path, titles: np.ndarray, k: int = K) -> pd.DataFrame:
    """The fallback row: the live titles most clicked in the last 28 days, with their click
    rate, for users the batch did not score (new since the job ran)."""
    items = pd.read_parquet(snapshot_dir / "item_features.parquet")
    items = items[(items["surface"] == "home_row") & items["item_id"].isin(set(titles))]
    top = items.sort_values(["clicks_28d", "item_id"], ascending=[False, True]).head(k)
    return pd.DataFrame({"title_id": top["item_id"].to_numpy(object), "p_click": top["ctr_28d"]})


def run_batch(
    spark: Any, lake: Lake, day: dt.date, k: int = K, model_url: str | None = None,
    entities: Lake | None = None,
) -> Path:  # fmt: skip
    """Score the day and write its partition atomically; return the partition's folder."""
    from infra_mle.sources import fetch_model
    from shared.artifacts import load_model
    from shared.storage import atomic_partition, read_manifest, verify_partition

    model_dir = fetch_model(model_url or str(lake.models("home_row")), lake.root / "serving-cache")
    model = load_model(model_dir, surface="home_row")
    snapshot_dir = lake.online_snapshot(day)
    if not snapshot_dir.is_dir():
        raise FileNotFoundError(f"no online snapshot for {day}: run data_mle's publish first")
    verify_partition(snapshot_dir)
    entities = entities or lake
    users = pd.read_parquet(entities.entity("users")).rename(columns={"primary_device": "device"})
    catalogue = pd.read_parquet(entities.entity("titles"))
    live = catalogue[pd.to_datetime(catalogue["release_date"]).dt.date <= day]
    titles = live["title_id"].to_numpy(object)
    rows = score_all_users(spark, users, titles, model_dir, snapshot_dir, k)
    dest = lake.batch_recs(day)
    with atomic_partition(dest) as part:
        part.write_table(HOME_FILE, pa.Table.from_pandas(rows, preserve_index=False))
        popular = popular_row(snapshot_dir, titles, k)
        part.write_table(POPULAR_FILE, pa.Table.from_pandas(popular, preserve_index=False))
        part.extra.update(
            {
                "generated_for": day.isoformat(),
                "model_version": model.version,
                "snapshot_as_of": read_manifest(snapshot_dir).get("as_of"),
                "k": k,
                "users": len(users),
                "titles": len(titles),
                "context": {"device": "the user's primary device", "hour_utc": BATCH_HOUR},
            }
        )
    return dest


def tree_cpu_s() -> float:
    """CPU seconds of this process and every process under it (Spark's JVM and its Python
    workers), so far. With a Spark Connect server the work happens there and is not counted."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


@dataclass(frozen=True)
class BatchRun:
    """One run of the batch job, as a scheduler would start it, and what it cost."""

    path: Path  # the day's partition, `lake.batch_recs(day)`
    users: int
    titles: int
    model_version: str
    seconds: float  # the whole process, start to exit
    session_start_s: float  # of which starting Spark
    scoring_s: float  # and scoring every user
    cpu_s: float  # CPU of the job's process tree while scoring

    @property
    def rows_scored(self) -> int:
        return self.users * self.titles


def run_batch_job(
    lake: Lake, day: dt.date, model_url: str | None = None, upload: bool = False
) -> BatchRun:
    """The batch job for `day` in its own process (`python -m infra_mle.batch_score`), on the
    Spark Connect server when the environment names one; raises with the job's last output if
    it fails. The one way the demos and the loop run it."""
    from shared.server import run_to_end
    from shared.storage import read_manifest

    timings = lake.root / "logs" / f"batch-recs-{day.isoformat()}.json"
    timings.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "infra_mle.batch_score", "--day", day.isoformat(),
               "--lake", str(lake.root), "--timings", str(timings)]  # fmt: skip
    command += ["--model", model_url] if model_url else []
    command += ["--upload"] if upload else []
    started = time.perf_counter()
    result = run_to_end(command, dict(os.environ))
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        said = [line for line in result.stderr.splitlines() if line.startswith("batch_score:")]
        why = said[-1] if said else result.stderr.strip()[-1500:]  # else: a crash, its trace
        raise RuntimeError(f"the batch job for {day} failed: {why}")
    measured = json.loads(timings.read_text())
    manifest = read_manifest(lake.batch_recs(day))
    return BatchRun(
        path=lake.batch_recs(day),
        users=manifest["users"],
        titles=manifest["titles"],
        model_version=manifest["model_version"],
        seconds=round(seconds, 1),
        **measured,
    )


def main(argv: list[str] | None = None) -> int:
    from shared.settings import get_settings
    from shared.spark import spark_session, stop_session

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--lake", type=Path, default=None, help="default: MARQUEE_LAKE_ROOT")
    parser.add_argument("--model", default=None, help="model folder or s3:// URL")
    parser.add_argument("--upload", action="store_true", help="publish the output to S3")
    parser.add_argument("--timings", type=Path, default=None, help="write the timings here")
    args = parser.parse_args(argv)
    lake = Lake(args.lake) if args.lake else Lake.from_settings()
    started = time.perf_counter()
    spark = spark_session(f"batch-recs-{args.day}")
    session_start_s = time.perf_counter() - started
    try:
        scoring, cpu = time.perf_counter(), tree_cpu_s()
        dest = run_batch(spark, lake, args.day, args.k, args.model)
        scoring_s, cpu = time.perf_counter() - scoring, tree_cpu_s() - cpu
    except FileNotFoundError as e:
        print(f"batch_score: error: {e}", file=sys.stderr)
        return 1
    finally:
        stop_session(spark)
    if args.timings:
        from shared.storage import atomic_write_json

        atomic_write_json(args.timings, {
            "session_start_s": round(session_start_s, 1),
            "scoring_s": round(scoring_s, 1),
            "cpu_s": round(cpu, 2),
        })  # fmt: skip
    print(f"home rows for {args.day}: {dest}")
    if args.upload:
        from shared.s3 import upload_dir

        bucket = get_settings().bucket
        upload_dir(dest, bucket, lake.key(dest), create_bucket=True)
        print(f"uploaded to s3://{bucket}/{lake.key(dest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
