"""Model artifacts round-trip exactly, and anything tampered, incomplete, mismatched or unsafe
is refused before it can score a request."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from shared.artifacts import (
    MANIFEST,
    MODEL_FILE,
    WEIGHTS,
    ArtifactError,
    export_model,
    latest_model,
    load_model,
)
from shared.click_network import ClickNetwork, ClickNetworkSpec
from shared.encoding import CATEGORICAL_FIELDS, FeatureEncoder, dense_columns
from shared.features import feature_defaults
from shared.lake import Lake
from shared.storage import sha256_file, to_json_text


@pytest.fixture
def rows():
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame(
        {
            "user_id": rng.choice(["u1", "u2", "u3"], n),
            "item_id": rng.choice(["ad1", "ad2"], n),
            "hour": rng.integers(0, 24, n),
            "device": rng.choice(["tv", "mobile"], n),
            "position": rng.integers(1, 4, n),
        }
    )
    for col, value in feature_defaults("ad_break").items():
        frame[col] = value * rng.random(n)
    return frame


# the joint model's parts: the item -> category buffer travels in weights.pt with the rest
JOINT = {"linear": False, "taste": True, "item_categories": 3, "examination": True}
NETWORKS = {
    "fm": {"fm": True, "hidden": (8,)},
    "joint": JOINT,
    "joint_bayes": {**JOINT, "draws": 3},  # its user, item and category tables: 3 draws each
}


@pytest.fixture(params=list(NETWORKS))
def exported(request, tmp_path, rows):
    """An exported network of each kind: every check below holds for each."""
    encoder = FeatureEncoder.fit(rows, CATEGORICAL_FIELDS, dense_columns("ad_break"))
    torch.manual_seed(0)
    spec = ClickNetworkSpec(encoder.vocab_sizes, len(encoder.dense), **NETWORKS[request.param])
    network = ClickNetwork(spec)
    if spec.taste:
        network.item_category[1:] = torch.tensor([1, 2])  # ad1, ad2: two categories
        for table in network.taste_tables():  # away from the near-zero start, so that a
            torch.nn.init.normal_(table.weight, std=0.5)  # wrong table would show
    path = export_model(
        Lake(tmp_path), network, encoder, surface="ad_break", model="fm",
        metrics={"auc": 0.7}, training_window=("2026-01-06", "2026-01-08"),
    )  # fmt: skip
    return path, network, encoder


def _expected(network, encoder, rows):
    categorical, dense = encoder.transform(rows)
    with torch.no_grad():
        logits = network(torch.from_numpy(categorical), torch.from_numpy(dense))
    return torch.sigmoid(logits).double().numpy()


def test_round_trip_gives_identical_predictions(exported, rows):
    path, network, encoder = exported
    loaded = load_model(path, surface="ad_break")
    np.testing.assert_array_equal(loaded.predict(rows), _expected(network, encoder, rows))
    assert loaded.manifest["feature_spec_version"] == "1"
    assert loaded.manifest["training_window"] == {"start": "2026-01-06", "end": "2026-01-08"}
    assert set(loaded.manifest["files"]) == {WEIGHTS, MODEL_FILE}
    assert latest_model(Lake(path.parents[3]), "ad_break") == path


def test_unknown_ids_get_a_score_not_an_error(exported, rows):
    path, *_ = exported
    new = rows.head(2).assign(user_id="someone-new", item_id="an-ad-never-seen")
    p = load_model(path).predict(new)
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()


def test_a_tampered_file_is_refused(exported):
    path, *_ = exported
    data = bytearray((path / WEIGHTS).read_bytes())
    data[-10] ^= 0xFF
    (path / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="changed after export"):
        load_model(path)


def test_an_unlisted_or_missing_file_is_refused(exported):
    path, *_ = exported
    (path / "extra.py").write_text("print('hello')\n")
    with pytest.raises(ArtifactError, match="the folder holds"):
        load_model(path)
    (path / "extra.py").unlink()
    (path / MODEL_FILE).unlink()
    with pytest.raises(ArtifactError, match="the folder holds"):
        load_model(path)


class RunsCode:
    """Unpickling this calls os.system: what a malicious model file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_even_with_matching_checksums(exported, tmp_path):
    path, network, _ = exported
    marker = tmp_path / "pwned"
    state = dict(network.state_dict())
    state["payload"] = RunsCode(marker)
    torch.save(state, path / WEIGHTS)  # torch's zip format, with the payload inside
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"][WEIGHTS]["sha256"] = sha256_file(path / WEIGHTS)  # an attacker's manifest
    (path / MANIFEST).write_text(to_json_text(manifest))
    with pytest.raises(ArtifactError, match="could run code"):
        load_model(path)
    assert not marker.exists(), "the payload ran"


def test_a_model_of_another_surface_or_feature_spec_is_refused(exported):
    path, *_ = exported
    with pytest.raises(ArtifactError, match="not home_row"):
        load_model(path, surface="home_row")
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["feature_spec_version"] = "0"
    (path / MANIFEST).write_text(to_json_text(manifest))
    with pytest.raises(ArtifactError, match="feature spec"):
        load_model(path)


def test_no_manifest_means_no_model(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ArtifactError, match="not a model artifact"):
        load_model(tmp_path / "m")


def test_the_encoder_keeps_its_field_order_through_json(rows):
    encoder = FeatureEncoder.fit(rows, CATEGORICAL_FIELDS, dense_columns("ad_break"))
    again = FeatureEncoder.from_json(json.loads(to_json_text(encoder.to_json())))
    assert list(again.categorical) == list(CATEGORICAL_FIELDS)
    for a, b in zip(encoder.transform(rows), again.transform(rows), strict=True):
        np.testing.assert_array_equal(a, b)


def test_exporting_the_same_model_twice_keeps_one_intact_version(exported, tmp_path):
    path, network, encoder = exported
    again = export_model(
        Lake(tmp_path), network, encoder, surface="ad_break", model="fm",
        metrics={"auc": 0.7}, training_window=("2026-01-06", "2026-01-08"),
    )  # fmt: skip
    assert again == path
    assert [p.name for p in path.parent.iterdir() if p.is_dir()] == [path.name]
    load_model(again)


def test_a_feature_that_barely_varied_in_training_cannot_explode_later(rows):
    """Day one of a new feature: one row in 500 is non-zero. Tomorrow everyone has values like
    that row's; standardised, they must stay within DENSE_CLIP, not thousands of sigmas."""
    from shared.encoding import DENSE_CLIP

    column = dense_columns("ad_break")[0]
    rows[column] = 0.0
    rows.loc[0, column] = 0.01
    encoder = FeatureEncoder.fit(rows, CATEGORICAL_FIELDS, dense_columns("ad_break"))
    tomorrow = rows.assign(**{column: 50.0})
    _, dense = encoder.transform(tomorrow)
    assert np.abs(dense).max() <= DENSE_CLIP
    assert dense[:, 0].min() == DENSE_CLIP  # clipped, not 1,000+ standard deviations
    _, today = encoder.transform(rows)
    unclipped = today[:, 1:].std()  # the other, ordinary columns keep their scale
    assert 0.5 < unclipped < 1.5
