"""The oracle: how well the best possible model would do on the simulator's impressions.

The generator keeps each impression's true click probability apart from the raw log
(`truth/impressions/dt=...`). Scoring the drawn clicks with those probabilities gives the
Bayes-optimal AUC and log loss: the limit every model in `model_mle` is measured against.

    truth = read_truth(Path("lake/world"))
    oracle_by_surface(truth)   # {"ad_break": {"auc": 0.83, "logloss": 0.089, ...}, ...}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


def oracle_metrics(clicked: np.ndarray, p_click: np.ndarray) -> dict[str, float]:
    """AUC and log loss of the true probabilities against the drawn clicks, with the click rate
    and the count. AUC needs both classes; with one class it is NaN."""
    from sklearn.metrics import log_loss, roc_auc_score  # here: importing sklearn costs ~0.5 s

    clicked = np.asarray(clicked, dtype=bool)
    p_click = np.asarray(p_click, dtype=float)
    both_classes = 0 < clicked.sum() < len(clicked)
    return {
        "auc": float(roc_auc_score(clicked, p_click)) if both_classes else float("nan"),
        "logloss": float(log_loss(clicked, p_click, labels=[False, True])),
        "ctr": float(clicked.mean()),
        "mean_p": float(p_click.mean()),
        "impressions": len(clicked),
    }


def oracle_by_surface(truth: pd.DataFrame) -> dict[str, dict[str, float]]:
    """`oracle_metrics` for each surface of a truth table."""
    return {
        str(surface): oracle_metrics(group["clicked"].to_numpy(), group["p_click"].to_numpy())
        for surface, group in truth.groupby("surface", observed=True)
    }


def read_truth(dataset: Path) -> pd.DataFrame:
    """Every day's truth of a generated dataset, with a `day` column."""
    frames = []
    for part in sorted((dataset / "truth" / "impressions").glob("dt=*")):
        frame = pq.read_table(part / "truth.parquet").to_pandas()
        frame["day"] = part.name[3:]
        frames.append(frame)
    if not frames:
        raise FileNotFoundError(f"{dataset} holds no truth/impressions partitions")
    return pd.concat(frames, ignore_index=True)
