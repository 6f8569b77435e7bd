"""`make demo-data`: the data MLE's week, run for real, and what it teaches.

    python -m data_mle.demo                                  # Airflow (dag.test, no scheduler)
    python -m data_mle.demo --orchestrator stepfunctions     # the same steps, a state machine
    python -m data_mle.demo --orchestrator scheduler --serve # Airflow's real scheduler, UI kept up

1. Starts moto (S3) and a Spark Connect server; the business lands 7 days of the small preset
   in S3, with faults injected on two days.
2. Runs the pipeline (`data_mle.steps`) for each day, in order, under the chosen orchestrator,
   and prints per day: lines in,
   accepted, quarantined by reason, duplicates, late, whether it reconciles, every gate with its
   value and threshold, and the time of each task.
3. Lands an eighth day that lost half its events, runs it, shows the gate that stops it and that
   the good outputs of the day before are untouched.
4. Re-runs one day and shows its checksums unchanged.

Everything lives in its own lake, `<lake root>/demo-data` (replaced on each run), and the figures
go to `reports/demo-data.json` (`reports/demo-data-<orchestrator>.json` for the others).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from data_mle.airflow_runner import DagTestProcess
from data_mle.connect import SparkConnectServer
from data_mle.runs import DayReport, DayRun, day_report
from shared.faults import FaultConfig
from shared.generate import GenerateConfig, generate
from shared.lake import RAW_EVENTS, Lake, partition_name
from shared.raw_log import read_business_lines, write_business_events
from shared.s3 import MotoServer, upload_dir
from shared.server import sigterm_exits
from shared.settings import environment, get_settings
from shared.storage import atomic_partition, atomic_write_json

DAYS = 7
FAULT_DAYS = "1,3"  # 0-based: the 2nd and 4th day get corrupted records
FAULT_RATE = 0.002  # per kind: about 1.6% of those days' lines are bad, under the gates' limits
RERUN_DAY = 2


ORCHESTRATORS = ("airflow", "stepfunctions", "scheduler")
RunDays = Callable[[list[dt.date]], list[DayRun]]


@contextlib.contextmanager
def orchestrator(name: str, lake: Lake) -> Iterator[RunDays]:
    """A function that runs days in order under orchestrator `name`, stopping at a failed day."""
    if name == "airflow":  # every day a real DAG run, all in one Airflow process
        with DagTestProcess(lake) as airflow:
            yield airflow.run_days
    elif name == "stepfunctions":  # a state machine on moto, a worker answering its callbacks
        from data_mle.stepfunctions.runner import pipeline

        with pipeline(lake) as run_day:

            def run(days: list[dt.date]) -> list[DayRun]:
                runs: list[DayRun] = []
                for day in days:
                    runs.append(run_day(day))
                    if not runs[-1].ok:
                        break
                return runs

            yield run
    elif name == "scheduler":  # Airflow's scheduler, API server and DAG processor
        from data_mle.airflow_scheduler import Scheduler

        with Scheduler(lake) as airflow:
            print(f"Airflow's UI on {airflow.api_url}")
            yield airflow.backfill
    else:
        raise ValueError(f"unknown orchestrator {name!r}; choose one of {ORCHESTRATORS}")


def _outputs(lake: Lake, day: dt.date) -> dict[str, str]:
    """The manifest bytes of every partition a day's run writes, by path: its checksums."""
    found = {}
    for zone in ("bronze", "quarantine", "silver", "gold"):
        for manifest in sorted(lake.zone(zone).glob(f"**/{partition_name(day)}/_manifest.json")):
            found[str(manifest.parent.relative_to(lake.root))] = manifest.read_text()
    return found


def _print_day(day: dt.date, r: DayReport) -> None:
    q = ", ".join(f"{k} {v}" for k, v in sorted(r.quarantined.items())) or "none"
    print(f"\n{day}  {'ok' if r.ok else 'FAILED'} in {r.seconds} s")
    if r.input_rows is not None:
        print(f"  lines in {r.input_rows:,} = accepted {r.accepted:,} + quarantined "
              f"{sum(r.quarantined.values()):,} + duplicates {r.duplicates:,}   "
              f"reconciled: {r.reconciled}   (late, accepted: {r.late})")  # fmt: skip
        print(f"  quarantined by reason: {q}")
    for name, g in r.gates.items():
        value = "n/a" if g.value is None else f"{g.value:.4g}"
        verdict = "ok" if g.passed else "FAILED"
        print(f"  gate {name:<17} {value:>8}  allowed {g.threshold:<22} {verdict}")
    print("  tasks: " + ", ".join(f"{t} {v['seconds']} s" for t, v in r.tasks.items()))
    if r.error:
        print(f"  why: {r.error}")


def _generate_and_upload(config: GenerateConfig, world: Path, days: list[dt.date]) -> None:
    """Generate the world, then upload the raw events of `days` as the business would."""
    generate(config, world)
    for day in days:
        upload_dir(Lake(world).raw_events(day), get_settings().bucket, RAW_EVENTS.key(day),
                   create_bucket=True)  # fmt: skip


def _corrupt_and_upload(world: Path, day: dt.date, lake: Lake) -> int:
    """Upload `day` with every second line missing: a broken upload the volume gate must stop."""
    lines = read_business_lines(Lake(world).raw_events(day))[::2]
    staging = lake.root / "staging" / partition_name(day)
    with atomic_partition(staging) as part:
        write_business_events(part, pa.array(lines, pa.large_binary()))
    upload_dir(staging, get_settings().bucket, RAW_EVENTS.key(day))
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_mle.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--orchestrator", choices=ORCHESTRATORS, default="airflow")
    parser.add_argument("--serve", action="store_true", help="keep the servers up until Ctrl-C")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = get_settings()
    root = settings.lake_root / "demo-data"
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(root)
    name = "demo-data" if args.orchestrator == "airflow" else f"demo-data-{args.orchestrator}"
    out = settings.reports_dir / f"{name}.json"
    report: dict = {
        "preset": "small",
        "orchestrator": args.orchestrator,
        "days": {},
        "fault_days": FAULT_DAYS,
        "fault_rate": FAULT_RATE,
    }

    with contextlib.ExitStack() as stack:
        stack.enter_context(environment(MARQUEE_LAKE_ROOT=str(root)))
        s3 = stack.enter_context(MotoServer())
        world = root / "world"
        config = GenerateConfig(
            preset="small", days=DAYS + 1, faults=FaultConfig.parse(str(FAULT_RATE), FAULT_DAYS)
        )
        days = [config.start + dt.timedelta(days=k) for k in range(DAYS + 1)]
        # Three things start at once, each spending much of its time waiting: the business
        # lands the week, the Spark JVM starts, and the orchestrator prepares (Airflow migrates
        # its database and parses the DAG; Step Functions deploys and starts its worker).
        spark = SparkConnectServer()
        stack.callback(spark.stop)  # after the pool's exit, which waits for its start to end
        pool = stack.enter_context(ThreadPoolExecutor(2, thread_name_prefix="start"))
        landing = pool.submit(_generate_and_upload, config, world, days[:DAYS])
        starting = pool.submit(spark.start)
        stack.enter_context(environment(**spark.env()))  # its address is known before it is up
        pipeline = stack.enter_context(orchestrator(args.orchestrator, lake))
        starting.result()
        print(f"moto S3 on {s3.endpoint}, Spark Connect on {spark.url}, lake {root}")
        landing.result()
        landed = f"s3://{settings.bucket}/{RAW_EVENTS.key()}/"
        print(f"landed {DAYS} days of the small preset in {landed} "
              f"(faults on days {FAULT_DAYS}, 0-based)")  # fmt: skip

        print(f"\n== 1. the week under {args.orchestrator}, one run per day ==", flush=True)
        week = pipeline(days[:DAYS])
        for run in week:
            result = day_report(lake, run)
            report["days"][run.day.isoformat()] = asdict(result)
            _print_day(run.day, result)
        if len(week) < DAYS or not all(run.ok for run in week):
            print("the week did not run clean; stopping", file=sys.stderr)
            atomic_write_json(out, report)
            return 1

        print("\n== 2. a broken upload: half of the eighth day is missing ==")
        bad_day, last_good = days[DAYS], days[DAYS - 1]
        before = _outputs(lake, last_good)
        kept = _corrupt_and_upload(world, bad_day, lake)
        broken = day_report(lake, pipeline([bad_day])[0])
        _print_day(bad_day, broken)
        untouched = _outputs(lake, last_good) == before
        no_training = not lake.training_set("ad_break", bad_day).exists()
        print(f"  {kept:,} lines landed; the run stopped at the gates. {last_good}'s "
              f"{len(before)} outputs untouched: {untouched}; no training set made for "
              f"{bad_day}: {no_training}")  # fmt: skip
        report["gate_trip"] = {
            "day": bad_day.isoformat(),
            **asdict(broken),
            "earlier_outputs_untouched": untouched,
        }

        print(f"\n== 3. re-running {days[RERUN_DAY]} ==")
        before = _outputs(lake, days[RERUN_DAY])
        rerun = pipeline([days[RERUN_DAY]])[0]
        same = rerun.ok and _outputs(lake, days[RERUN_DAY]) == before
        print(f"  {'ok' if rerun.ok else 'FAILED'} in {rerun.seconds} s; {len(before)} partitions, "
              f"checksums unchanged: {same}")  # fmt: skip
        report["rerun"] = {
            "day": days[RERUN_DAY].isoformat(),
            "partitions": len(before),
            "identical": same,
        }
        if args.serve:
            print("\nthe servers stay up until Ctrl-C", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(1)

    report["seconds"] = round(time.perf_counter() - started, 1)
    report["paths"] = {
        zone: str(lake.zone(zone)) for zone in ("raw", "bronze", "quarantine", "silver", "gold")
    }
    atomic_write_json(out, report)
    print(f"\nwrote {out}; the demo took {report['seconds']} s")
    print("outputs: " + ", ".join(f"{k} {v}" for k, v in report["paths"].items()))
    good = all(d["ok"] and d["reconciled"] for d in report["days"].values())
    return 0 if good and not broken.ok and no_training and untouched and same else 1


if __name__ == "__main__":
    with sigterm_exits():  # `kill` or a CI timeout unwinds like Ctrl-C: the servers stop too
        sys.exit(main())
