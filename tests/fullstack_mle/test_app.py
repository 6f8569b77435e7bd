"""The web app against a stand-in service: pages, the visit and click API, and its error states
(no service, a service without a model, no day open, no entities, bad events, no token)."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from fastapi.testclient import TestClient

from data_mle.runs import DayReport, GateOutcome
from fullstack_mle.app import create_app
from fullstack_mle.history import DayRecord, Reconciliation, write_history
from fullstack_mle.registry import Decision, Registry
from fullstack_mle.settings import AppSettings
from fullstack_mle.visit import click_event
from shared.lake import Lake
from shared.s3 import free_port, s3_client
from shared.settings import get_settings

TOKEN = "test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
DAY = "2026-01-07"


def fake_service(status: int = 200):
    """A stand-in for infra_mle's service: every ad scores 2%, the home row is the first 10
    titles; or every call answers `status`."""

    def handle(request: httpx.Request) -> httpx.Response:
        if status != 200:
            return httpx.Response(status, json={"detail": "starting: no model loaded"})
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"status": "ready", "detail": "ad_break-fm-test"})
        if request.url.path.startswith("/v1/home/"):
            titles = [{"title_id": f"t{i:04d}", "p_click": 0.05} for i in range(10)]
            return httpx.Response(
                200,
                json={
                    "user_id": "u",
                    "titles": titles,
                    "source": "batch",
                    "generated_for": DAY,
                    "published_at": None,
                },
            )
        body = json.loads(request.content)
        ads = [
            {"ad_id": a, "p_click": 0.02, "bid": 1.0, "ecpm": 20.0, "known": True}
            for a in body["candidate_ad_ids"]
        ]
        return httpx.Response(
            200,
            json={
                "ads": ads,
                "model_version": "ad_break-fm-test",
                "feature_snapshot": DAY,
                "user_known": True,
            },
        )

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://service")


def tracking_store(tmp_path) -> str:
    """A model registry of the test's own, where the loop's would be."""
    return f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


def make_client(tmp_path, service: httpx.Client | None = None, token: str | None = TOKEN):
    settings = AppSettings(
        service_url=f"http://127.0.0.1:{free_port()}",
        state_dir=tmp_path,
        tracking_uri=tracking_store(tmp_path),
        admin_token=token,
    )
    app = create_app(settings)
    if service is not None:
        app.state.app_state.client = service
    return TestClient(app)


def first_user(world) -> str:
    import pandas as pd

    return str(pd.read_parquet(Lake(world).entity("users"))["user_id"].iloc[0])


def test_with_nothing_running_the_pages_explain_instead_of_failing(tmp_path):
    with make_client(tmp_path) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "not reachable" in page.text  # the service
        assert "entity tables are not in" in page.text  # nothing published
        dashboard = client.get("/dashboard")
        assert dashboard.status_code == 200
        assert "no model has been promoted yet" in dashboard.text
        assert client.get("/api/status").json()["service"]["ready"] is False
    assert not (tmp_path / "mlflow").exists()  # reading no registry did not create one


def test_a_visit_without_a_service_is_a_503_that_says_how_to_start_it(tmp_path, entities):
    with make_client(tmp_path) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        response = client.post("/api/visits", json={"user_id": first_user(entities)})
        assert response.status_code == 503
        assert (
            "not reachable" in response.json()["detail"]
            and "make serve" in response.json()["detail"]
        )


def test_a_service_without_a_model_is_reported_as_not_ready(tmp_path, entities):
    with make_client(tmp_path, fake_service(503)) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        response = client.post("/api/visits", json={"user_id": first_user(entities)})
        assert response.status_code == 503 and "no model" in response.json()["detail"]
        assert "not ready" in client.get("/").text


def test_no_open_day_means_no_visit(tmp_path, entities):
    with make_client(tmp_path, fake_service()) as client:
        response = client.post("/api/visits", json={"user_id": first_user(entities)})
        assert (
            response.status_code == 503 and "no business day is open" in response.json()["detail"]
        )


def open_day_and_visit(client, world) -> dict:
    """Open DAY and make one visit of the world's first user at 20:00; its answer."""
    client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
    body = {"user_id": first_user(world), "device": "tv", "time": f"{DAY}T20:00:00Z"}
    return client.post("/api/visits", json=body).json()


def test_a_visit_logs_impressions_and_a_click_on_one_is_accepted(tmp_path, entities):
    with make_client(tmp_path, fake_service()) as client:
        visit = open_day_and_visit(client, entities)
        assert len(visit["home"]["titles"]) == 10 and len(visit["ad_break"]["ads"]) == 3
        assert len(visit["ad_break"]["candidates"]) == 20
        assert len(visit["impressions"]) == 13
        ad = visit["impressions"][10]
        click = {
            **ad,
            "event_id": "c" * 24,
            "event_type": "click",
            "impression_id": ad["event_id"],
            "event_time": f"{DAY}T20:10:05Z",
        }
        accepted = client.post("/api/events", json={"events": [click]})
        assert accepted.status_code == 200
        assert accepted.json() == {"accepted": 1, "resent": 0, "day": DAY}
        counts = client.get("/api/feedback").json()
        assert counts["by_type"] == {"impression": 13, "click": 1}
        assert counts["recent_clicks"][0]["item_id"] == ad["item_id"]


def test_no_forged_impression_or_click_reaches_s3(tmp_path, entities):
    """A client tries to invent training data; only what the app served, and one honest click,
    are shipped to S3 raw."""
    with make_client(tmp_path, fake_service()) as client:
        visit = open_day_and_visit(client, entities)
        ad = visit["impressions"][10]
        forged = {**ad, "event_id": "f" * 24, "item_id": "ad99999"}
        honest = click_event(ad)
        attempts = {
            "client_impression": [forged],
            "unknown_impression": [click_event(forged)],
            "wrong_user": [{**click_event(ad), "user_id": "u9999999"}],
            "wrong_item": [{**click_event(ad), "item_id": "ad99999"}],
        }
        for reason, events in attempts.items():
            refused = client.post("/api/events", json={"events": events})
            assert refused.status_code == 422, reason
            assert refused.json()["detail"]["problems"][0]["reason"] == reason
        assert client.post("/api/events", json={"events": [honest]}).json()["accepted"] == 1
        again = client.post("/api/events", json={"events": [honest]})  # a retry: stored once
        assert again.status_code == 200 and again.json()["resent"] == 1
        second = client.post("/api/events", json={"events": [click_event(ad)]})
        assert second.json()["detail"]["problems"][0]["reason"] == "duplicate_click"
        key = client.post("/api/admin/flush", headers=ADMIN).json()["key"]
    shipped = gzip.decompress(
        s3_client().get_object(Bucket=get_settings().bucket, Key=key)["Body"].read()
    )
    events = [json.loads(line) for line in shipped.decode().splitlines()]
    served = {i["event_id"] for i in visit["impressions"]}
    assert sorted(e["event_type"] for e in events) == ["click"] + ["impression"] * len(served)
    assert {e["event_id"] for e in events if e["event_type"] == "impression"} == served
    assert [e["event_id"] for e in events if e["event_type"] == "click"] == [honest["event_id"]]


def test_the_viewer_page_shows_the_home_row_and_the_ranked_ads(tmp_path, entities):
    with make_client(tmp_path, fake_service()) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        page = client.get("/", params={"user": first_user(entities)}).text
        assert "generated at" in page and "eCPM" in page and "ad_break-fm-test" in page
        assert page.count('class="item ad"') == 3 and page.count('class="item"') == 10


def test_bad_events_get_a_422_naming_each_problem(tmp_path, entities):
    with make_client(tmp_path, fake_service()) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        response = client.post("/api/events", json={"events": [{"event_id": 1}]})
        assert response.status_code == 422
        problem = response.json()["detail"]["problems"][0]
        assert problem["index"] == 0 and problem["reason"] in ("wrong_type", "missing_field")
        too_many = client.post("/api/events", json={"events": [{}] * 201})
        assert too_many.status_code == 413
        assert client.post("/api/events", json={"events": []}).status_code == 422
        assert client.get("/api/feedback").json()["events"] == 0  # nothing half-kept


def test_admin_endpoints_need_the_token(tmp_path):
    with make_client(tmp_path) as client:
        assert client.post("/api/admin/flush").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (
            client.post("/api/admin/open-day", json={"day": DAY}, headers=wrong).status_code == 401
        )
        assert (
            client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN).status_code == 200
        )
    with make_client(tmp_path, token=None) as client:
        assert client.post("/api/admin/flush", headers=ADMIN).status_code == 403


def test_the_dashboard_shows_the_history_and_the_registry_the_loop_wrote(tmp_path):
    day = DayRecord(
        day="2026-01-06",
        raw_files=["events-0.jsonl.gz", "events-1.jsonl.gz"],
        pipeline=DayReport(
            ok=True,
            input_rows=100,
            accepted=99,
            quarantined={"wrong_type": 1},
            gates={"drift": GateOutcome(value=0.01, threshold="<= 0.2", passed=True)},
            seconds=40.0,
        ),
        feedback=Reconciliation(events=50, clicks=4, reconciled=True, missing_clicks=0),
        visits={
            "visits": 5,
            "impressions": 65,
            "clicks": 4,
            "online_ctr": 0.0615,
            "expected_ctr": 0.05,
            "oracle_ctr": 0.2,
            "regret": 0.15,
            "latency_ms": {"p50": 3.1, "p95": 4.0, "p99": 5.0},
            "throughput_vps": 40.0,
        },
        alerts=[{"kind": "prediction drift", "message": "first ad slots got 1 click"}],
    )
    write_history(tmp_path / "history.json", [day])
    decision = Decision(
        day="2026-01-06",
        surface="ad_break",
        candidate="ad_break-fm-x",
        champion=None,
        promoted=True,
        reason="no champion yet",
        candidate_metrics={"logloss": 0.1, "auc": 0.6},
        champion_metrics=None,
    )
    Registry(tracking_store(tmp_path)).record(decision, tmp_path / "models" / "ad_break-fm-x")
    with make_client(tmp_path) as client:
        page = client.get("/dashboard").text
    assert "ad_break-fm-x" in page and "no model has been promoted" not in page
    assert "no champion yet" in page and "0.10000" in page  # the decision, from MLflow
    assert "6.15%" in page and "15.00 pts" in page and "prediction drift" in page
    assert page.count("<svg") == 2 and "all 4" in page


def test_a_visit_just_before_midnight_keeps_all_its_events_on_the_day(tmp_path, entities):
    with make_client(tmp_path, fake_service()) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        late = {"user_id": first_user(entities), "time": f"{DAY}T23:58:00Z"}
        visit = client.post("/api/visits", json=late)
        assert visit.status_code == 200, visit.text
        times = [i["event_time"] for i in visit.json()["impressions"]]
        assert all(t.startswith(DAY) for t in times)


def test_a_malformed_user_id_in_the_viewer_is_explained_not_a_500(tmp_path, entities):
    with make_client(tmp_path, fake_service()) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        page = client.get("/", params={"user": "<script>", "device": ""})
        assert page.status_code == 200 and "a user id is 1-64 letters" in page.text
        unknown = client.get("/", params={"user": "nobody", "device": ""})
        assert "no user &#39;nobody&#39; in the entity table" in unknown.text  # escaped


def test_the_apps_own_impressions_must_pass_the_event_contract(tmp_path, entities):
    """A service answering with an item id the event schema cannot carry (here: null) must not
    put an invalid impression into raw: the visit fails with the reason, and nothing is logged."""

    working = fake_service()

    def handle(request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith("/v1/home/"):
            return working.send(request)
        titles = [{"title_id": None, "p_click": 0.05}]
        body = {
            "user_id": "u",
            "titles": titles,
            "source": "batch",
            "generated_for": DAY,
            "published_at": None,
        }
        return httpx.Response(200, json=body)

    broken = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://service")
    with make_client(tmp_path, broken) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        response = client.post("/api/visits", json={"user_id": first_user(entities)})
        assert response.status_code == 503
        assert "cannot be logged as events" in response.json()["detail"]
        assert client.get("/api/feedback").json()["events"] == 0


@pytest.mark.parametrize(
    ("path", "text", "status"),
    [
        ("/api/events", '{"events": [{"event_id": NaN}]}', 422),
        ("/api/events", '{"events": [{"watch_time_s": Infinity}]}', 422),
        ("/api/visits", '{"user_id": NaN}', 422),
        ("/api/visits", '{"user_id": "u1", "time": 0}', 422),
        ("/api/visits", "not json", 400),
        ("/api/events", '{"events": [' + ('{"e": "' + "x" * 1000 + '"},') * 300 + "{}]}", 413),
    ],
)
def test_hostile_bodies_get_a_4xx_and_nothing_is_logged(tmp_path, path, text, status):
    with make_client(tmp_path, fake_service()) as client:
        client.post("/api/admin/open-day", json={"day": DAY}, headers=ADMIN)
        response = client.post(path, content=text, headers={"content-type": "application/json"})
        assert response.status_code == status, response.text
        assert client.get("/api/feedback").json()["events"] == 0


@pytest.mark.parametrize("header", [TOKEN, f"bearer {TOKEN}", f"Basic {TOKEN}", f"Bearer  {TOKEN}"])
def test_the_admin_token_counts_only_in_the_bearer_scheme(tmp_path, header):
    with make_client(tmp_path) as client:
        assert client.post("/api/admin/flush", headers={"Authorization": header}).status_code == 401
