"""Turning training-set rows into model inputs: the encoding half of the model contract.

A model sees two arrays per row: one integer index per categorical field (user, item, hour,
device, position) and a vector of standardised numbers (the contract's features). The encoder is
fitted on the training rows and saved inside the model artifact as plain JSON, so whoever serves
the model (`infra_mle`, `fullstack_mle`) encodes a request exactly as training did, without
importing `model_mle`.

    encoder = FeatureEncoder.fit(train_rows, CATEGORICAL_FIELDS, dense_columns("ad_break"))
    categorical, dense = encoder.transform(rows)      # int64 (n, 5), float32 (n, d)

Index 0 of every field is "unknown": a user or item the training rows never had, so a new user
gets a defined score (the model's average for unknowns) instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shared.features import (
    CONTEXT_FEATURES,
    FEATURE_PREFIX,
    ITEM_FEATURES,
    SURFACE_PREFIX,
    WINDOWS,
)

CATEGORICAL_FIELDS = ("user_id", "item_id", "hour", "device", "position")
SERVING_POSITION = 1  # a ranking request scores every candidate as if it were in the first slot


def dense_columns(surface: str) -> list[str]:
    """The feature columns a model of `surface` reads: the user's click rates and volumes on
    this surface, their viewing, the item's and the context's click rates and volumes."""
    user = SURFACE_PREFIX[surface]
    other = next(p for s, p in SURFACE_PREFIX.items() if s != surface)
    item = FEATURE_PREFIX[ITEM_FEATURES.name]
    ctx = FEATURE_PREFIX[CONTEXT_FEATURES.name]
    return [
        *(f"{user}_{stat}_{w}d" for w in WINDOWS for stat in ("ctr", "impressions")),
        f"{other}_ctr_{max(WINDOWS)}d",
        "plays_28d",
        "watch_time_s_28d",
        "days_since_last_event",
        *(f"{item}{stat}_{w}d" for w in WINDOWS for stat in ("ctr", "impressions")),
        *(f"{ctx}{v}" for v in CONTEXT_FEATURES.values if not v.startswith("clicks")),
    ]


DENSE_CLIP = 8.0  # standard deviations; log-scaled features of normal traffic stay well inside


@dataclass(frozen=True)
class DenseColumn:
    """How one numeric column is scaled: log1p for counts (heavy-tailed), then standardised."""

    name: str
    log1p: bool
    mean: float
    std: float

    def standardise(self, scaled: np.ndarray) -> np.ndarray:
        """(x - mean) / std of already log-scaled values, clipped to +-`DENSE_CLIP`: a column
        that barely varied in training (day one of a new feature: nearly all zeros) must not
        turn tomorrow's ordinary values into thousands of standard deviations."""
        return np.clip((scaled - self.mean) / self.std, -DENSE_CLIP, DENSE_CLIP)


@dataclass(frozen=True)
class FeatureEncoder:
    categorical: dict[str, list[str]]  # field -> its known values; value i is index i + 1
    dense: list[DenseColumn]

    @classmethod
    def fit(cls, rows: pd.DataFrame, fields: tuple[str, ...], columns: list[str]) -> FeatureEncoder:
        missing = [c for c in (*fields, *columns) if c not in rows.columns]
        if missing:
            raise KeyError(f"the rows lack the columns {missing}")
        categorical = {f: sorted(rows[f].astype(str).unique()) for f in fields}
        dense = []
        for col in columns:
            log1p = "ctr" not in col  # click rates are already in 0..1; counts are not
            values = _scaled(rows[col], log1p)
            std = float(values.std()) or 1.0  # a constant column stays constant, not NaN
            dense.append(DenseColumn(col, log1p, float(values.mean()), std))
        return cls(categorical, dense)

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        return tuple(len(values) + 1 for values in self.categorical.values())

    def transform(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(categorical indices, int64 (n, fields)), (dense values, float32 (n, columns))."""
        categorical = np.empty((len(rows), len(self.categorical)), dtype=np.int64)
        for j, (field, values) in enumerate(self.categorical.items()):
            codes = pd.Index(values).get_indexer(rows[field].astype(str))
            categorical[:, j] = codes + 1  # -1 (unknown) becomes 0
        dense = np.empty((len(rows), len(self.dense)), dtype=np.float32)
        for j, col in enumerate(self.dense):
            dense[:, j] = col.standardise(_scaled(rows[col.name], col.log1p))
        return categorical, dense

    def to_json(self) -> dict:
        # Lists, not objects: the field order is the model's input order, and the project's
        # JSON writer sorts object keys.
        return {
            "categorical": [[field, values] for field, values in self.categorical.items()],
            "dense": [vars(c) for c in self.dense],
        }

    @classmethod
    def from_json(cls, data: dict) -> FeatureEncoder:
        return cls(
            {str(field): [str(v) for v in values] for field, values in data["categorical"]},
            [DenseColumn(**c) for c in data["dense"]],
        )


def _scaled(values: pd.Series, log1p: bool) -> np.ndarray:
    x = values.to_numpy(dtype=np.float64)
    return np.log1p(np.maximum(x, 0.0)) if log1p else x
