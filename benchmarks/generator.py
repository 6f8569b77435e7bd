"""Generator throughput: events per second to simulate a day in memory, and to write it.

Goal: at least one million events per second per core in memory. Generation is single-threaded
numpy, so events per CPU-second of the process is the per-core figure; wall-clock rates are
reported beside it. Writing (JSON text, gzip, the file) is measured apart, on the same days.

    python -m benchmarks        # runs this with the others
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from benchmarks.report import spread
from shared.presets import get_preset
from shared.raw_log import gzip_bytes, join_lines, to_json_lines
from shared.simulate import simulate_day
from shared.world import build_world

GOAL_EVENTS_PER_CORE_S = 1_000_000
REPEATS = {"small": 5, "medium": 3}  # each repeat is another day of the same world


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(preset_name: str, repeats: int) -> dict:
    world = build_world(get_preset(preset_name), seed=7, start=dt.date(2026, 1, 5))
    simulate_day(world, 0)  # warm-up: first-call costs are not the steady state
    gen_wall, gen_cpu, write_wall, events, raw_bytes, gz_bytes = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for day in range(repeats):
            # Weekdays only (days 0-4 of a week starting Monday), so every repeat is one size.
            day_events, wall, cpu = _timed(lambda day=day: simulate_day(world, day % 5))
            n = day_events.events.num_rows

            def write(table=day_events.events, day=day):
                text = join_lines(to_json_lines(table))
                data = gzip_bytes(text)
                Path(tmp, f"day{day}.jsonl.gz").write_bytes(data)
                return len(text), len(data)

            (text_len, gz_len), w_wall, _ = _timed(write)
            events.append(n)
            gen_wall.append(n / wall)
            gen_cpu.append(n / cpu)
            write_wall.append(n / w_wall)
            raw_bytes.append(text_len)
            gz_bytes.append(gz_len)
    per_core = spread(gen_cpu)
    return {
        "preset": preset_name,
        "events_per_day": int(sum(events) / len(events)),
        "generate_events_per_s": spread(gen_wall),
        "generate_events_per_cpu_s": per_core,
        "write_events_per_s": spread(write_wall),
        "json_bytes_per_event": round(sum(raw_bytes) / sum(events), 1),
        "gzip_ratio": round(sum(raw_bytes) / sum(gz_bytes), 2),
        "goal_ratio": round(per_core["median"] / GOAL_EVENTS_PER_CORE_S, 2),
    }


def run() -> dict:
    return {
        "name": "generator_throughput",
        "goal": f"at least {GOAL_EVENTS_PER_CORE_S:,} events per second per core, in memory",
        "unit": "events/s",
        "results": [measure(name, repeats) for name, repeats in REPEATS.items()],
    }


def markdown(entry: dict, plot: str) -> str:
    rows = [
        "## Generator throughput",
        "",
        f"Goal: {entry['goal']}. Ratio = median events per CPU-second / goal.",
        "",
        "| preset | events/day | generate, events/s (median, min-max) | per CPU-second | "
        "ratio to goal | write, events/s | JSON bytes/event | gzip ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in entry["results"]:
        g, c, w = (
            r["generate_events_per_s"],
            r["generate_events_per_cpu_s"],
            r["write_events_per_s"],
        )
        rows.append(
            f"| {r['preset']} | {r['events_per_day']:,} | {g['median']:,.0f} "
            f"({g['min']:,.0f}-{g['max']:,.0f}) | {c['median']:,.0f} | {r['goal_ratio']:.2f} | "
            f"{w['median']:,.0f} ({w['min']:,.0f}-{w['max']:,.0f}) | {r['json_bytes_per_event']} | "
            f"{r['gzip_ratio']} |"
        )
    rows += ["", f"![generator throughput]({plot})", ""]
    return "\n".join(rows)


def plot(entry: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = entry["results"]
    labels = [r["preset"] for r in results]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.38
    for offset, key, name in (
        (-width / 2, "generate_events_per_cpu_s", "generate (per CPU-second)"),
        (width / 2, "write_events_per_s", "write JSON + gzip"),
    ):
        med = [r[key]["median"] for r in results]
        err = [[m - r[key]["min"] for m, r in zip(med, results, strict=True)],
               [r[key]["max"] - m for m, r in zip(med, results, strict=True)]]  # fmt: skip
        ax.bar(
            [i + offset for i in range(len(results))], med, width, yerr=err, label=name, capsize=3
        )
    ax.axhline(GOAL_EVENTS_PER_CORE_S, color="black", linestyle="--", linewidth=1, label="goal")
    ax.set_xticks(range(len(results)), labels)
    ax.set_ylabel("events per second")
    ax.set_title("Marquee generator throughput (median, min-max)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
