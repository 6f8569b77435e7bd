"""`make demo` / `make demo-fullstack`: the whole loop, a few business days, end to end.

    python -m fullstack_mle.demo [--days 3] [--visitors 400] [--preset small] [--serve]

Runs `loop.Loop` in `<lake root>/fullstack_demo` (replaced on each run), prints a summary per
day (the data, the gates, the gate's decision per model, the visitors' click rate against the
oracle's) and writes `reports/demo-fullstack.json`. With `--serve` the web app and the ranking
service stay up after the last day, at the printed URL, until Ctrl-C. The promotions are in
that lake's MLflow store: `make mlflow-ui LAKE=lake/fullstack_demo`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from fullstack_mle.history import DayRecord
from fullstack_mle.loop import Loop, LoopConfig
from shared.server import sigterm_exits
from shared.settings import get_settings
from shared.storage import atomic_write_json


def day_summary(r: DayRecord) -> dict:
    """The per-day figures the report promises, from a day's record."""
    visits = r.visits or {}
    return {
        "promoted": r.promoted,
        "online_ctr": visits.get("online_ctr"),
        "oracle_ctr": visits.get("oracle_ctr"),
        "expected_ctr": visits.get("expected_ctr"),
        "feedback_events": r.feedback.events,
        "feedback_clicks": r.feedback.clicks,
        "feedback_reconciled": r.feedback.reconciled,
        "etl_ok": r.pipeline.ok,
        "input_rows": r.pipeline.input_rows,
        "gates_passed": all(g.passed for g in r.pipeline.gates.values()),
        "models": {
            s: {
                "version": m.candidate,
                "promoted": m.promoted,
                "reason": m.reason,
                "logloss": m.candidate_metrics["logloss"],
                "champion_logloss": (m.champion_metrics or {}).get("logloss"),
            }
            for s, m in r.models.items()
        },
        "alerts": r.alerts,
        "seconds": r.seconds,
    }


def build_report(config: LoopConfig, records: list[DayRecord], seconds: float) -> dict:
    """`reports/demo-fullstack.json`: per day, what the loop promised to show, and the regret
    (oracle minus served expected click rate) of the first and the last served day."""
    served = [r.visits for r in records if r.visits]
    return {
        "preset": config.preset,
        "visitors_per_day": config.visitors,
        "days": {r.day: day_summary(r) for r in records},
        "regret_first_served_day": served[0]["regret"] if served else None,
        "regret_last_served_day": served[-1]["regret"] if served else None,
        "seconds": round(seconds, 1),
    }


def print_regret(report: dict) -> None:
    """The served models' regret from the first served day to the last: with each day's
    retraining on more history it should fall (README: why it may not in a short run)."""
    first, last = report["regret_first_served_day"], report["regret_last_served_day"]
    if first is None or last is None:
        return
    trend = "fell" if last < first else "did not fall"
    print(f"\nregret (oracle - served expected click rate): first served day "
          f"{100 * first:.2f} pts, last {100 * last:.2f} pts: it {trend}")  # fmt: skip


def print_day(r: DayRecord) -> None:
    p, f = r.pipeline, r.feedback
    gates = " ".join(f"{n}{'' if g.passed else ' FAILED'}" for n, g in p.gates.items())
    print(f"\n{r.day}  ({r.seconds} s)")
    run = "ok" if p.ok else "FAILED"
    print(f"  data      {p.input_rows or 0:,} raw lines ({f.events:,} from the app), "
          f"{p.accepted or 0:,} accepted; DAG {run} in {p.seconds} s")  # fmt: skip
    print(f"  gates     {gates}")
    if r.visits:
        v = r.visits
        reconciled = "all in bronze" if f.reconciled else f"{f.missing_clicks} MISSING"
        print(f"  visitors  {v['visits']} visits, {v['impressions']:,} impressions, {v['clicks']} "
              f"clicks ({reconciled}); ranking p50 {v['latency_ms']['p50']} ms")  # fmt: skip
        print(f"  clicks    online {100 * v['online_ctr']:.2f}%, served (expected) "
              f"{100 * v['expected_ctr']:.2f}%, oracle {100 * v['oracle_ctr']:.2f}%, "
              f"regret {100 * v['regret']:.2f} pts")  # fmt: skip
    else:
        print("  visitors  none yet: no model was serving")
    for surface, m in r.models.items():
        verdict = "PROMOTED" if m.promoted else "kept champion"
        print(f"  {surface:9} {verdict}: {m.reason}")
    if r.deploy:
        d = r.deploy
        print(f"  deploy    home rows for {d.serving_day} ({d.batch_users:,} users, "
              f"{d.batch_seconds} s); service {d.service}")  # fmt: skip
    for alert in r.alerts:
        print(f"  ALERT     {alert['kind']}: {alert['message']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3, help="business days (default 3)")
    parser.add_argument("--visitors", type=int, default=400, help="visits per day (default 400)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--serve", action="store_true", help="keep the app up after the loop")
    args = parser.parse_args(argv)
    try:
        config = LoopConfig(preset=args.preset, days=args.days, visitors=args.visitors)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    began = time.perf_counter()
    print(f"the loop: {config.days} days of the {config.preset} preset, "
          f"{config.visitors} app visits a day")  # fmt: skip
    try:
        return run(config, args.serve, began)
    except RuntimeError as error:  # a server that would not start, a failed batch job, ...
        print(f"\nthe loop stopped: {error}", file=sys.stderr)
        return 1


def run(config: LoopConfig, serve: bool, began: float) -> int:
    settings = get_settings()
    reports = settings.reports_dir
    with Loop(config, settings.lake_root / "fullstack_demo") as loop:
        print(f"set up in {time.perf_counter() - began:.0f} s; the app is at {loop.app_url}")
        records: list[DayRecord] = []
        for record in loop.run():
            print_day(record)
            records.append(record)
        report = build_report(config, records, time.perf_counter() - began)
        print_regret(report)
        report["history"] = str(loop.history_path)
        report["model_registry"] = loop.registry.uri
        atomic_write_json(reports / "demo-fullstack.json", report)
        print(f"\nthe loop took {report['seconds']} s; wrote {reports / 'demo-fullstack.json'}")
        print(f"promotions in MLflow's model registry: make mlflow-ui LAKE={loop.root}")
        if serve:
            print(f"\nserving: viewer {loop.app_url}/  dashboard {loop.app_url}/dashboard"
                  "  (Ctrl-C stops)", flush=True)  # fmt: skip
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            # Ctrl-C must stop it even when a shell started it in the background, where SIGINT
            # is inherited as ignored.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                print("stopping")
    days = report["days"].values()
    ok = all(d["etl_ok"] for d in days) and all(d["feedback_reconciled"] is not False for d in days)
    return 0 if ok else 1


if __name__ == "__main__":
    with sigterm_exits():  # `kill` or a CI timeout unwinds like Ctrl-C: the servers stop too
        sys.exit(main())
