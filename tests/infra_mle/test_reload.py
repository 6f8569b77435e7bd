"""Model reload: only with the admin token, atomic under concurrent requests, and a corrupt or
mismatched artifact is refused while the old model keeps serving."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient

from infra_mle.app import create_app
from shared.artifacts import LATEST, WEIGHTS, load_model
from tests.infra_mle.conftest import make_artifact
from tests.infra_mle.test_service import rank_body

AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def models_dir(tmp_path, train_rows):
    """A model folder of our own with two versions; latest.json points at the first."""
    root = tmp_path / "artifacts"
    first = make_artifact(root, train_rows, seed=0)
    second = make_artifact(root, train_rows, seed=1)
    (first.parent / LATEST).write_text(json.dumps({"version": first.name}))
    return first.parent, first, second


def _point(folder, version):
    (folder / LATEST).write_text(json.dumps({"version": version}))


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret!"}]
)
def test_reload_needs_the_admin_token(service_settings, headers):
    with TestClient(create_app(service_settings)) as c:
        r = c.post("/admin/reload", headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"


def test_without_a_configured_token_admin_is_closed(service_settings):
    settings = service_settings.model_copy(update={"admin_token": None})
    with TestClient(create_app(settings)) as c:
        assert c.post("/admin/reload", headers=AUTH).status_code == 401


def test_reload_under_concurrent_requests_loses_none_and_switches_once(
    service_settings, models_dir
):
    folder, first, second = models_dir
    settings = service_settings.model_copy(update={"model_url": str(folder)})
    with TestClient(create_app(settings)) as c:
        old, new = load_model(first).version, load_model(second).version
        seen: list[tuple[int, str | None]] = []
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                r = c.post("/v1/ad-break/rank", json=rank_body())
                seen.append((r.status_code, r.json().get("model_version")))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        _point(folder, second.name)
        reload = c.post("/admin/reload", headers=AUTH)
        after = c.post("/v1/ad-break/rank", json=rank_body()).json()["model_version"]
        stop.set()
        for t in threads:
            t.join()
    assert reload.status_code == 200
    assert reload.json() == {"previous_version": old, "model_version": new, "changed": True}
    assert all(code == 200 for code, _ in seen), "no request may fail during a reload"
    assert {v for _, v in seen} <= {old, new}
    assert after == new


def test_a_tampered_artifact_is_refused_and_the_old_model_keeps_serving(
    service_settings, models_dir
):
    folder, first, second = models_dir
    settings = service_settings.model_copy(update={"model_url": str(folder)})
    with TestClient(create_app(settings)) as c:
        old = load_model(first).version
        data = bytearray((second / WEIGHTS).read_bytes())
        data[-20] ^= 0x01
        (second / WEIGHTS).write_bytes(bytes(data))
        _point(folder, second.name)
        r = c.post("/admin/reload", headers=AUTH)
        assert r.status_code == 409 and "changed after export" in r.text and old in r.text
        ranked = c.post("/v1/ad-break/rank", json=rank_body())
        assert ranked.status_code == 200 and ranked.json()["model_version"] == old
        assert c.get("/readyz").json()["detail"] == old


def test_a_model_of_another_surface_is_refused(service_settings, models_dir):
    folder, _, second = models_dir
    manifest = json.loads((second / "manifest.json").read_text())
    manifest["surface"] = "home_row"
    (second / "manifest.json").write_text(json.dumps(manifest))
    settings = service_settings.model_copy(update={"model_url": str(folder)})
    with TestClient(create_app(settings)) as c:
        _point(folder, second.name)
        r = c.post("/admin/reload", headers=AUTH)
        assert r.status_code == 409 and "not ad_break" in r.text
