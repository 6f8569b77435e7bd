"""Model quality against the oracle: the model_mle issue's goals, measured.

On the small preset's test day, per surface:
- the oracle's AUC and log loss (the simulator's true probabilities on the same impressions);
- the factorization machine (FM), trained with 3 seeds: AUC gap to the oracle as a ratio to the
  goal of 0.005, and log loss as a ratio to the oracle's (goal: at most 1.01); median and spread;
- logistic regression's gap, as a ratio to the FM's (the interaction effects are real);
- training throughput of the FM (rows per second per epoch, on this machine's CPU);
- the same FM trained on 7 instead of 14 days: how the gap shrinks with more data.
"""

from __future__ import annotations

import statistics

from benchmarks.report import spread
from model_mle.data import DataConfig, load_experiment
from model_mle.evaluate import classification_metrics
from model_mle.train import TrainConfig, train_model
from shared.schema import SURFACES

GOAL_AUC_GAP = 0.005
GOAL_LOGLOSS_RATIO = 1.01
SEEDS = (7, 8, 9)
DAYS = (14, 7)  # 14: the demo's window; 7: half the data


def _fit(data, surface: str, model: str, seed: int) -> dict:
    config = TrainConfig(model=model, seed=seed)
    trained = train_model(config, surface, data.train[surface], data.valid[surface], False)
    test = data.test[surface]
    metrics = classification_metrics(test["label"].to_numpy(), trained.predict(test))
    epochs = trained.history
    rows_per_s = len(data.train[surface]) * len(epochs) / sum(e["seconds"] for e in epochs)
    return {**metrics, "seconds": trained.seconds, "rows_per_s": rows_per_s}


def run(preset: str = "small") -> dict:
    results = []
    for days in DAYS:
        data = load_experiment(DataConfig(preset=preset, days=days, seed=7))
        for surface in SURFACES:
            test = data.test[surface]
            oracle = classification_metrics(test["label"].to_numpy(), test["p_click"].to_numpy())
            seeds = SEEDS if days == DAYS[0] else SEEDS[:1]
            fm = [_fit(data, surface, "fm", seed) for seed in seeds]
            entry = {
                "days": days,
                "surface": surface,
                "train_rows": len(data.train[surface]),
                "oracle_auc": oracle["auc"],
                "oracle_logloss": oracle["logloss"],
                "fm_auc_gap": spread([oracle["auc"] - f["auc"] for f in fm]),
                "fm_logloss_ratio": spread([f["logloss"] / oracle["logloss"] for f in fm]),
                "fm_rows_per_s": round(statistics.median(f["rows_per_s"] for f in fm)),
            }
            entry["fm_gap_over_goal"] = round(entry["fm_auc_gap"]["median"] / GOAL_AUC_GAP, 1)
            if days == DAYS[0]:
                lr = _fit(data, surface, "logreg", SEEDS[0])
                entry["logreg_auc_gap"] = oracle["auc"] - lr["auc"]
                entry["logreg_gap_over_fm_gap"] = round(
                    entry["logreg_auc_gap"] / entry["fm_auc_gap"]["median"], 2
                )
            results.append(entry)
            print(
                f"  {days} days, {surface}: FM gap {entry['fm_auc_gap']['median']:.4f}", flush=True
            )
    return {"name": "model_quality", "preset": preset, "goal_auc_gap": GOAL_AUC_GAP,
            "goal_logloss_ratio": GOAL_LOGLOSS_RATIO, "results": results}  # fmt: skip


def markdown(entry: dict) -> str:
    rows = [
        "## Model quality against the oracle (model_mle)",
        "",
        f"Test day of the `{entry['preset']}` preset. Goals: AUC within "
        f"{entry['goal_auc_gap']} of the oracle, log loss at most {entry['goal_logloss_ratio']}x "
        "the oracle's. FM: median of 3 seeds (min-max) at 14 days, one seed at 7.",
        "",
        "| days | surface | train rows | oracle AUC | FM AUC gap | gap / goal | "
        "FM log loss / oracle | logreg gap / FM gap | FM rows/s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in entry["results"]:
        g, ll = r["fm_auc_gap"], r["fm_logloss_ratio"]
        rows.append(
            f"| {r['days']} | {r['surface']} | {r['train_rows']:,} | {r['oracle_auc']:.4f} | "
            f"{g['median']:.4f} ({g['min']:.4f}-{g['max']:.4f}) | {r['fm_gap_over_goal']} | "
            f"{ll['median']:.3f} ({ll['min']:.3f}-{ll['max']:.3f}) | "
            f"{r.get('logreg_gap_over_fm_gap', '')} | {r['fm_rows_per_s']:,} |"
        )
    return "\n".join([*rows, ""])
