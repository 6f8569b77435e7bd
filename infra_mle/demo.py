"""`make demo-infra`: the same model served two ways, measured side by side.

    python -m infra_mle.demo [--rate 100] [--seconds 10]

1. Generates the small preset's 14 days (the world model_mle trained on, same seed), computes the
   online feature snapshot for the day after, and publishes it, the entity tables and both model
   artifacts (made by `python -m model_mle.train ... --export`, which the Makefile runs first)
   to S3 on a moto server.
2. Runs the batch job (Spark) for that day: every user's home row, uploaded to S3.
3. Starts the ranking service as a real uvicorn process, which loads everything from S3, and
   load-tests its ad-break ranking open-loop at a stated rate with real requests of the day.
4. Asks the simulator what each shape is worth for both products (`staleness.py`: ads and home
   rows in real time, from a daily batch, and from scores 1 hour to 7 days old), measures the
   service's memory part by part (`sizing.py`), and prices both shapes (`cost.py`).

Prints the tables and writes `reports/demo-infra.json` and `reports/staleness.png`. Everything
lives in `<lake>/infra_demo`.
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
from infra_mle.staleness import plot
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


def value_and_size(
    lake: Lake, world: Path, day: dt.date, last_day: pd.DataFrame, seed: int
) -> dict:
    """The simulator's value of each shape and age (`staleness.evaluate`), the service's memory
    part by part (`sizing.measure_memory`, on the demo's files) and the CPU a real-time home row
    would cost a prediction."""
    from infra_mle.online import OnlineScorer
    from infra_mle.sizing import local_env, measure_memory, ranking_cpu_s_per_prediction
    from infra_mle.staleness import evaluate
    from shared.true_value import world_of

    value = evaluate(lake, world_of(world), day, last_day, seed=seed)
    env = local_env(lake.models("ad_break"), lake.online_snapshot(day).parent, lake.entity("ads"),
                    lake.batch_recs(day).parent, lake.root / "serving-cache")  # fmt: skip
    home = OnlineScorer.load(load_model(latest_model(lake, "home_row")), lake.online_snapshot(day))
    users = pd.read_parquet(lake.entity("users")).sample(30, random_state=seed)
    titles = pd.read_parquet(lake.entity("titles"))["title_id"].tolist()
    home_cpu = ranking_cpu_s_per_prediction(
        home, users["user_id"].tolist(), users["primary_device"].tolist(), titles
    )
    return {
        "value": value,
        "memory_mib": measure_memory(env),
        "home_realtime_cpu_s_per_prediction": home_cpu,
    }


def decision(report: dict, preset_name: str) -> dict:
    """The decision table's figures: what each shape is worth a day (the simulator's value at
    the preset's traffic) against what it costs a day (`cost.py`, from this run's measurements).
    Ads earn money directly; a home-row click has no price here, so its side says what a click
    would have to be worth for real time to pay."""
    from infra_mle.cost import Assumptions, Measured, cost_table
    from shared.presets import get_preset

    v, m, rt = report["value"], report["memory_mib"], report["realtime"]
    measured = Measured(
        ad_cpu_s_per_prediction=rt["cpu_s_per_1000_predictions"] / 1000,
        home_cpu_s_per_prediction=report["home_realtime_cpu_s_per_prediction"],
        batch_cpu_s_per_prediction=report["batch"]["cpu_s_per_1000_predictions"] / 1000,
        base_mib=m["base"],
        data_mib=m["total"] - m["base"],
    )
    costs = cost_table(get_preset(preset_name), measured, Assumptions())
    ads, home = costs["ad_break"], costs["home_row"]
    ad_v, home_v = v["ad_break"], v["home_row"]
    ads["realtime_revenue_per_day"] = (
        ads["requests_per_day"] * ad_v["realtime_revenue_per_1000"] / 1000
    )
    ads["batch_revenue_per_day"] = ads["requests_per_day"] * ad_v["batch_revenue_per_1000"] / 1000
    extra = ads["realtime_usd_per_day"] - ads["batch_usd_per_day"]
    gain = ads["realtime_revenue_per_day"] - ads["batch_revenue_per_day"]
    ads["realtime_pays"] = gain > extra
    # Below this share of the real-time revenue, batch loses more than real time costs extra.
    ads["break_even_pct"] = 100 * (1 - extra / ads["realtime_revenue_per_day"])
    slots = home_v["slots"]
    home["realtime_clicks_per_day"] = home["requests_per_day"] * slots * home_v["realtime_ctr"]
    home["batch_clicks_per_day"] = home["requests_per_day"] * slots * home_v["batch_ctr"]
    lost = home["realtime_clicks_per_day"] - home["batch_clicks_per_day"]
    extra = home["realtime_usd_per_day"] - home["batch_usd_per_day"]
    home["break_even_usd_per_click"] = extra / lost if lost > 0 else None
    return costs


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
    print("4. what each shape is worth (the simulator) and costs (memory, CPU) ...", flush=True)
    report.update(value_and_size(lake, world, day, last_day, seed))
    report["decision"] = decision(report, PRESET)
    report["seconds"] = round(time.perf_counter() - began, 1)
    reports = get_settings().reports_dir
    atomic_write_json(reports / "demo-infra.json", report)
    plot(report["value"], reports / "staleness.png",
         {"ad_break": report["decision"]["ad_break"]["break_even_pct"]})  # fmt: skip
    print_table(report)
    return 0


def print_table(r: dict) -> None:
    rt, b, m = r["realtime"], r["batch"], r["memory_mib"]
    latency = f"{rt['p50_ms']:.1f} / {rt['p95_ms']:.1f} / {rt['p99_ms']:.1f} ms"
    parts = ", ".join(f"{k} {m[k]:.0f}" for k in ("base", "model", "features", "ads", "home_rows"))
    rows = [
        ("what it serves", "ad breaks, ranked per request", "home rows, scored once a day"),
        ("request rate, asked / achieved",
         f"{rt['rate_rps']:.0f} / {rt['achieved_rps']:.0f} per s", "-"),
        ("latency p50 / p95 / p99", latency, "a lookup when served"),
        ("predictions per second", f"{rt['achieved_rps'] * rt['candidates']:,.0f}",
         f"{b['rows_per_s']:,}"),
        ("CPU s per 1,000 predictions", f"{rt['cpu_s_per_1000_predictions']:.4f}",
         f"{b['cpu_s_per_1000_predictions']:.4f}"),
        ("resident memory", f"{rt['rss_mb']} MB, all day", "only while the job runs"),
        ("start-up", f"{rt['cold_start_s']} s to ready", f"{b['session_start_s']} s Spark session"),
    ]  # fmt: skip
    print(f"\n{'':32} {'real-time service':40} batch job")
    for name, a, c in rows:
        print(f"{name:32} {a:40} {c}")
    print(f"service memory, MiB: {parts} (sum {m['total']:.0f})")
    v, d = r["value"], r["decision"]
    ads, home = d["ad_break"], d["home_row"]
    av, hv = v["ad_break"], v["home_row"]
    per_day = "{:,.0f}".format
    table = [
        ("", "ads: real time", "ads: daily batch", "home: real time", "home: daily batch"),
        ("value (simulator)", f"${av['realtime_revenue_per_1000']:.2f} / 1k breaks",
         f"${av['batch_revenue_per_1000']:.2f} / 1k breaks",
         f"{100 * hv['realtime_ctr']:.2f}% CTR", f"{100 * hv['batch_ctr']:.2f}% CTR"),
        ("value a day", f"${per_day(ads['realtime_revenue_per_day'])}",
         f"${per_day(ads['batch_revenue_per_day'])}",
         f"{per_day(home['realtime_clicks_per_day'])} clicks",
         f"{per_day(home['batch_clicks_per_day'])} clicks"),
        ("machine", f"{ads['instance']} x {ads['replicas']}", "job, billed by the second",
         f"{home['instance']} x {home['replicas']}", "job, billed by the second"),
        ("cost a day", f"${ads['realtime_usd_per_day']:.2f}", f"${ads['batch_usd_per_day']:.4f}",
         f"${home['realtime_usd_per_day']:.2f}", f"${home['batch_usd_per_day']:.4f}"),
    ]  # fmt: skip
    traffic = f"{per_day(ads['requests_per_day'])} ad breaks, {per_day(home['requests_per_day'])}"
    print(f"\nthe decision at {traffic} home visits a day (the preset's traffic):")
    for row in table:
        print(f"{row[0]:18} " + " ".join(f"{c:26}" for c in row[1:]))
    lost = ads["realtime_revenue_per_day"] - ads["batch_revenue_per_day"]
    extra = ads["realtime_usd_per_day"] - ads["batch_usd_per_day"]
    print(
        f"ads: batch loses ${lost:,.2f} a day (context ${av['context_cost_per_1000']:.2f} + "
        f"freshness ${av['freshness_cost_per_1000']:.2f} per 1k breaks); real time costs "
        f"${extra:.2f} more: {'real time' if ads['realtime_pays'] else 'batch'}."
    )
    click = home["break_even_usd_per_click"]
    lost = home["realtime_clicks_per_day"] - home["batch_clicks_per_day"]
    print(
        f"home row: batch loses {per_day(lost)} clicks a day (context "
        f"{100 * hv['context_cost']:.2f} points of CTR, freshness "
        f"{100 * hv['freshness_cost']:.2f}); "
        + (f"real time pays only if a home-row click is worth over ${click:.4f}." if click
           else "batch loses nothing.")
    )  # fmt: skip
    print(
        f"\n{b['users_scored']:,} users scored in {b['scoring_s']} s; {rt['ok']:,} rankings "
        f"({rt['statuses']}); {r['seconds']} s in all. Figures: reports/demo-infra.json, "
        "reports/staleness.png"
    )


if __name__ == "__main__":
    with sigterm_exits():  # `kill` or a CI timeout unwinds like Ctrl-C: the servers stop too
        sys.exit(main())
