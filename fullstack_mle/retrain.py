"""Daily retraining: a candidate per surface from data_mle's training sets, judged against the
champion on rows neither model has seen, through the gate, and registered in MLflow's model
registry (`registry.py`), promoted or not. The candidates are model_mle's joint model: one
training run on both surfaces' rows (the users' tastes are shared), one network per surface,
each judged and registered on its own.

For business day D (its ETL done), the rows of `lake.training_set(surface, ...)` split by request:
- gate rows: `GATE_SHARE` of day D's requests. The champion was trained before D existed, and the
  candidate never sees them, so both are judged on equal terms.
- the candidate's training rows: every earlier day and the rest of day D; `VALID_SHARE` of their
  requests choose the epoch (model_mle's early stopping).
Splitting by request keeps a home row's ten impressions together, as ranking metrics need.

    decisions = retrain(lake, registry, day)      # {"ad_break": Decision, "home_row": ...}
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd

from fullstack_mle.gate import GateRule, decide
from fullstack_mle.registry import Decision, Registry
from model_mle.evaluate import classification_metrics
from model_mle.joint import item_categories, train_joint
from model_mle.train import TrainConfig, TrainedModel, export
from shared.artifacts import load_model
from shared.lake import Lake, training_set_table
from shared.schema import SURFACES

GATE_SHARE = 0.2
VALID_SHARE = 0.1
GATE_METRICS = ("auc", "logloss", "ece", "mean_p", "ctr")


def read_training_days(lake: Lake, surface: str, through: dt.date) -> pd.DataFrame:
    """Every training-set partition of `surface` up to `through`, in day order, with the day of
    its partition (a late event's own time may fall on the day before)."""
    days = [d for d in lake.days(training_set_table(surface)) if d <= through]
    if not days:
        raise FileNotFoundError(
            f"no training sets for {surface} up to {through}: run data_mle's DAG for a day first"
        )
    frames = [pd.read_parquet(lake.training_set(surface, d)).assign(partition=d) for d in days]
    return pd.concat(frames, ignore_index=True)


def request_bucket(rows: pd.DataFrame, salt: str) -> np.ndarray:
    """A stable number in [0, 1) per row from its request id: the same split on every run."""
    hashed = pd.util.hash_pandas_object(rows["request_id"] + salt, index=False).to_numpy()
    return (hashed % 10_000) / 10_000


def split(rows: pd.DataFrame, day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train, valid, gate) rows for the candidate of `day`."""
    newest = (rows["partition"] == day).to_numpy()
    gate = newest & (request_bucket(rows, "gate") < GATE_SHARE)
    rest = rows[~gate]
    valid = request_bucket(rest, "valid") < VALID_SHARE
    return rest[~valid], rest[valid], rows[gate]


def gate_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    metrics = classification_metrics(y, p)
    return {k: round(metrics[k], 6) for k in GATE_METRICS}


def retrain(
    lake: Lake,
    registry: Registry,
    day: dt.date,
    config: TrainConfig | None = None,
    rule: GateRule | None = None,
) -> dict[str, Decision]:
    """Train the joint candidate for `day` on both surfaces, then judge and register each
    surface's network. The artifacts are written and registered either way (a rejected model
    is evidence); only the registry's alias `champion` says which one serves."""
    started = time.perf_counter()
    splits = {s: split(read_training_days(lake, s, day), day) for s in SURFACES}
    for surface, (_, _, gate) in splits.items():
        if gate["label"].nunique() < 2:
            raise ValueError(
                f"{surface} {day}: the gate rows hold one class only; more traffic needed"
            )
    models = train_joint(
        config or TrainConfig(model="joint"),
        {s: train for s, (train, _, _) in splits.items()},
        {s: valid for s, (_, valid, _) in splits.items()},
        item_categories(lake),
        progress=False,
    )
    seconds = round(time.perf_counter() - started, 1)
    return {s: judge(lake, registry, models[s], day, splits[s], rule, seconds) for s in SURFACES}


def judge(
    lake: Lake,
    registry: Registry,
    model: TrainedModel,
    day: dt.date,
    rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    rule: GateRule | None,
    train_seconds: float,
) -> Decision:
    """Export `model` (the candidate of its surface), score it and the champion on the gate
    rows, let the gate decide, and register the decision."""
    train, _, gate = rows
    surface = model.surface
    y = gate["label"].to_numpy()
    candidate_metrics = gate_metrics(y, model.predict(gate))
    window = (str(train["partition"].min()), day.isoformat())
    artifact = export(model, window, candidate_metrics)
    champion = registry.champion(surface)
    champion_metrics = None
    if champion is not None:
        served = load_model(lake.models(surface) / champion, surface)
        champion_metrics = gate_metrics(y, served.predict(gate))
    verdict = decide(candidate_metrics, champion_metrics, rule)
    decision = Decision(
        day=day.isoformat(),
        surface=surface,
        candidate=artifact.name,
        champion=champion,
        promoted=verdict.promote,
        reason=verdict.reason,
        candidate_metrics=candidate_metrics,
        champion_metrics=champion_metrics,
        gate_rows=len(gate),
        training_rows=len(train),
        training_window=window,
        train_seconds=train_seconds,  # the joint run, both surfaces together
    )
    registry.record(decision, artifact)
    return decision
