"""The experiment's data: labelled impressions with the contract's features, split by day.

    data = load_experiment(DataConfig(preset="small", days=14))
    data.train["ad_break"], data.valid["ad_break"], data.test["ad_break"]

Each labelled day has the layout of data_mle's `lake.training_set(surface, day)` (the pandas
reference in `shared.features.training_set` gives the same rows; a test proves it against the
Spark job), plus the simulator's true click probability `p_click`, which only the evaluation
reads. The split is by time, as the model will be used: train on the past, choose on the next
day, report on the last.

The dataset is generated without faults under `<lake>/model_mle/` on first use, and the labelled
days are cached there as Parquet, so the three notebooks share one preparation (about a minute
for the small preset on 2 cores) and re-runs start in seconds. The cache is keyed by the feature
spec version; after changing how features or labels are computed without bumping it, delete
`<lake>/model_mle/` (or `make clean`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from shared.features import (
    FEATURE_SPEC_VERSION,
    FEATURE_TABLES,
    compute_features,
    training_set,
)
from shared.generate import DATASET_FILE, GenerateConfig, generate, read_events
from shared.oracle import read_truth
from shared.schema import SURFACES
from shared.settings import get_settings
from shared.storage import atomic_path


@dataclass(frozen=True)
class DataConfig:
    preset: str = "small"
    days: int = 14  # two weeks: the learned tastes need every click they can get
    seed: int = field(default_factory=lambda: get_settings().seed)
    valid_days: int = 1  # the day after training, for early stopping and model choice
    test_days: int = 1  # the last day, for the reported figures only

    def __post_init__(self) -> None:
        if self.days < self.valid_days + self.test_days + 2:
            raise ValueError(
                f"{self.days} days leave no training days: need at least "
                f"{self.valid_days + self.test_days + 2} (day 0 has no history)"
            )

    @property
    def name(self) -> str:
        return f"{self.preset}-seed{self.seed}-{self.days}d"


@dataclass(frozen=True)
class ExperimentData:
    config: DataConfig
    dataset: Path  # the generated dataset: raw log, entities, truth
    days: list[dt.date]  # the labelled days, in order
    train: dict[str, pd.DataFrame]  # surface -> rows
    valid: dict[str, pd.DataFrame]
    test: dict[str, pd.DataFrame]

    @property
    def training_window(self) -> tuple[str, str]:
        train_days = self.days[: -(self.config.valid_days + self.config.test_days)]
        return train_days[0].isoformat(), train_days[-1].isoformat()


def experiment_root(config: DataConfig) -> Path:
    return get_settings().lake_root / "model_mle" / config.name


def ensure_dataset(config: DataConfig) -> Path:
    """The generated dataset of `config`, made on first use (without faults: this experiment
    is about models; data_mle's pipeline is the place that deals with broken records)."""
    out = experiment_root(config) / "world"
    if not (out / DATASET_FILE).exists():
        generate(GenerateConfig(preset=config.preset, days=config.days, seed=config.seed), out)
    return out


def _cache(config: DataConfig) -> Path:
    return experiment_root(config) / f"training-spec{FEATURE_SPEC_VERSION}"


def load_features(config: DataConfig, day: dt.date) -> tuple[pd.DataFrame, ...]:
    """The user, item and context feature tables as of a labelled `day` (what a service
    would have served that day)."""
    folder = _cache(config) / "features" / day.isoformat()
    return tuple(pd.read_parquet(folder / f"{t.name}.parquet") for t in FEATURE_TABLES)


def labelled_days(config: DataConfig) -> tuple[Path, list[dt.date]]:
    """Write (once) each day's training set of both surfaces with `p_click` from the truth;
    return the dataset and the labelled days."""
    dataset = ensure_dataset(config)
    cache = experiment_root(config) / f"training-spec{FEATURE_SPEC_VERSION}"
    described = json.loads((dataset / DATASET_FILE).read_text())
    start = dt.date.fromisoformat(described["config"]["start"])
    days = [start + dt.timedelta(days=i) for i in range(1, config.days)]
    todo = [
        d
        for d in days
        if not (cache / f"{d.isoformat()}.parquet").exists()
        or not (cache / "features" / d.isoformat()).is_dir()
    ]
    if todo:
        events = read_events(dataset)
        truth = read_truth(dataset).set_index("event_id")["p_click"]
        for day in tqdm(todo, desc="labelled days", unit="day"):
            features = compute_features(events, day)
            for table, frame in zip(FEATURE_TABLES, features, strict=True):
                with atomic_path(
                    cache / "features" / day.isoformat() / f"{table.name}.parquet"
                ) as tmp:
                    frame.to_parquet(tmp, index=False)
            rows = pd.concat(
                [training_set(events, day, s, features) for s in SURFACES], ignore_index=True
            )
            rows["p_click"] = truth.reindex(rows["event_id"]).to_numpy()
            with atomic_path(cache / f"{day.isoformat()}.parquet") as tmp:
                pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), tmp)
    return dataset, days


def load_experiment(config: DataConfig | None = None) -> ExperimentData:
    """The train, validation and test rows of each surface."""
    config = config or DataConfig()
    dataset, days = labelled_days(config)
    cache = _cache(config)
    held_out = config.valid_days + config.test_days
    groups = {
        "train": days[:-held_out],
        "valid": days[-held_out : -config.test_days],
        "test": days[-config.test_days :],
    }
    splits: dict[str, dict[str, pd.DataFrame]] = {}
    for split, split_days in groups.items():
        frame = pd.concat(
            [pd.read_parquet(cache / f"{d.isoformat()}.parquet") for d in split_days],
            ignore_index=True,
        )
        splits[split] = {s: frame[frame["surface"] == s].reset_index(drop=True) for s in SURFACES}
    return ExperimentData(config, dataset, days, **splits)
