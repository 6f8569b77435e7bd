"""MLflow tracking with a local backend store under the lake: every training run's parameters,
metrics, plots and model artifact, browsable with `make mlflow-ui`.

    run_id = log_model_run("marquee-ad_break", "train-fm", params, metrics, figures, artifact)

The store is `<lake>/mlflow/mlflow.db` (SQLite) with artifacts beside it in `<lake>/mlflow/runs`;
nothing is set up until the first run is logged, and nothing leaves the machine. A team would
point `MLFLOW_TRACKING_URI` at a shared server instead; the calls stay the same. The same store
holds the model registry (fullstack_mle's promotions), reached through `client()`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.settings import get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


def tracking_dir(lake_root: Path | None = None) -> Path:
    return (lake_root or get_settings().lake_root) / "mlflow"


def tracking_uri(lake_root: Path | None = None) -> str:
    """`MLFLOW_TRACKING_URI` when set, else the SQLite store of `lake_root` (default: the
    settings' lake)."""
    default = f"sqlite:///{tracking_dir(lake_root) / 'mlflow.db'}"
    return os.environ.get("MLFLOW_TRACKING_URI") or default


def _quiet() -> None:
    for name in ("alembic", "mlflow"):  # the store's migrations log every step at INFO
        logging.getLogger(name).setLevel(logging.WARNING)


def _mlflow() -> Any:
    import mlflow

    _quiet()
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def client(uri: str | None = None) -> MlflowClient:
    """An MLflow client of one store, its tracking and its model registry both (default:
    `tracking_uri()`). Unlike `_mlflow()` it sets no process-wide tracking URI."""
    from mlflow import MlflowClient

    _quiet()
    uri = uri or tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


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
