"""The models the experiment compares, from the simplest that could work to the ones that can
learn what the simulator hides.

    popularity  each item's click rate in the training days, smoothed: the baseline to beat
    logreg      logistic regression on one-hot ids, hour, device, position and the features:
                it learns every user's and item's own appeal, but no pair of them
    mlp         a deep network over embeddings: pairs only as far as ReLUs can approximate them
    fm          a factorization machine: an inner product for every pair of fields, which is
                exactly the shape of the hidden user x item taste
    dcn         DCN-v2: explicit cross layers beside a deep network

Every network is a `shared.click_network.ClickNetwork` with some parts switched on, so each one
exports to the same artifact and any service can load it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.click_network import ClickNetwork, ClickNetworkSpec
from shared.encoding import FeatureEncoder
from shared.features import PRIOR_CTR, PRIOR_STRENGTH

ARCHITECTURES: dict[str, dict] = {
    "logreg": {"linear": True},
    "mlp": {"linear": False, "hidden": (64, 32)},
    "fm": {"linear": True, "fm": True},
    "dcn": {"linear": False, "cross_layers": 2, "hidden": (64, 32)},
}
MODEL_NAMES = ("popularity", *ARCHITECTURES)


def build_network(
    name: str, encoder: FeatureEncoder, embedding_dim: int = 8, dropout: float = 0.0
) -> ClickNetwork:
    """A fresh network of architecture `name` for inputs encoded by `encoder`."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    spec = ClickNetworkSpec(
        vocab_sizes=encoder.vocab_sizes,
        n_dense=len(encoder.dense),
        embedding_dim=embedding_dim,
        dropout=dropout,
        **ARCHITECTURES[name],
    )
    return ClickNetwork(spec)


class PopularityModel:
    """p(click) = the item's smoothed click rate over the training rows, whoever is watching.
    An item never seen gets the surface's prior."""

    def __init__(self, surface: str) -> None:
        self.prior = PRIOR_CTR[surface]
        self.rates: pd.Series | None = None

    def fit(self, rows: pd.DataFrame) -> PopularityModel:
        by_item = rows.groupby("item_id")["label"].agg(["sum", "count"])
        self.rates = (by_item["sum"] + PRIOR_STRENGTH * self.prior) / (
            by_item["count"] + PRIOR_STRENGTH
        )
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        if self.rates is None:
            raise RuntimeError("fit the popularity model before predicting")
        return rows["item_id"].map(self.rates).fillna(self.prior).to_numpy(dtype=np.float64)
