"""The model comparison of notebook 2, as one function per surface: train every model, choose
the best on the validation day, measure all of them on the test day against the oracle and the
data-limited ceiling, log each run to MLflow and export each network as a candidate artifact
for notebook 3.

    joint = train_joint(TrainConfig(model="joint"), data.train, data.valid, categories)
    ceiling = fit_ceiling(data)
    result = compare_surface(data, "home_row", trained={"joint": joint["home_row"]},
                             ceiling=ceiling)
    result.table            # metrics with intervals and gaps, one row per model, the ceiling
                            # and the oracle; gap_data and gap_model split each AUC gap
    result.best_model       # lowest validation log loss: chosen without looking at the test day
    result.policy           # ad breaks: revenue per 1,000 requests of eCPM ranking, per model
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from model_mle.data import ExperimentData, experiment_root
from model_mle.evaluate import CEILING, Predictor, classification_metrics, compare, reliability
from model_mle.models import SURFACE_MODELS
from model_mle.plots import reliability_plot
from model_mle.train import TrainConfig, TrainedModel, train_model
from shared.artifacts import export_model
from shared.lake import Lake

CLASSIFICATION = ("auc", "logloss", "ece")


@dataclass
class SurfaceResult:
    surface: str
    table: pd.DataFrame
    models: dict[str, TrainedModel]
    curves: dict[str, pd.DataFrame]
    valid_logloss: dict[str, float]
    best_model: str
    artifacts: dict[str, str] = field(default_factory=dict)  # model -> candidate artifact path
    policy: pd.DataFrame | None = None  # ad breaks: offline policy evaluation (`policy.py`)


def bids(data: ExperimentData) -> pd.Series:
    """Each ad's bid (dollars per click), from the dataset's entity table."""
    ads = pd.read_parquet(Lake(data.dataset).entity("ads"))
    return ads.set_index("ad_id")["bid"]


def compare_surface(
    data: ExperimentData,
    surface: str,
    epochs: int = 8,
    seed: int | None = None,
    models: tuple[str, ...] = SURFACE_MODELS,
    track: bool = True,
    progress: bool = True,
    trained: dict[str, TrainedModel] | None = None,
    ceiling: Predictor | None = None,
    policy_requests: int = 2000,
) -> SurfaceResult:
    """Train `models` on `surface`, add the models already `trained` (the joint model, trained
    on both surfaces at once), and compare them all; with `ceiling`, the table splits each
    gap into its data-limited and model-limited parts. On ad breaks the models also rank
    `policy_requests` fresh requests (0: skip), scored by the simulator's true click model."""
    train, valid, test = data.train[surface], data.valid[surface], data.test[surface]
    seed = data.config.seed if seed is None else seed
    trained = {
        **{
            name: train_model(
                TrainConfig(model=name, max_epochs=epochs, seed=seed), surface, train, valid,
                progress,
            )
            for name in models
        },
        **(trained or {}),
    }  # fmt: skip
    reference: dict[str, Predictor] = {CEILING: ceiling} if ceiling is not None else {}
    ad_bids = bids(data) if surface == "ad_break" else None
    table = compare({**trained, **reference}, test, surface, ad_bids)
    y_valid = valid["label"].to_numpy()
    valid_logloss = {
        name: classification_metrics(y_valid, m.predict(valid))["logloss"]
        for name, m in trained.items()
    }
    y = test["label"].to_numpy()
    curves = {name: reliability(y, m.predict(test)) for name, m in trained.items()}
    curves["oracle"] = reliability(y, test["p_click"].to_numpy())
    result = SurfaceResult(
        surface, table, trained, curves, valid_logloss, min(valid_logloss, key=valid_logloss.get)
    )
    if ad_bids is not None and policy_requests:
        from model_mle.policy import evaluate_policies

        result.policy = evaluate_policies(
            {**trained, **reference}, data, surface, ad_bids, n_requests=policy_requests
        )
    candidates = experiment_root(data.config) / "candidates"
    for name, model in trained.items():
        if model.network is not None:
            metrics = {k: float(table.loc[name, k]) for k in CLASSIFICATION}
            path = export_model(
                Lake(candidates), model.network, model.encoder, surface=surface, model=name,  # type: ignore[arg-type]
                metrics=metrics, training_window=data.training_window,
            )  # fmt: skip
            result.artifacts[name] = str(path)
    if track:
        _track(result, data)
    return result


def _track(result: SurfaceResult, data: ExperimentData) -> None:
    from model_mle.tracking import log_model_run

    figure = reliability_plot(result.curves, f"{result.surface}: reliability")
    for name, model in result.models.items():
        row = result.table.loc[name]
        log_model_run(
            experiment=f"marquee-{result.surface}",
            run_name=f"compare-{name}",
            params={
                **asdict(model.config),
                "surface": result.surface,
                "dataset": data.config.name,
                "epochs_run": len(model.history),
            },
            metrics={
                **{k: float(v) for k, v in row.items()},
                "valid_logloss": result.valid_logloss[name],
                "train_seconds": model.seconds,
            },
            figures={"reliability.png": figure},
            artifact_dir=Path(result.artifacts[name]) if name in result.artifacts else None,
        )


def summary(results: dict[str, SurfaceResult]) -> dict:
    """What `reports/demo-model.json` holds for each surface."""
    out = {}
    for surface, r in results.items():
        oracle = r.table.loc["oracle"]
        models = r.table.drop(index=["oracle", CEILING], errors="ignore")
        ranking = "ndcg10" if surface == "home_row" else "revenue_per_1000"
        entry: dict = {
            "oracle_auc": float(oracle["auc"]),
            "oracle_logloss": float(oracle["logloss"]),
            "oracle_" + ranking: float(oracle[ranking]),
            "best_model": r.best_model,
        }
        if CEILING in r.table.index:
            ceiling = r.table.loc[CEILING]
            entry |= {
                "ceiling_auc": float(ceiling["auc"]),
                "ceiling_logloss": float(ceiling["logloss"]),
                "ceiling_auc_ci": [float(ceiling["auc_low"]), float(ceiling["auc_high"])],
                "gap_data_ci": [float(ceiling["gap_data_low"]), float(ceiling["gap_data_high"])],
            }
        if r.policy is not None:
            entry["oracle_policy_revenue_per_1000"] = float(
                r.policy.loc["oracle", "revenue_per_1000"]
            )
        entry["models"] = {
            name: _model_summary(r, name, row, ranking) for name, row in models.iterrows()
        }
        entry["artifacts"] = r.artifacts
        out[surface] = entry
    return out


def _model_summary(r: SurfaceResult, name: str, row: pd.Series, ranking: str) -> dict:
    out = {
        **{k: float(row[k]) for k in (*CLASSIFICATION, ranking)},
        "auc_ci": [float(row["auc_low"]), float(row["auc_high"])],
        "auc_gap": float(row["auc_gap"]),
        "logloss_gap_pct": float(row["logloss_gap_pct"]),
        "valid_logloss": r.valid_logloss[name],
        "epochs": len(r.models[name].history),
        "train_seconds": round(r.models[name].seconds, 2),
    }
    if "gap_model" in row:
        out |= {
            "gap_data": float(row["gap_data"]),
            "gap_model": float(row["gap_model"]),
            "gap_model_ci": [float(row["gap_model_low"]), float(row["gap_model_high"])],
        }
    if r.policy is not None and name in r.policy.index:
        p = r.policy.loc[name]
        out["policy_revenue_per_1000"] = float(p["revenue_per_1000"])
        out["policy_revenue_ci"] = [
            float(p["revenue_per_1000_low"]),
            float(p["revenue_per_1000_high"]),
        ]
        out["policy_share_of_oracle_pct"] = float(p["share_of_oracle_pct"])
    return out


def write_summary(results: dict[str, SurfaceResult], path: Path) -> dict:
    from shared.storage import atomic_write_json

    data = summary(results)
    atomic_write_json(path, data)
    return json.loads(json.dumps(data))
