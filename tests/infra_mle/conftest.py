"""A model artifact and an online feature snapshot made with `shared` alone, as infra_mle would
receive them: the snapshot in data_mle's `lake.online_snapshot(D)` layout, the model through
the artifact contract (random weights: serving must not care what the model learned)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from shared.artifacts import export_model
from shared.click_network import ClickNetwork, ClickNetworkSpec
from shared.encoding import CATEGORICAL_FIELDS, FeatureEncoder, dense_columns
from shared.features import training_set, write_snapshot
from shared.generate import read_events
from shared.lake import Lake
from shared.storage import atomic_partition

SURFACE = "ad_break"


@pytest.fixture(scope="session")
def events(clean_dataset):
    world, _ = clean_dataset
    return read_events(world)


@pytest.fixture(scope="session")
def serving_day(clean_dataset) -> dt.date:
    _, summary = clean_dataset
    return dt.date.fromisoformat(summary["config"]["start"]) + dt.timedelta(days=2)


@pytest.fixture(scope="session")
def snapshot_dir(tmp_path_factory, events, serving_day) -> Path:
    dest = tmp_path_factory.mktemp("snapshot") / f"dt={serving_day.isoformat()}"
    return write_snapshot(dest, events, serving_day)


def make_artifact(
    lake_root: Path, rows, seed: int, model: str = "fm", surface: str = SURFACE
) -> Path:
    encoder = FeatureEncoder.fit(rows, CATEGORICAL_FIELDS, dense_columns(surface))
    torch.manual_seed(seed)
    network = ClickNetwork(
        ClickNetworkSpec(encoder.vocab_sizes, len(encoder.dense), fm=True, hidden=(16,))
    )
    with torch.no_grad():
        for p in network.parameters():
            p.normal_(0, 0.1)  # every part contributes, so a wrong input shows in the score
    return export_model(
        Lake(lake_root), network, encoder, surface=surface, model=model, metrics={"auc": 0.5},
        training_window=("2026-01-05", "2026-01-06"),
    )  # fmt: skip


@pytest.fixture(scope="session")
def train_rows(events, clean_dataset):
    _, summary = clean_dataset
    day = dt.date.fromisoformat(summary["config"]["start"]) + dt.timedelta(days=1)
    return training_set(events, day, SURFACE)


@pytest.fixture(scope="session")
def artifact(tmp_path_factory, train_rows) -> Path:
    return make_artifact(tmp_path_factory.mktemp("artifacts"), train_rows, seed=0)


@pytest.fixture(scope="session")
def ads_table(clean_dataset) -> Path:
    world, _ = clean_dataset
    return Lake(world).entity("ads")


@pytest.fixture(scope="session")
def recs_root(tmp_path_factory, serving_day) -> Path:
    """A batch output as the batch job publishes it: two users' home rows and the popular row."""
    import pandas as pd

    root = tmp_path_factory.mktemp("recs")
    with atomic_partition(root / f"dt={serving_day.isoformat()}") as part:
        rows = pd.DataFrame(
            {"user_id": ["u0000001"] * 2 + ["u0000002"] * 2, "rank": [1, 2, 1, 2],
             "title_id": ["t000003", "t000001", "t000002", "t000003"],
             "p_click": [0.2, 0.1, 0.3, 0.05]}
        )  # fmt: skip
        part.write_table("home_rows.parquet", pa.Table.from_pandas(rows, preserve_index=False))
        popular = pd.DataFrame({"title_id": ["t000009", "t000004"], "p_click": [0.09, 0.08]})
        part.write_table("popular.parquet", pa.Table.from_pandas(popular, preserve_index=False))
        part.extra["generated_for"] = serving_day.isoformat()
    return root


@pytest.fixture
def service_settings(artifact, snapshot_dir, ads_table, recs_root, tmp_path):
    from infra_mle.settings import ServiceSettings

    return ServiceSettings(
        model_url=str(artifact.parent), snapshot_url=str(snapshot_dir.parent),
        ads_url=str(ads_table), recs_url=str(recs_root), cache_dir=tmp_path / "cache",
        admin_token="s3cret", max_wait_ms=1.0,
    )  # fmt: skip


@pytest.fixture(scope="session")
def live_url(artifact, snapshot_dir, ads_table, recs_root, tmp_path_factory):
    """The service in a real uvicorn server on a free loopback port, for the whole session."""
    import threading
    import time

    import uvicorn

    from infra_mle.app import create_app
    from infra_mle.settings import ServiceSettings
    from shared.s3 import free_port

    service = ServiceSettings(
        model_url=str(artifact.parent), snapshot_url=str(snapshot_dir.parent),
        ads_url=str(ads_table), recs_url=str(recs_root),
        cache_dir=tmp_path_factory.mktemp("cache"), bench_endpoints=True,
    )  # fmt: skip
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
