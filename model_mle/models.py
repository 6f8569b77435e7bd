"""The models the experiment compares, from the simplest that could work to the ones that can
learn what the simulator hides.

    popularity  each item's click rate in the training days, smoothed: the baseline to beat
    logreg      logistic regression on one-hot ids, hour, device, position and the features:
                it learns every user's and item's own appeal, but no pair of them
    mlp         a deep network over embeddings: pairs only as far as ReLUs can approximate them
    fm          a factorization machine: an inner product for every pair of fields, which is
                exactly the shape of the hidden user x item taste
    dcn         DCN-v2: explicit cross layers beside a deep network
    joint       the taste model (user x item taste with items built from their category, the
                hour x category and device x category crosses, position as examination),
                trained on both surfaces at once with one user table: `joint.py`

Every network is a `shared.click_network.ClickNetwork` with some parts switched on, so each one
exports to the same artifact and any service can load it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from shared.click_network import ClickNetwork, ClickNetworkSpec
from shared.encoding import FeatureEncoder
from shared.features import PRIOR_CTR, PRIOR_STRENGTH

ARCHITECTURES: dict[str, dict] = {
    "logreg": {"linear": True},
    "mlp": {"linear": False, "hidden": (64, 32)},
    "fm": {"linear": True, "fm": True},
    "dcn": {"linear": False, "cross_layers": 2, "hidden": (64, 32)},
    "joint": {"linear": False, "taste": True, "examination": True},
}
SURFACE_MODELS = ("popularity", "logreg", "mlp", "fm", "dcn")  # each trained on one surface
MODEL_NAMES = (*SURFACE_MODELS, "joint")  # what `train_model` and `train_joint` train
# and what notebook 2 compares: joint_bayes is the joint model averaged over its posterior
# (`posterior.py`), sampled after the joint model's training rather than trained
COMPARED_MODELS = (*MODEL_NAMES, "joint_bayes")


def build_network(
    name: str,
    encoder: FeatureEncoder,
    embedding_dim: int = 8,
    dropout: float = 0.0,
    categories: pd.Series | None = None,
) -> ClickNetwork:
    """A fresh network of architecture `name` for inputs encoded by `encoder`. A taste network
    also takes each item's public category (`categories`: item id -> category); without it
    every item is in the one "unknown" category."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    parts = dict(ARCHITECTURES[name])
    names: list[str] = []
    if parts.get("taste"):
        names = sorted(categories.astype(str).unique()) if categories is not None else []
        parts["item_categories"] = len(names) + 1  # index 0: an item of unknown category
    spec = ClickNetworkSpec(
        vocab_sizes=encoder.vocab_sizes,
        n_dense=len(encoder.dense),
        embedding_dim=embedding_dim,
        dropout=dropout,
        **parts,
    )
    network = ClickNetwork(spec)
    if names:
        assert categories is not None
        items = pd.Index(encoder.categorical["item_id"])
        of_item = categories.astype(str).reindex(items)
        codes = pd.Index(names).get_indexer(of_item.fillna(""))  # -1 where unknown
        network.item_category[1:] = torch.from_numpy(codes + 1)  # row 0: the unknown item
    return network


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
