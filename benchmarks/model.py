"""Model quality against the oracle and the data-limited ceiling: model_mle's goals, measured.

On the small preset's test day, per surface and per history length (6, 11 and 23 training
days: datasets of 9, 14 and 26 generated days, each tested on its own last day):
- the oracle's AUC and log loss (the simulator's true probabilities on the same impressions);
- the data-limited ceiling (`model_mle.ceiling`: every item known, only the users learned);
- the joint model (`model_mle.joint`), 3 seeds at 11 days, one elsewhere: its gap to the
  ceiling (goal: at most 0.02) and to the oracle (goals: 0.085 AUC and 12% log loss on ad breaks,
  0.05 and 7% on the home row at 11 days; 0.045 and 8% on both from 23 days), median and spread;
- at 11 days, logistic regression and the factorization machine, one seed each: the joint model
  should beat logistic regression by at least 0.05 AUC;
- at 11 days, the known-structure fit (`model_mle.structure_fit`: the world's structure given,
  every user's and item's own numbers learned), with its most probable values and averaged
  over 60 draws from their posterior: what learning the items' own numbers costs, and how
  much of that an estimator that averages over its uncertainty gets back;
- the Bayesian joint model (`model_mle.posterior`: each joint model's users, items and category
  centres averaged over draws from their posterior), per seed like the joint model: its gap to
  the ceiling, to the oracle, and its seconds (the joint model's training and the sampling);
- the joint model's training time (both surfaces at once) on this machine's CPU.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.report import spread
from model_mle.ceiling import fit_ceiling
from model_mle.data import DataConfig, load_experiment
from model_mle.evaluate import classification_metrics
from model_mle.joint import item_categories, train_joint
from model_mle.posterior import sample_joint
from model_mle.structure_fit import fit_structure
from model_mle.train import TrainConfig, train_model
from shared.lake import Lake
from shared.schema import SURFACES

GOAL_CEILING_GAP = 0.02
GOAL_ORACLE = {  # (AUC gap, log loss gap %) at the demo's 11 training days
    "ad_break": (0.085, 12.0),
    "home_row": (0.05, 7.0),
}
GOAL_ORACLE_LONG = (0.045, 8.0)  # from 23 training days, on each surface
GOAL_OVER_LOGREG = 0.05
SEEDS = (7, 8, 9)
DAYS = (9, 14, 26)  # generated days: 6, 11 and 23 training days (day 0 has no history)
DEMO_DAYS = 14
STRUCTURE_DRAWS = 60  # posterior draws of the known-structure fit (3 to 4 s each on 2 cores)


def _metrics(rows, p) -> dict:
    return classification_metrics(rows["label"].to_numpy(), p)


def run(preset: str = "small") -> dict:
    results = []
    for days in DAYS:
        data = load_experiment(DataConfig(preset=preset, days=days, seed=7))
        categories = item_categories(Lake(data.dataset))
        started = time.perf_counter()
        ceiling = fit_ceiling(data)
        ceiling_seconds = time.perf_counter() - started
        structure, structure_seconds = None, 0.0
        if days == DEMO_DAYS:  # about 4 minutes with its draws: at the demo's history only
            started = time.perf_counter()
            structure = fit_structure(data, draws=STRUCTURE_DRAWS)
            structure_seconds = time.perf_counter() - started
        seeds = SEEDS if days == DEMO_DAYS else SEEDS[:1]
        joints = [
            train_joint(TrainConfig(model="joint", seed=seed), data.train, data.valid, categories)
            for seed in seeds
        ]
        bayes = [sample_joint(j, data.train) for j in joints]
        for surface in SURFACES:
            test = data.test[surface]
            oracle = _metrics(test, test["p_click"].to_numpy())
            ceil = _metrics(test, ceiling.predict(test))
            joint = [_metrics(test, j[surface].predict(test)) for j in joints]
            drawn = [_metrics(test, b[surface].predict(test)) for b in bayes]
            entry = {
                "days": days,
                "train_days": len(data.days) - 2,
                "surface": surface,
                "train_rows": len(data.train[surface]),
                "oracle_auc": oracle["auc"],
                "oracle_logloss": oracle["logloss"],
                "ceiling_auc": ceil["auc"],
                "ceiling_logloss": ceil["logloss"],
                "ceiling_prior_scale": ceiling.prior_scale,
                "ceiling_seconds": round(ceiling_seconds, 1),
                "joint_auc": spread([j["auc"] for j in joint]),
                "gap_data": oracle["auc"] - ceil["auc"],
                "gap_model": spread([ceil["auc"] - j["auc"] for j in joint]),
                "joint_auc_gap": spread([oracle["auc"] - j["auc"] for j in joint]),
                "joint_logloss_gap_pct": spread(
                    [100 * (j["logloss"] / oracle["logloss"] - 1) for j in joint]
                ),
                "joint_seconds": round(statistics.median(j[surface].seconds for j in joints), 1),
                "joint_epochs": len(joints[0][surface].history),
                "bayes_auc": spread([b["auc"] for b in drawn]),
                "bayes_gap_model": spread([ceil["auc"] - b["auc"] for b in drawn]),
                "bayes_auc_gap": spread([oracle["auc"] - b["auc"] for b in drawn]),
                "bayes_logloss_gap_pct": spread(
                    [100 * (b["logloss"] / oracle["logloss"] - 1) for b in drawn]
                ),
                "bayes_seconds": round(statistics.median(b[surface].seconds for b in bayes), 1),
                "bayes_draws": bayes[0][surface].network.spec.draws,
            }
            if structure is not None:
                entry["structure_auc"] = _metrics(test, structure.predict(test))["auc"]
                entry["structure_mean_auc"] = _metrics(test, structure.predict_mean(test))["auc"]
                entry["structure_seconds"] = round(structure_seconds, 1)
            if days == DEMO_DAYS:
                for name in ("logreg", "fm"):
                    config = TrainConfig(model=name, seed=SEEDS[0])
                    model = train_model(
                        config, surface, data.train[surface], data.valid[surface], False
                    )
                    entry[f"{name}_auc"] = _metrics(test, model.predict(test))["auc"]
                entry["joint_over_logreg"] = entry["joint_auc"]["median"] - entry["logreg_auc"]
            results.append(entry)
            print(
                f"  {days} days, {surface}: ceiling {ceil['auc']:.4f}, joint "
                f"{entry['joint_auc']['median']:.4f}, joint_bayes "
                f"{entry['bayes_auc']['median']:.4f}, oracle {oracle['auc']:.4f}",
                flush=True,
            )
    return {
        "name": "model_quality",
        "preset": preset,
        "goal_ceiling_gap": GOAL_CEILING_GAP,
        "goal_oracle": GOAL_ORACLE,
        "goal_oracle_long": GOAL_ORACLE_LONG,
        "goal_over_logreg": GOAL_OVER_LOGREG,
        "results": results,
    }


def markdown(entry: dict) -> str:
    rows = [
        "## Model quality against the oracle and the data-limited ceiling (model_mle)",
        "",
        f"Test day of the `{entry['preset']}` preset, per history length. Goals: the joint "
        f"model within {entry['goal_ceiling_gap']} AUC of the ceiling; within the oracle goals "
        "(AUC gap, log loss gap %) of "
        + ", ".join(f"{s} {a} / {b}%" for s, (a, b) in entry["goal_oracle"].items())
        + f" at 11 training days and {entry['goal_oracle_long'][0]} / "
        f"{entry['goal_oracle_long'][1]}% from 23; at least {entry['goal_over_logreg']} AUC "
        "above logistic regression. Joint and joint_bayes (the joint model averaged over its "
        "posterior): median of 3 seeds (min-max) at 11 days, one seed elsewhere; times are "
        "for both surfaces at once, joint_bayes's including the joint model's training.",
        "",
        "| train days | surface | train rows | oracle AUC | ceiling AUC | joint AUC | "
        "gap data | gap model | joint_bayes AUC | its gap model | its log loss gap % | "
        "known-structure AUC: most probable / posterior mean | "
        "joint log loss gap % | joint - logreg | joint s | joint_bayes s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in entry["results"]:
        j, gm, ll = r["joint_auc"], r["gap_model"], r["joint_logloss_gap_pct"]
        over = f"{r['joint_over_logreg']:.4f}" if "joint_over_logreg" in r else ""
        structure = (
            f"{r['structure_auc']:.4f} / {r['structure_mean_auc']:.4f}"
            if "structure_auc" in r
            else ""
        )
        b, bg, bl = r["bayes_auc"], r["bayes_gap_model"], r["bayes_logloss_gap_pct"]
        rows.append(
            f"| {r['train_days']} | {r['surface']} | {r['train_rows']:,} | "
            f"{r['oracle_auc']:.4f} | {r['ceiling_auc']:.4f} | "
            f"{j['median']:.4f} ({j['min']:.4f}-{j['max']:.4f}) | {r['gap_data']:.4f} | "
            f"{gm['median']:.4f} | {b['median']:.4f} ({b['min']:.4f}-{b['max']:.4f}) | "
            f"{bg['median']:.4f} | {bl['median']:.1f} | {structure} | {ll['median']:.1f} | "
            f"{over} | {r['joint_seconds']} | {r['bayes_seconds']} |"
        )
    return "\n".join([*rows, ""])
