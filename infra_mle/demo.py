"""`make demo-infra`: the same model served two ways, measured side by side.

    python -m infra_mle.demo [--rate 100] [--seconds 10]

1. Generates the small preset's 14 days (the world model_mle trained on, same seed), computes the
   online feature snapshot for the day after, and publishes it, the entity tables and both model
   artifacts (made by `python -m model_mle.train ... --export`, which the Makefile runs first)
   to S3 on a moto server.
2. Runs the batch job (Spark) for that day: every user's home row, uploaded to S3.
3. Starts the ranking service as a real uvicorn process, which loads everything from S3, and
   load-tests its ad-break ranking open-loop at a stated rate with real requests of the day.
4. Asks the simulator what each way of serving is worth: the expected click rate of the home row
   the batch job computed in the morning (one fixed context) against the same model ranking in
   real time with each visit's device and hour.

Prints the table and writes `reports/demo-infra.json`. Everything lives in `<lake>/infra_demo`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import shutil
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

from infra_mle.batch_score import run_batch_job
from infra_mle.loadtest import open_loop
from shared.artifacts import LATEST, latest_model, load_model, upload_model
from shared.features import write_snapshot
from shared.generate import DATASET_FILE, GenerateConfig, generate, read_events
from shared.lake import Lake, models_key
from shared.s3 import MotoServer, free_port, publish_entities, upload_dir
from shared.server import UvicornServer, sigterm_exits
from shared.settings import get_settings
from shared.storage import atomic_write_json

PRESET, DAYS = "small", 14  # model_mle's default experiment: the models were trained on it
CANDIDATES = 20  # ads per ranking request
TOKEN = "demo-admin-token"  # the demo's own; a deployment takes it from a secret store


def prepare(lake: Lake, source: Lake, seed: int) -> tuple[Path, dt.date, pd.DataFrame]:
    """The dataset, the serving day's snapshot and the entities in the demo's lake; the models
    copied from the main lake. Returns the dataset, the serving day and the day's events."""
    world = lake.root / "world"
    if not (world / DATASET_FILE).exists():
        generate(GenerateConfig(preset=PRESET, days=DAYS, seed=seed), world)
    events = read_events(world)
    day = pd.to_datetime(events["ingest_date"]).max().date() + dt.timedelta(days=1)
    snapshot = lake.online_snapshot(day)
    if not snapshot.exists():
        write_snapshot(snapshot, events, day)
    publish_entities(world, lake)  # to S3 too, once moto runs: see publish()
    for surface in ("ad_break", "home_row"):
        model = latest_model(source, surface)
        target = lake.models(surface) / model.name
        if not target.exists():
            shutil.copytree(model, target)
        atomic_write_json(target.parent / LATEST, {"version": model.name})
    return world, day, events


def publish(lake: Lake, day: dt.date, bucket: str) -> None:
    for surface in ("ad_break", "home_row"):
        upload_model(latest_model(lake, surface), bucket)
    snapshot = lake.online_snapshot(day)
    upload_dir(snapshot, bucket, lake.key(snapshot), create_bucket=True)
    upload_dir(lake.entities(), bucket, lake.key(lake.entities()))  # what publish_entities made


def batch_job(lake: Lake, day: dt.date, bucket: str) -> dict:
    """infra_mle's batch job, as the loop and a scheduler run it, and what a prediction costs."""
    run = run_batch_job(lake, day, f"s3://{bucket}/{models_key('home_row')}", upload=True)
    return {
        "seconds": run.seconds,
        "session_start_s": run.session_start_s,
        "scoring_s": run.scoring_s,
        "users_scored": run.users,
        "titles": run.titles,
        "rows_scored": run.rows_scored,
        "rows_per_s": round(run.rows_scored / run.scoring_s),
        "cpu_s_per_1000_predictions": round(1000 * run.cpu_s / run.rows_scored, 4),
        "path": str(run.path),
    }


def ranking_bodies(
    events: pd.DataFrame, ads: pd.DataFrame, day: dt.date, n: int, seed: int
) -> list[dict]:
    """Real ad-break contexts (user, device, time) from the last day's log, moved to the serving
    day, each with 20 candidate ads drawn from those live."""
    rng = np.random.default_rng(seed)
    breaks = events[(events["event_type"] == "impression") & (events["surface"] == "ad_break")]
    breaks = breaks.drop_duplicates("request_id").sample(n, random_state=seed, replace=True)
    live = ads[pd.to_datetime(ads["start_date"]).dt.date <= day]["ad_id"].to_numpy()
    bodies = []
    for row in breaks.itertuples():
        t = row.event_time
        when = dt.datetime.combine(day, dt.time(t.hour, t.minute, t.second), dt.UTC)
        bodies.append(
            {
                "user_id": row.user_id,
                "device": row.device,
                "time": when.isoformat(),
                "title_id": row.context_title_id,
                "candidate_ad_ids": list(rng.choice(live, CANDIDATES, replace=False)),
            }
        )
    return bodies


def process_cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def home_row_quality(
    lake: Lake, world: Path, day: dt.date, events: pd.DataFrame, n: int, seed: int
) -> dict:
    """Expected click rate per slot, by the simulator's truth, of the batch's home row (scored
    once, in the evening context) against the same model ranking in real time with each visit's
    own device and hour, for the same visits. Visits: the last day's home-row requests."""
    import json

    from infra_mle.batch_score import BATCH_HOUR, HOME_FILE
    from infra_mle.online import OnlineScorer
    from shared.click_model import click_probability
    from shared.presets import get_preset
    from shared.schema import DEVICES
    from shared.world import build_world

    made = json.loads((world / DATASET_FILE).read_text())["config"]
    sim = build_world(
        get_preset(made["preset"]), made["seed"], dt.date.fromisoformat(made["start"])
    )
    day_index = (day - sim.start).days
    home = events[(events["event_type"] == "impression") & (events["surface"] == "home_row")]
    visits = home.drop_duplicates("request_id").sample(n, random_state=seed)
    visits = visits.assign(hour=visits["event_time"].dt.hour)
    recs = pd.read_parquet(lake.batch_recs(day) / HOME_FILE)
    batch_rows = recs.groupby("user_id")["title_id"].apply(list)
    model = load_model(latest_model(lake, "home_row"))
    scorer = OnlineScorer.load(model, lake.online_snapshot(day))
    titles = pd.read_parquet(lake.entity("titles"))
    live = titles[pd.to_datetime(titles["release_date"]).dt.date <= day]["title_id"].to_numpy(
        object
    )
    user_index = {u: i for i, u in enumerate(sim.user_ids)}
    title_index = {t: i for i, t in enumerate(sim.items["home_row"].ids)}
    device_index = {d: i for i, d in enumerate(DEVICES)}
    k = 10
    expected = {"batch": [], "realtime": []}
    for v in visits.itertuples():
        p = scorer.score(v.user_id, list(live), v.device, v.hour)
        realtime = live[np.argsort(-p, kind="stable")[:k]]
        for name, row in (("batch", batch_rows[v.user_id]), ("realtime", realtime)):
            items = np.array([title_index[t] for t in row[:k]])
            truth = click_probability(
                sim,
                "home_row",
                day_index,
                np.full(k, user_index[v.user_id]),
                items,
                np.full(k, v.hour),
                np.full(k, device_index[v.device]),
                np.arange(1, k + 1),
            )
            expected[name].append(truth.mean())
    ages = (visits["event_time"].dt.hour * 3600 + visits["event_time"].dt.minute * 60).to_numpy()
    return {
        "visits": n,
        "batch_expected_ctr": float(np.mean(expected["batch"])),
        "realtime_expected_ctr": float(np.mean(expected["realtime"])),
        "batch_context": f"primary device, {BATCH_HOUR}:00 UTC",
        "batch_score_age_h": round(float(ages.mean()) / 3600, 1),  # scored at the day's start
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the load test")
    args = parser.parse_args(argv)
    settings = get_settings()
    seed = settings.seed
    source = Lake.from_settings()
    lake = Lake(settings.lake_root / "infra_demo")
    began = time.perf_counter()
    print("1. data, snapshot and models ...", flush=True)
    world, day, events = prepare(lake, source, seed)
    last_day = events[pd.to_datetime(events["ingest_date"]).dt.date == day - dt.timedelta(days=1)]
    report: dict = {"serving_day": day.isoformat(), "preset": PRESET}
    with MotoServer() as moto:
        bucket = settings.bucket
        publish(lake, day, bucket)
        print("2. batch job: every user's home row (Spark) ...", flush=True)
        report["batch"] = batch_job(lake, day, bucket)
        print(
            f"   {report['batch']['users_scored']:,} users x {report['batch']['titles']:,} titles "
            f"in {report['batch']['scoring_s']} s",
            flush=True,
        )
        print("3. ranking service (uvicorn) and an open-loop load test ...", flush=True)
        port = free_port()
        env = {
            **os.environ,
            **moto.env(),
            "MARQUEE_SERVE_ADMIN_TOKEN": TOKEN,
            "MARQUEE_LAKE_ROOT": str(lake.root),
        }
        with UvicornServer("infra_mle.serve", port, env, "/readyz") as service:
            cold_start = service.ready_s
            ads = pd.read_parquet(lake.entity("ads"))
            bodies = ranking_bodies(last_day, ads, day, 2000, seed)
            gc.collect()
            gc.freeze()  # the generator's own collections would delay sends, counted as latency
            url = f"http://127.0.0.1:{port}/v1/ad-break/rank"
            asyncio.run(open_loop(url, bodies[:200], rate=50, seconds=2))  # warm the connections
            cpu_before = process_cpu_s(service.pid)
            load = asyncio.run(open_loop(url, bodies, rate=args.rate, seconds=args.seconds))
            cpu = process_cpu_s(service.pid) - cpu_before
            rss_mb = psutil.Process(service.pid).memory_info().rss / 2**20
            version = httpx.get(f"{service.url}/readyz").json()["detail"]
    predictions = load.statuses.get(200, 0) * CANDIDATES
    report["realtime"] = {
        **load.summary(),
        "candidates": CANDIDATES,
        "model_version": version,
        "cpu_s_per_1000_predictions": round(1000 * cpu / max(predictions, 1), 4),
        "rss_mb": round(rss_mb),
        "cold_start_s": round(cold_start, 1),
        "score_age_s": 0,
    }
    print("4. what the moment is worth: batch home rows against real-time ranking ...", flush=True)
    report["quality"] = home_row_quality(lake, world, day, last_day, 500, seed)
    report["seconds"] = round(time.perf_counter() - began, 1)
    atomic_write_json(get_settings().reports_dir / "demo-infra.json", report)
    print_table(report)
    return 0


def print_table(r: dict) -> None:
    rt, b, q = r["realtime"], r["batch"], r["quality"]
    latency = f"{rt['p50_ms']:.1f} / {rt['p95_ms']:.1f} / {rt['p99_ms']:.1f} ms"
    realtime_ctr = f"{100 * q['realtime_expected_ctr']:.2f}% (each visit's device and hour)"
    batch_ctr = f"{100 * q['batch_expected_ctr']:.2f}% ({q['batch_context']})"
    rows = [
        ("what it serves", "ad breaks, ranked per request", "home rows, scored once a day"),
        (
            "request rate, asked / achieved",
            f"{rt['rate_rps']:.0f} / {rt['achieved_rps']:.0f} per s",
            "-",
        ),
        ("latency p50 / p95 / p99", latency, "a lookup when served"),
        (
            "predictions per second",
            f"{rt['achieved_rps'] * rt['candidates']:,.0f}",
            f"{b['rows_per_s']:,}",
        ),
        (
            "CPU s per 1,000 predictions",
            f"{rt['cpu_s_per_1000_predictions']:.4f}",
            f"{b['cpu_s_per_1000_predictions']:.4f}",
        ),
        ("resident memory", f"{rt['rss_mb']} MB, all day", "only while the job runs"),
        ("start-up", f"{rt['cold_start_s']} s to ready", f"{b['session_start_s']} s Spark session"),
        (
            "age of the scores when served",
            "0 (scored on request)",
            f"{q['batch_score_age_h']} h on average",
        ),
        ("expected home-row click rate", realtime_ctr, batch_ctr),
    ]
    print(f"\n{'':32} {'real-time service':40} batch job")
    for name, a, c in rows:
        print(f"{name:32} {a:40} {c}")
    print(
        f"\n{b['users_scored']:,} users scored in {b['scoring_s']} s; {rt['ok']:,} rankings "
        f"({rt['statuses']}); {r['seconds']} s in all. Figures: reports/demo-infra.json"
    )


if __name__ == "__main__":
    with sigterm_exits():  # `kill` or a CI timeout unwinds like Ctrl-C: the servers stop too
        sys.exit(main())
