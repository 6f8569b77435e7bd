"""A small grid search over the factorization machine, each trial an MLflow child run; the
winner (lowest validation log loss) is exported as the surface's model artifact.

    search = grid_search(data, "ad_break")
    search.trials     # one row per trial; search.artifact: the exported model's folder
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from model_mle.data import ExperimentData
from model_mle.evaluate import classification_metrics
from model_mle.train import TrainConfig, TrainedModel, export, train_model

GRID = {"embedding_dim": (8, 16), "l2": (5e-4, 2e-3)}


@dataclass
class SearchResult:
    trials: pd.DataFrame
    best: dict
    model: TrainedModel
    artifact: Path


def grid_search(
    data: ExperimentData,
    surface: str,
    grid: dict[str, tuple] = GRID,
    epochs: int = 8,
    seed: int | None = None,
    track: bool = True,
) -> SearchResult:
    from model_mle.tracking import log_model_run, start_parent_run

    base = TrainConfig(
        model="fm", max_epochs=epochs, seed=data.config.seed if seed is None else seed
    )
    parent = (
        start_parent_run(f"marquee-{surface}", "grid-search-fm", {"grid": grid}) if track else None
    )
    train, valid, test = data.train[surface], data.valid[surface], data.test[surface]
    rows, models = [], []
    for values in itertools.product(*grid.values()):
        config = replace(base, **dict(zip(grid, values, strict=True)))
        model = train_model(config, surface, train, valid, progress=False)
        metrics = classification_metrics(valid["label"].to_numpy(), model.predict(valid))
        trial = {**dict(zip(grid, values, strict=True)), "valid_logloss": metrics["logloss"],
                 "valid_auc": metrics["auc"], "epochs": len(model.history)}  # fmt: skip
        if parent:
            log_model_run(
                f"marquee-{surface}", "trial", asdict(config), trial, parent_run_id=parent
            )
        rows.append(trial)
        models.append(model)
    trials = pd.DataFrame(rows)
    best_index = int(trials["valid_logloss"].idxmin())
    best_model = models[best_index]
    test_metrics = classification_metrics(test["label"].to_numpy(), best_model.predict(test))
    artifact = export(best_model, data.training_window, test_metrics)
    if parent:
        log_model_run(
            f"marquee-{surface}", "chosen-fm", asdict(best_model.config), test_metrics,
            artifact_dir=artifact, parent_run_id=parent,
        )  # fmt: skip
    return SearchResult(trials.sort_values("valid_logloss"), rows[best_index], best_model, artifact)
