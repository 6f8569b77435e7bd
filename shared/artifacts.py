"""Model artifacts: how a trained model travels from the scientist to every service that uses it.

    <artifact>/
      weights.pt      the network's tensors (a state dict), read with torch.load(weights_only=True)
      model.json      the ClickNetworkSpec and the FeatureEncoder: plain JSON
      manifest.json   version, surface, model, feature spec version, metrics, training window,
                      and the sha256 and size of every other file

Loading trusts nothing: the manifest must list exactly the files present, each file must match
its sha256, the feature spec must be the one this code computes, and the weights are read by
torch's restricted unpickler, which refuses anything but tensors, so a file that would run code
on load is an error, not a model. A refused artifact raises `ArtifactError` with the reason.

    path = export_model(lake, network, encoder, surface="ad_break", model="fm", ...)
    model = load_model(path)                 # verified
    p_click = model.predict(rows)            # rows in the training-set layout
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.encoding import FeatureEncoder
from shared.features import FEATURE_SPEC_VERSION
from shared.lake import Lake, models_key
from shared.storage import (
    ChecksumError,
    atomic_write_json,
    sha256_file,
    to_json_text,
    verify_files,
)

ARTIFACT_FORMAT = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.pt"
MODEL_FILE = "model.json"
LATEST = "latest.json"  # in a surface's folder: which version was exported last


class ArtifactError(RuntimeError):
    """The artifact is incomplete, tampered with, unsafe or made for other features."""


def export_model(
    lake: Lake,
    network: Any,
    encoder: FeatureEncoder,
    *,
    surface: str,
    model: str,
    metrics: dict[str, float],
    training_window: tuple[str, str],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `network` (a `shared.click_network.ClickNetwork`) as a new artifact version under
    `lake.models(surface)/<version>/` and point `latest.json` at it. The folder is
    built aside and renamed into place; the version ends with a hash of the content, so the same
    model exported twice is the same version."""
    import torch

    root = lake.models(surface)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".export-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
        torch.save(state, tmp / WEIGHTS)
        # "ranker" is the network spec's old name, kept so artifacts already exported still load
        spec = {"ranker": network.spec.to_json(), "encoder": encoder.to_json()}
        (tmp / MODEL_FILE).write_text(to_json_text(spec))
        files = {
            name: {"sha256": sha256_file(tmp / name), "bytes": (tmp / name).stat().st_size}
            for name in (MODEL_FILE, WEIGHTS)
        }
        content = hashlib.sha256("".join(f["sha256"] for f in files.values()).encode())
        end = training_window[1].replace("-", "")
        version = f"{surface}-{model}-{end}-{content.hexdigest()[:8]}"
        manifest = {
            "format": ARTIFACT_FORMAT,
            "version": version,
            "surface": surface,
            "model": model,
            "feature_spec_version": FEATURE_SPEC_VERSION,
            "metrics": metrics,
            "training_window": {"start": training_window[0], "end": training_window[1]},
            "files": files,
            **(extra or {}),
        }
        (tmp / MANIFEST).write_text(to_json_text(manifest))
        dest = root / version
        if dest.exists() and _intact(dest):
            pass  # the same content was exported before: keep it, readers never see a gap
        else:
            shutil.rmtree(dest, ignore_errors=True)  # a damaged copy of this version
            os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    atomic_write_json(root / LATEST, {"version": version})
    return dest


def _intact(path: Path) -> bool:
    try:
        verify_artifact(path)
    except ArtifactError:
        return False
    return True


def latest_model(lake: Lake, surface: str) -> Path:
    """The folder of the last exported version of `surface`'s model."""
    pointer = lake.models(surface) / LATEST
    if not pointer.exists():
        raise FileNotFoundError(
            f"no model for {surface} under {lake.root}: export one with "
            f"`python -m model_mle.train --surface {surface} --export`"
        )
    return pointer.parent / json.loads(pointer.read_text())["version"]


def verify_artifact(path: Path) -> dict:
    """Check the artifact at `path` against its manifest; return the manifest."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no {MANIFEST}; not a model artifact") from None
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{path / MANIFEST} is not valid JSON: {e}") from None
    if manifest.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{path}: artifact format {manifest.get('format')!r}, expected 1")
    listed = set(manifest.get("files", {}))
    present = {p.name for p in path.iterdir()} - {MANIFEST}
    if listed != {MODEL_FILE, WEIGHTS} or present != listed:
        raise ArtifactError(
            f"{path}: the manifest lists {sorted(listed)}, the folder holds {sorted(present)}"
        )
    try:
        verify_files(path, manifest["files"])
    except ChecksumError as e:
        raise ArtifactError(f"a file was changed after export: {e}") from None
    if manifest.get("feature_spec_version") != FEATURE_SPEC_VERSION:
        raise ArtifactError(
            f"{path}: trained on feature spec {manifest.get('feature_spec_version')!r}, "
            f"this code computes spec {FEATURE_SPEC_VERSION!r}"
        )
    return manifest


@dataclass(frozen=True)
class LoadedModel:
    """A verified artifact in memory, ready to score rows in the training-set layout."""

    path: Path
    manifest: dict
    encoder: FeatureEncoder
    network: Any  # shared.click_network.ClickNetwork, in eval mode on the CPU

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def surface(self) -> str:
        return self.manifest["surface"]

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """The click probability of each row."""
        import torch

        categorical, dense = self.encoder.transform(rows)
        with torch.inference_mode():
            logits = self.network(torch.from_numpy(categorical), torch.from_numpy(dense))
        return torch.sigmoid(logits).numpy().astype(np.float64)


def load_model(path: Path, surface: str | None = None) -> LoadedModel:
    """Verify and load the artifact at `path`; with `surface`, refuse a model of another one."""
    import pickle

    import torch

    from shared.click_network import ClickNetwork, ClickNetworkSpec

    manifest = verify_artifact(path)
    if surface is not None and manifest["surface"] != surface:
        raise ArtifactError(f"{path} is a {manifest['surface']} model, not {surface}")
    try:
        state = torch.load(path / WEIGHTS, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ArtifactError(
            f"{path / WEIGHTS} holds more than tensors and was not loaded (it could run code): "
            f"{str(e).splitlines()[0]}"
        ) from None
    spec = json.loads((path / MODEL_FILE).read_text())
    network = ClickNetwork(ClickNetworkSpec.from_json(spec["ranker"]))  # the old key: see export
    try:
        network.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ArtifactError(f"{path}: the weights do not fit the spec: {e}") from None
    network.eval()
    return LoadedModel(path, manifest, FeatureEncoder.from_json(spec["encoder"]), network)


def upload_model(path: Path, bucket: str) -> str:
    """Publish a verified artifact to `s3://bucket/artifacts/models/<surface>/<version>/` and then
    point that surface's `latest.json` at it (last, so a reader never follows the pointer to a
    half-uploaded version). Returns the URL of the surface's model folder."""
    from shared.s3 import s3_client, upload_dir

    manifest = verify_artifact(path)
    prefix = models_key(manifest["surface"])
    upload_dir(path, bucket, f"{prefix}/{manifest['version']}", create_bucket=True)
    pointer = to_json_text({"version": manifest["version"]}).encode()
    s3_client().put_object(Bucket=bucket, Key=f"{prefix}/{LATEST}", Body=pointer)
    return f"s3://{bucket}/{prefix}"
