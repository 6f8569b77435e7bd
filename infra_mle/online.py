"""Scoring in memory: a model artifact plus the online feature snapshot, turned into arrays once
so a request costs a few dictionary lookups, one gather and one forward pass.

    scorer = OnlineScorer.load(model, snapshot_dir)
    p_click = scorer.score("u0000042", ["ad00007", "ad00019"], device="tv", hour=20)

The reference for what a score must be is `shared.artifacts.LoadedModel.predict` on rows built
by `shared.features.attach_features`: this class precomputes the same encoded numbers per user,
per item and per context (each table's columns scaled by the model's encoder, unseen keys given
the contract's defaults), and `tests/infra_mle/test_online.py` holds the two within 1e-6. The
batch job (`batch_score.py`) scores with this same class, so batch and online cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from shared.artifacts import LoadedModel
from shared.encoding import CATEGORICAL_FIELDS, SERVING_POSITION, DenseColumn
from shared.features import FEATURE_PREFIX, FEATURE_TABLES, feature_defaults
from shared.storage import read_manifest, verify_partition


@dataclass(frozen=True)
class _Table:
    """One feature table, encoded: row `index[key]` of `values` (row 0: an unseen key)."""

    index: dict
    values: np.ndarray  # float32 (keys + 1, columns this model reads from the table)
    slots: list[int]  # where each column goes in the model's dense input


def read_frame(path: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame, read and converted on one thread. The service reads once,
    at start and on reload, so threads save little there; and a read spread over a thread pool
    leaves its memory in a different shape every time: the small preset's features took
    22.0-26.5 MiB over five loads with threads, 21.3-21.5 MiB without (`infra_mle.sizing`)."""
    import pyarrow.parquet as pq

    return pq.read_table(path, use_threads=False, pre_buffer=False).to_pandas(use_threads=False)


def _encode_columns(frame: pd.DataFrame, columns: list[DenseColumn]) -> np.ndarray:
    out = np.empty((len(frame), len(columns)), dtype=np.float32)
    for j, col in enumerate(columns):
        x = frame[col.name].to_numpy(dtype=np.float64)
        x = np.log1p(np.maximum(x, 0.0)) if col.log1p else x
        out[:, j] = col.standardise(x)
    return out


class OnlineScorer:
    def __init__(self, model: LoadedModel, snapshot: dict[str, pd.DataFrame], as_of: str) -> None:
        self.model = model
        self.surface = model.surface
        self.as_of = as_of
        encoder = model.encoder
        self.vocab = {
            field: {v: i + 1 for i, v in enumerate(values)}
            for field, values in encoder.categorical.items()
        }
        if tuple(encoder.categorical) != CATEGORICAL_FIELDS:
            raise ValueError(f"the model's fields {list(encoder.categorical)} are not known here")
        defaults = feature_defaults(self.surface)
        self.tables: dict[str, _Table] = {}
        for table in FEATURE_TABLES:
            prefix = FEATURE_PREFIX[table.name]
            wanted = [
                (slot, col)
                for slot, col in enumerate(encoder.dense)
                if col.name.startswith(prefix) and col.name[len(prefix) :] in table.values
            ]
            frame = snapshot[table.name]
            if "surface" in table.keys:
                frame = frame[frame["surface"] == self.surface]
            frame = frame.rename(columns={v: prefix + v for v in table.values})
            keys = [k for k in table.keys if k != "surface"]
            default_row = pd.DataFrame([{col.name: defaults[col.name] for _, col in wanted}])
            columns = [col for _, col in wanted]
            values = np.vstack(
                [_encode_columns(default_row, columns), _encode_columns(frame, columns)]
            )
            index = {key: i + 1 for i, key in enumerate(_keys(frame, keys))}
            self.tables[table.name] = _Table(index, values, [slot for slot, _ in wanted])
        covered = sorted(s for t in self.tables.values() for s in t.slots)
        if covered != list(range(len(encoder.dense))):
            raise ValueError("the model reads a feature column the online snapshot does not hold")

    @classmethod
    def load(cls, model: LoadedModel, snapshot_dir: Path) -> OnlineScorer:
        """Read a snapshot partition (data_mle's `lake.online_snapshot(D)`), checksums first."""
        verify_partition(snapshot_dir)
        manifest = read_manifest(snapshot_dir)
        if manifest.get("feature_spec_version") != model.manifest["feature_spec_version"]:
            raise ValueError(
                f"snapshot {snapshot_dir} has feature spec "
                f"{manifest.get('feature_spec_version')!r}, the model was trained on "
                f"{model.manifest['feature_spec_version']!r}"
            )
        tables = {t.name: read_frame(snapshot_dir / f"{t.name}.parquet") for t in FEATURE_TABLES}
        return cls(model, tables, str(manifest.get("as_of", snapshot_dir.name)))

    def known_user(self, user_id: str) -> bool:
        return user_id in self.tables["user_features"].index

    def inputs(
        self, user_ids: np.ndarray, item_ids: np.ndarray, devices: np.ndarray, hours: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model's (categorical, dense) inputs for aligned arrays of one row each, every row
        scored at the first slot."""
        n = len(item_ids)
        fields = {
            "user_id": user_ids,
            "item_id": item_ids,
            "hour": [str(h) for h in hours],
            "device": devices,
            "position": [str(SERVING_POSITION)] * n,
        }
        categorical = np.empty((n, len(CATEGORICAL_FIELDS)), dtype=np.int64)
        for j, field in enumerate(CATEGORICAL_FIELDS):
            lookup = self.vocab[field]
            categorical[:, j] = [lookup.get(str(v), 0) for v in fields[field]]
        dense = np.empty((n, sum(len(t.slots) for t in self.tables.values())), dtype=np.float32)
        keys = {
            "user_features": list(user_ids),
            "item_features": list(item_ids),
            "context_features": list(zip(devices, (int(h) for h in hours), strict=True)),
        }
        for name, table in self.tables.items():
            rows = [table.index.get(k, 0) for k in keys[name]]
            dense[:, table.slots] = table.values[rows]
        return categorical, dense

    def score_arrays(self, categorical: np.ndarray, dense: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = self.model.network(torch.from_numpy(categorical), torch.from_numpy(dense))
        return torch.sigmoid(logits).double().numpy()

    def score(self, user_id: str, item_ids: list[str], device: str, hour: int) -> np.ndarray:
        """p(click) of each item for this user, device and hour, at the first slot."""
        n = len(item_ids)
        categorical, dense = self.inputs(
            np.array([user_id] * n, dtype=object), np.array(item_ids, dtype=object),
            np.array([device] * n, dtype=object), np.full(n, hour),
        )  # fmt: skip
        return self.score_arrays(categorical, dense)


def _keys(frame: pd.DataFrame, keys: list[str]) -> list:
    if len(keys) == 1:
        return frame[keys[0]].astype(str).tolist()
    return list(
        zip(
            *(frame[k].astype(str) if k != "hour" else frame[k].astype(int) for k in keys),
            strict=True,
        )
    )
