"""`make demo-model`: the applied scientist's experiment, run headless as a stakeholder gets it.

    python -m model_mle.demo [--preset small] [--days 14] [--epochs 8]

Runs the three notebooks in `model_mle/notebooks/` with papermill (the reviewed `.py` sources,
paired to `.ipynb` by jupytext), saves the executed notebooks and an HTML report of each with the
code hidden under `reports/model_mle/`, prints the model comparison, and writes
`reports/demo-model.json`: per surface the oracle's and the data-limited ceiling's AUC and log
loss, every model's AUC, log loss and ECE, its gap split into `gap_data` (oracle - ceiling) and
`gap_model` (ceiling - model), for ad breaks its revenue per 1,000 requests, and the best model.
Every run is tracked in MLflow (`make mlflow-ui`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model_mle.models import COMPARED_MODELS
from shared.server import sigterm_exits
from shared.settings import get_settings
from shared.storage import atomic_write_json

NOTEBOOKS = Path(__file__).parent / "notebooks"
ORDER = ("01_explore", "02_compare_models", "03_tune_and_policy")


def run_notebook(name: str, parameters: dict, out_dir: Path) -> Path:
    """Execute notebook `name` with `parameters`; write the executed `.ipynb` and a code-free
    HTML report to `out_dir`; return the executed notebook's path."""
    import jupytext
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    executed = out_dir / f"{name}.ipynb"
    papermill.execute_notebook(
        notebook, str(executed), parameters=parameters, kernel_name="python3", progress_bar=False
    )
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    html, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    (out_dir / f"{name}.html").write_text(html)
    return executed


def run(preset: str, days: int, epochs: int, seed: int) -> dict:
    import json

    out_dir = get_settings().reports_dir / "model_mle"
    out_dir.mkdir(parents=True, exist_ok=True)
    comparison = out_dir / "comparison.json"
    common = {"preset": preset, "days": days, "seed": seed}
    parameters = {
        "01_explore": common,
        "02_compare_models": {**common, "epochs": epochs, "output_json": str(comparison)},
        "03_tune_and_policy": {**common, "epochs": epochs, "comparison_json": str(comparison)},
    }
    seconds = {}
    for name in ORDER:
        started = time.perf_counter()
        print(f"running {name} ...", flush=True)
        run_notebook(name, parameters[name], out_dir)
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"  {seconds[name]} s -> {out_dir / name}.html", flush=True)
    surfaces = json.loads(comparison.read_text())
    report = {"preset": preset, "days": days, "seed": seed, "epochs": epochs,
              "notebook_seconds": seconds, **surfaces}  # fmt: skip
    atomic_write_json(get_settings().reports_dir / "demo-model.json", report)
    return report


def print_table(report: dict) -> None:
    for surface in ("ad_break", "home_row"):
        if surface not in report:
            continue
        s = report[surface]
        print(f"\n{surface}: test day, against the oracle (best on validation: {s['best_model']})")
        print(f"  {'model':11} {'AUC':>7} {'to orac':>7} {'to ceil':>7} {'log loss':>9} "
              f"{'gap %':>6} {'ECE':>7} {'$/1000':>7}")  # fmt: skip
        for name in sorted(s["models"], key=COMPARED_MODELS.index):
            m = s["models"][name]
            revenue = m.get("policy_revenue_per_1000")
            print(f"  {name:11} {m['auc']:7.4f} {m['auc_gap']:7.4f} {m.get('gap_model', 0):7.4f} "
                  f"{m['logloss']:9.5f} {m['logloss_gap_pct']:6.1f} {m['ece']:7.4f} "
                  f"{'' if revenue is None else f'{revenue:7.2f}'}")  # fmt: skip
        if "ceiling_auc" in s:
            gap = s["oracle_auc"] - s["ceiling_auc"]
            print(f"  {'ceiling':11} {s['ceiling_auc']:7.4f} {gap:7.4f} {'':7} "
                  f"{s['ceiling_logloss']:9.5f}")  # fmt: skip
        revenue = s.get("oracle_policy_revenue_per_1000")
        print(f"  {'oracle':11} {s['oracle_auc']:7.4f} {'':7} {'':7} {s['oracle_logloss']:9.5f} "
              f"{'':6} {'':7} {'' if revenue is None else f'{revenue:7.2f}'}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None, help="default: MARQUEE_SEED (7)")
    args = parser.parse_args(argv)
    seed = get_settings().seed if args.seed is None else args.seed
    started = time.perf_counter()
    report = run(args.preset, args.days, args.epochs, seed)
    print_table(report)
    reports = get_settings().reports_dir
    print(f"\n{time.perf_counter() - started:.0f} s. Report: {reports / 'model_mle'}/*.html, "
          f"figures: {reports / 'demo-model.json'}, runs: make mlflow-ui")  # fmt: skip
    return 0


if __name__ == "__main__":
    with sigterm_exits():  # `kill` or a CI timeout unwinds like Ctrl-C: the servers stop too
        sys.exit(main())
