"""The ranking service through its HTTP API, with the lifespan running: readiness, ranking and
its fallbacks, validation, the home row, metrics, overload and timeouts."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from infra_mle.app import create_app
from shared.artifacts import load_model

NOW = "2026-01-07T20:15:00Z"


def rank_body(**changes):
    body = {
        "user_id": "u0000001", "device": "tv", "time": NOW, "title_id": "t000001",
        "candidate_ad_ids": ["ad00001", "ad00002", "ad00003", "ad00004"],
    }  # fmt: skip
    return {**body, **changes}


@pytest.fixture
def client(service_settings):
    with TestClient(create_app(service_settings)) as c:
        yield c


def test_readyz_is_503_before_loading_and_200_after(service_settings):
    app = create_app(service_settings)
    bare = TestClient(app)  # no lifespan: nothing loaded
    assert bare.get("/healthz").status_code == 200
    r = bare.get("/readyz")
    assert r.status_code == 503 and r.json()["detail"] == "loading"
    assert bare.post("/v1/ad-break/rank", json=rank_body()).status_code == 503
    with TestClient(app) as c:
        assert c.get("/readyz").json()["status"] == "ready"


def test_ranking_orders_by_ecpm_with_the_reference_scores(client, artifact, ads_table):
    import pandas as pd

    r = client.post("/v1/ad-break/rank", json=rank_body())
    assert r.status_code == 200
    body = r.json()
    model = load_model(artifact)
    assert body["model_version"] == model.version and body["user_known"]
    ecpm = [a["ecpm"] for a in body["ads"]]
    assert ecpm == sorted(ecpm, reverse=True)
    bids = pd.read_parquet(ads_table).set_index("ad_id")["bid"]
    for ad in body["ads"]:
        assert ad["bid"] == pytest.approx(bids[ad["ad_id"]])
        assert ad["ecpm"] == pytest.approx(ad["p_click"] * ad["bid"] * 1000)
    service = client.app.state.service
    expected = service.model.scorer.score("u0000001", [a["ad_id"] for a in body["ads"]], "tv", 20)
    np.testing.assert_allclose([a["p_click"] for a in body["ads"]], expected, rtol=1e-6)


def test_unknown_users_and_ads_get_the_documented_fallback(client):
    r = client.post("/v1/ad-break/rank", json=rank_body(
        user_id="brand-new", candidate_ad_ids=["ad00001", "not-an-ad-we-sell"]))  # fmt: skip
    assert r.status_code == 200
    body = r.json()
    assert not body["user_known"]
    assert [a["ad_id"] for a in body["ads"]][-1] == "not-an-ad-we-sell"
    assert body["ads"][-1] == {**body["ads"][-1], "known": False, "bid": 0.0, "ecpm": 0.0}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"candidate_ad_ids": []}, "at least 1"),
        ({"candidate_ad_ids": [f"ad{i}" for i in range(101)]}, "at most 100"),
        ({"candidate_ad_ids": ["ad00001", "ad00001"]}, "must not repeat"),
        ({"device": "toaster"}, "device"),
        ({"time": "2026-01-07T20:15:00"}, "timezone"),
        ({"user_id": "x" * 65}, "at most 64"),
        ({"surprise": 1}, "Extra inputs"),
        ({"candidate_ad_ids": ["../../etc/passwd"]}, "should match pattern"),
    ],
)
def test_invalid_requests_get_422_with_the_reason(client, changes, message):
    r = client.post("/v1/ad-break/rank", json=rank_body(**changes))
    assert r.status_code == 422
    assert message in r.text


def test_home_rows_come_from_the_batch_with_their_day_and_popular_for_others(client, serving_day):
    r = client.get("/v1/home/u0000002").json()
    assert r["source"] == "batch" and [t["title_id"] for t in r["titles"]] == ["t000002", "t000003"]
    assert r["generated_for"] == serving_day.isoformat() and r["published_at"]
    other = client.get("/v1/home/someone-else").json()
    assert other["source"] == "popular" and other["titles"][0]["title_id"] == "t000009"
    assert client.get("/v1/home/bad%20id").status_code == 422


def test_metrics_show_the_model_version_and_latencies(client, artifact):
    client.post("/v1/ad-break/rank", json=rank_body())
    text = client.get("/metrics").text
    version = load_model(artifact).version
    assert f'marquee_model_info{{version="{version}"}} 1.0' in text
    assert 'marquee_request_seconds_count{route="/v1/ad-break/rank"} 1.0' in text
    assert "marquee_feature_age_seconds" in text


def _slow(service, seconds, monkeypatch):
    scorer = service.model.scorer
    real = scorer.score_arrays

    def slow(categorical, dense):
        time.sleep(seconds)
        return real(categorical, dense)

    monkeypatch.setattr(scorer, "score_arrays", slow)


def test_overload_gets_a_fast_503_instead_of_a_queue(service_settings, monkeypatch):
    settings = service_settings.model_copy(
        update={"max_in_flight": 2, "batching": False, "refusal_pace_ms": 0.0}
    )
    with TestClient(create_app(settings)) as c:
        _slow(c.app.state.service, 0.3, monkeypatch)

        def call(_):
            started = time.perf_counter()
            r = c.post("/v1/ad-break/rank", json=rank_body())
            return r.status_code, time.perf_counter() - started

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(call, range(8)))
    refused = [t for code, t in results if code == 503]
    codes = sorted(code for code, _ in results)
    assert sum(code == 200 for code, _ in results) >= 2, (
        f"8 requests at once with a limit of 2: at least 2 should be answered 200, got {codes}"
    )
    assert refused, (
        f"more requests than max_in_flight (2) must be refused with 503, got {codes}: "
        "admission refuses, it does not queue"
    )
    assert max(refused) < 0.2, (
        f"a refusal must not wait for the slow (0.3 s) requests, the slowest took "
        f"{max(refused):.2f} s"
    )


def test_inference_has_a_timeout(service_settings, monkeypatch):
    settings = service_settings.model_copy(update={"inference_timeout_s": 0.05})
    with TestClient(create_app(settings)) as c:
        _slow(c.app.state.service, 0.3, monkeypatch)
        r = c.post("/v1/ad-break/rank", json=rank_body())
        assert r.status_code == 503 and "timed out" in r.text
        assert 'marquee_rejected_total{reason="timeout"} 1.0' in c.get("/metrics").text


def test_micro_batching_serves_concurrent_requests_in_fewer_passes(service_settings):
    # A fixed limit of 64: all 16 at once are admitted, whatever the limiter has learned.
    settings = service_settings.model_copy(
        update={"max_wait_ms": 20.0, "adaptive_admission": False}
    )
    with TestClient(create_app(settings)) as c:
        service = c.app.state.service
        before = service.batcher.batches
        with ThreadPoolExecutor(16) as pool:
            codes = list(
                pool.map(
                    lambda _: c.post("/v1/ad-break/rank", json=rank_body()).status_code, range(32)
                )
            )
        assert codes == [200] * 32
        assert service.batcher.batches - before < 32


def test_the_time_zone_of_the_request_decides_the_hour(client):
    a = client.post("/v1/ad-break/rank", json=rank_body(time="2026-01-07T20:15:00+00:00")).json()
    b = client.post("/v1/ad-break/rank", json=rank_body(time="2026-01-07T21:15:00+01:00")).json()
    assert a["ads"] == b["ads"]
    assert dt.datetime.fromisoformat("2026-01-07T21:15:00+01:00").astimezone(dt.UTC).hour == 20
