"""MLflow tracking with a local backend store under the lake: every training run's parameters,
metrics, plots and model artifact, browsable with `make mlflow-ui`.

    run_id = log_model_run("marquee-ad_break", "train-fm", params, metrics, figures, artifact)

The store is `<lake>/mlflow/mlflow.db` (SQLite) with artifacts beside it in `<lake>/mlflow/runs`;
nothing is set up until the first run is logged, and nothing leaves the machine. A team would
point `MLFLOW_TRACKING_URI` at a shared server instead; the calls stay the same.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from shared.settings import get_settings


def tracking_dir() -> Path:
    return get_settings().lake_root / "mlflow"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{tracking_dir() / 'mlflow.db'}"


def _mlflow() -> Any:
    import mlflow

    for name in ("alembic", "mlflow"):  # the store's migrations log every step at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def _experiment(mlflow: Any, name: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = tracking_dir() / "runs" / name
    return mlflow.create_experiment(name, artifact_location=location.resolve().as_uri())


def log_model_run(
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    figures: dict[str, Any] | None = None,
    artifact_dir: Path | None = None,
    parent_run_id: str | None = None,
) -> str:
    """Log one run; `figures` are matplotlib figures by file name, `artifact_dir` a model
    artifact (logged as-is under `model/`, so what MLflow keeps is what infra serves).
    Returns the run id."""
    mlflow = _mlflow()
    tags = {"mlflow.parentRunId": parent_run_id} if parent_run_id else None
    with mlflow.start_run(
        experiment_id=_experiment(mlflow, experiment), run_name=run_name, tags=tags
    ) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})  # skip NaN
        for name, figure in (figures or {}).items():
            mlflow.log_figure(figure, name)
        if artifact_dir is not None:
            mlflow.log_artifacts(str(artifact_dir), "model")
        return run.info.run_id


def start_parent_run(experiment: str, run_name: str, params: dict[str, Any]) -> str:
    """An empty run that groups others (a search's trials) as its children."""
    mlflow = _mlflow()
    with mlflow.start_run(experiment_id=_experiment(mlflow, experiment), run_name=run_name) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        return run.info.run_id
