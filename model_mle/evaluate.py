"""Offline metrics of click models, each with a bootstrap confidence interval.

    metrics = classification_metrics(y, p)               # auc, logloss, ece, ctr, mean_p
    table = compare(predictions, test_rows, "home_row", bids)   # one row per model + oracle

AUC and log loss say how well a model ranks and how honest its probabilities are; expected
calibration error (ECE) says how far its predicted click rates are from the observed ones, which
matters because an ad's price is pCTR x bid. The ranking metrics are the business's: NDCG@10 of
the home row (do clicked titles come first?) and the expected revenue of ordering each ad pod
by eCPM, computed from the simulator's true click probabilities, so every policy is judged on
the same requests without running a live test.

The intervals come from a Poisson bootstrap: each resample weighs every row (or request) by a
Poisson(1) draw, which is what resampling with replacement does, and lets the metrics be computed
with weighted sums instead of copies. sklearn gives the point estimates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from shared.click_model import examination
from shared.encoding import SERVING_POSITION

N_BOOT = 100
CALIBRATION_BINS = 10
EPS = 1e-7


def weighted_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """AUC with row weights; tied scores count one half, as sklearn's `roc_auc_score`."""
    return auc_statistic(y, p)(np.ones(len(y)) if w is None else np.asarray(w, dtype=float))


def auc_statistic(y: np.ndarray, p: np.ndarray) -> Callable[[np.ndarray], float]:
    """The weighted AUC of fixed labels and scores as a function of the row weights. The
    scores are sorted once, so a bootstrap's hundred resamples cost a few bincounts each."""
    y = np.asarray(y, dtype=bool)
    _, group = np.unique(p, return_inverse=True)  # groups of equal score, in score order

    def auc(w: np.ndarray) -> float:
        neg = np.bincount(group, w * ~y)
        pos = np.bincount(group, w * y)
        below = np.cumsum(neg) - neg
        return float(np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum()))

    return auc


def row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def calibration_bins(p: np.ndarray, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Each row's bin among `bins` equal-count bins of the predictions (click rates are small
    and skewed, so equal-width bins would leave most bins empty)."""
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))[1:-1]
    return np.searchsorted(edges, p)  # the binning of sklearn's calibration_curve(quantile)


def expected_calibration_error(
    y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, bins: np.ndarray | None = None
) -> float:
    """Sum over bins of (share of rows) x |mean prediction - observed click rate|."""
    w = np.ones(len(y)) if w is None else w
    bins = calibration_bins(p) if bins is None else bins
    count = np.bincount(bins, w)
    seen = count > 0
    gap = np.abs(np.bincount(bins, w * p)[seen] - np.bincount(bins, w * y)[seen])
    return float(gap.sum() / count.sum())


def reliability(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Mean prediction and observed click rate per equal-count bin: the reliability plot."""
    b = calibration_bins(p, bins)
    frame = pd.DataFrame({"bin": b, "predicted": p, "observed": y})
    return frame.groupby("bin").agg(predicted=("predicted", "mean"), observed=("observed", "mean"))


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    return {
        "auc": float(roc_auc_score(y, p)),
        "logloss": float(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "ctr": float(y.mean()),
        "mean_p": float(p.mean()),
    }


def ndcg_at_k(labels: np.ndarray, scores: np.ndarray, k: int = 10) -> np.ndarray:
    """NDCG@k of each list (row): labels and scores are (lists, slots). Ties in the scores keep
    the slot order. Lists without a positive label get NaN."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    discount = 1.0 / np.log2(np.arange(2, order.shape[1] + 2))
    dcg = (np.take_along_axis(labels, order, axis=1) * discount).sum(1)
    ideal = (-np.sort(-labels, axis=1)[:, :k] * discount).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ideal > 0, dcg / ideal, np.nan)


def bootstrap(
    statistic: Callable[[np.ndarray], float], n: int, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float]:
    """95% interval of `statistic(weights)` over Poisson(1) row weights."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.poisson(1.0, n).astype(float)) for _ in range(n_boot)]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def _lists(rows: pd.DataFrame, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reshape row values into (requests, slots) arrays, slots by position. Every request of a
    surface has the same number of slots (the simulator's home row and ad pod sizes)."""
    order = np.lexsort((rows["position"].to_numpy(), rows["request_id"].to_numpy()))
    slots = int(rows["position"].max())
    if len(rows) % slots:
        raise ValueError("every request must show the same number of slots")
    return {k: np.asarray(v)[order].reshape(-1, slots) for k, v in values.items()}


def pod_revenue(
    rows: pd.DataFrame, scores: np.ndarray, bids: pd.Series, surface: str = "ad_break"
) -> np.ndarray:
    """Expected revenue of each logged ad pod when its ads are reordered by score x bid (eCPM):
    sum over slots of p(click | ad, new slot) x bid. The true p at another slot is the
    relevance (p_click / examination at the logged slot) times that slot's examination."""
    relevance = rows["p_click"].to_numpy() / examination(surface, rows["position"].to_numpy())
    bid = rows["item_id"].map(bids).to_numpy(dtype=float)
    lists = _lists(rows, {"ecpm": scores * bid, "value": relevance * bid})
    order = np.argsort(-lists["ecpm"], axis=1, kind="stable")
    slot_exam = examination(surface, np.arange(1, order.shape[1] + 1))
    return (np.take_along_axis(lists["value"], order, axis=1) * slot_exam).sum(1)


def home_ndcg(rows: pd.DataFrame, scores: np.ndarray, k: int = 10) -> np.ndarray:
    """NDCG@k of each logged home row re-ranked by score, the clicks as relevance; rows without
    a click are left out (every order is equally good for them)."""
    lists = _lists(rows, {"label": rows["label"].to_numpy(float), "score": scores})
    values = ndcg_at_k(lists["label"], lists["score"], k)
    return values[~np.isnan(values)]


class Predictor(Protocol):
    def predict(self, rows: pd.DataFrame) -> np.ndarray: ...


def compare(
    models: dict[str, Predictor],
    rows: pd.DataFrame,
    surface: str,
    bids: pd.Series | None = None,
    n_boot: int = N_BOOT,
) -> pd.DataFrame:
    """One row per model and one for the oracle (whose prediction is the true p_click): AUC,
    log loss, ECE and the surface's ranking metric, each with its 95% interval, and the gaps to
    the oracle. The classification metrics score each impression at its logged slot; the ranking
    metrics score every candidate at the first slot, as a ranking service does, and the oracle
    ranks by the true relevance, which no slot has discounted."""
    y = rows["label"].to_numpy(float)
    first_slot = rows.assign(position=SERVING_POSITION)
    relevance = rows["p_click"].to_numpy() / examination(surface, rows["position"].to_numpy())
    scored = {name: (m.predict(rows), m.predict(first_slot)) for name, m in models.items()}
    scored["oracle"] = (rows["p_click"].to_numpy(), relevance)
    table = []
    for name, (p, ranking) in scored.items():
        losses, bins = row_log_loss(y, p), calibration_bins(p)
        stats: dict[str, Callable[[np.ndarray], float]] = {
            "auc": auc_statistic(y, p),
            "logloss": lambda w, losses=losses: float(np.sum(w * losses) / w.sum()),
            "ece": lambda w, p=p, bins=bins: expected_calibration_error(y, p, w, bins),
        }
        entry: dict[str, float | str] = {"model": name}
        for key, stat in stats.items():
            entry[key] = stat(np.ones(len(y)))
            entry[f"{key}_low"], entry[f"{key}_high"] = bootstrap(stat, len(y), n_boot)
        if surface == "home_row":
            per_list, key = home_ndcg(rows, ranking), "ndcg10"
        else:
            if bids is None:
                raise ValueError("the ad-break comparison needs the ads' bids")
            per_list, key = 1000 * pod_revenue(rows, ranking, bids, surface), "revenue_per_1000"
        entry[key] = float(per_list.mean())
        entry[f"{key}_low"], entry[f"{key}_high"] = bootstrap(
            lambda w, v=per_list: float(np.sum(w * v) / w.sum()), len(per_list), n_boot
        )
        table.append(entry)
    frame = pd.DataFrame(table).set_index("model")
    oracle = frame.loc["oracle"]
    frame["auc_gap"] = oracle["auc"] - frame["auc"]
    frame["logloss_gap_pct"] = 100 * (frame["logloss"] / oracle["logloss"] - 1)
    if CEILING in frame.index:
        frame = frame.join(gap_split(y, {name: p for name, (p, _) in scored.items()}, n_boot))
    return frame


CEILING = "ceiling"  # the model name of the data-limited ceiling (`ceiling.py`) in a comparison


def gap_split(
    y: np.ndarray, predictions: dict[str, np.ndarray], n_boot: int = N_BOOT
) -> pd.DataFrame:
    """Each model's AUC gap to the oracle split in two, with 95% intervals: `gap_data`, the
    oracle's AUC minus the data-limited ceiling's (what more data would close), and
    `gap_model`, the ceiling's minus the model's (what a better model would close). The
    intervals are of the differences themselves: every resample weighs the rows of both
    predictions alike, so the noise they share cancels."""
    auc = {name: auc_statistic(y, p) for name, p in predictions.items()}
    ceiling, oracle = auc[CEILING], auc["oracle"]
    ones = np.ones(len(y))
    data_gap = oracle(ones) - ceiling(ones)
    data_low, data_high = bootstrap(lambda w: oracle(w) - ceiling(w), len(y), n_boot)
    rows = []
    for name, model in auc.items():
        gap = ceiling(ones) - model(ones)
        low, high = bootstrap(lambda w, m=model: ceiling(w) - m(w), len(y), n_boot)
        rows.append({"model": name, "gap_data": data_gap, "gap_data_low": data_low,
                     "gap_data_high": data_high, "gap_model": gap, "gap_model_low": low,
                     "gap_model_high": high})  # fmt: skip
    return pd.DataFrame(rows).set_index("model")
