"""Run every benchmark and write `reports/bench.json` and `reports/bench.md`.

python -m benchmarks        # or: make bench
"""

from __future__ import annotations

import datetime as dt

from benchmarks import etl, generator, model, serving, sizing
from benchmarks.report import machine, versions
from shared.settings import get_settings
from shared.storage import atomic_write_bytes, atomic_write_json


def main() -> None:
    reports = get_settings().reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    print("generator throughput (small and medium presets)...", flush=True)
    entry = generator.run()
    print("ETL throughput (Spark ingest and features, small to medium)...", flush=True)
    etl_entry = etl.run()
    print(
        "model quality: the joint model and the ceiling at 6, 11 and 23 training days...",
        flush=True,
    )
    model_entry = model.run()
    print("serving: the ranking service and the batch job (infra_mle) ...", flush=True)
    serving_entry = serving.run_isolated()
    print(
        "sizing: the service's memory and the cost of each shape (tiny to medium) ...", flush=True
    )
    sizing_entry = sizing.run_isolated()
    sizing.write_reports(sizing_entry)
    report = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(
            "numpy", "pyarrow", "pandas", "pyspark", "torch", "fastapi", "uvicorn"
        ),
        "benchmarks": [entry, etl_entry, model_entry, serving_entry, sizing_entry],
    }
    atomic_write_json(reports / "bench.json", report)
    generator.plot(entry, reports / "bench_generator.png")
    serving.plot_overload(serving_entry["overload"], reports / "bench_overload.png")
    m = report["machine"]
    header = [
        "# Benchmarks",
        "",
        f"Measured {report['measured_at']} on {m['cpu']} ({m['cores']} cores, "
        f"{m['memory_gib']} GiB), Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items())
        + ".",
        "",
    ]
    text = "\n".join(header) + generator.markdown(entry, "bench_generator.png")
    text += "\n" + etl.markdown(etl_entry)
    text += "\n" + model.markdown(model_entry)
    text += "\n" + serving.markdown(serving_entry)
    text += "\n" + sizing.markdown(sizing_entry)
    atomic_write_bytes(reports / "bench.md", text.encode())
    print(text)
    print(f"\nwrote {reports / 'bench.json'} and {reports / 'bench.md'}")


if __name__ == "__main__":
    from shared.server import sigterm_exits

    with sigterm_exits():  # `kill` or a CI timeout unwinds like Ctrl-C: the servers stop too
        main()
