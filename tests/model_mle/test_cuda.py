"""The CUDA path: training picks the GPU when there is one, learns the same thing there, and the
exported artifact (always CPU tensors) loads and scores on a machine without a GPU.

Skipped where torch sees no CUDA device (CI and the reference machine have none); run it on a
GPU machine with `pytest tests/model_mle/test_cuda.py`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from model_mle.train import TrainConfig, export, pick_device, train_model
from shared.artifacts import load_model
from tests.model_mle.test_models import cross_only, synthetic_rows

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: run on a GPU machine to check this path"
)


def test_auto_picks_cuda_and_the_fm_learns_the_cross_there():
    assert pick_device("auto").type == "cuda"
    train = synthetic_rows(20_000, seed=1, label=cross_only)
    test = synthetic_rows(5_000, seed=3, label=cross_only)
    config = TrainConfig(model="fm", batch_size=512, max_epochs=10, l2=0.0, lr=0.02, seed=0)
    model = train_model(config, "ad_break", train, synthetic_rows(5_000, 2, cross_only), False)
    y = test["label"].to_numpy()
    assert roc_auc_score(y, model.predict(test)) > roc_auc_score(y, cross_only(test)) - 0.02


def test_a_model_trained_on_cuda_exports_cpu_tensors_that_score_identically(tmp_path):
    rows = synthetic_rows(3_000, seed=4, label=cross_only)
    config = TrainConfig(model="dcn", batch_size=256, max_epochs=2, seed=5, device="cuda")
    model = train_model(config, "ad_break", rows, rows, progress=False)
    path = export(model, ("2026-01-06", "2026-01-16"), {"auc": 0.5})
    loaded = load_model(path)
    assert all(t.device.type == "cpu" for t in loaded.network.state_dict().values())
    np.testing.assert_allclose(loaded.predict(rows), model.predict(rows), rtol=1e-6)
