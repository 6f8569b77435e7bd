"""The ranking service against a hostile client: non-finite numbers, bodies that are not JSON,
huge or deeply nested, dates sent as numbers, an admin token in the wrong scheme. Each gets a
4xx that says why; none a 500 or a reset connection."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from infra_mle.app import create_app
from tests.infra_mle.test_service import rank_body

RANK = "/v1/ad-break/rank"


@pytest.fixture
def client(service_settings):
    with TestClient(create_app(service_settings)) as c:
        yield c


def _raw(client, text: str):
    return client.post(RANK, content=text.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "field", ["user_id", "title_id", "time", "device", "candidate_ad_ids", "surprise"]
)
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_number_in_any_field_is_a_422(client, field, constant):
    body = json.dumps(rank_body(**{field: "PLACEHOLDER"})).replace('"PLACEHOLDER"', constant)
    response = _raw(client, body)
    assert response.status_code == 422 and "finite number" in response.text


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Infinity", 422),
        ("not json", 400),
        ('{"user_id": "u1",', 400),
        ("[" * 50 + "]" * 50, 422),
        (json.dumps(rank_body(user_id="ü" * 64)), 422),  # unicode ids: the pattern refuses them
        (json.dumps(rank_body(user_id="u\u0000")), 422),
        (json.dumps(rank_body(time=0)), 422),  # a date-time is a string, as the spec says
        (json.dumps(rank_body(time=1767816900.5)), 422),
    ],
)
def test_bodies_that_break_the_contract_get_a_4xx_not_a_500(client, text, status):
    response = _raw(client, text)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_a_huge_candidate_list_is_refused_before_it_is_parsed(client):
    body = rank_body(candidate_ad_ids=[f"ad{i:07d}" for i in range(100_000)])
    response = client.post(RANK, json=body)
    assert response.status_code == 413 and "at most 16,384 bytes" in response.json()["detail"]


def test_a_100_mb_body_is_refused_at_once_without_being_read(live_url):
    """Only the headers and a first chunk are sent: the 413 must come back without the server
    waiting for the 100 MB it was promised."""
    address = urlparse(live_url)
    started = time.perf_counter()
    with socket.create_connection((address.hostname, address.port), timeout=10) as s:
        s.sendall(
            f"POST {RANK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 * 2**20}\r\n\r\n".encode()
            + b"[" * 4096
        )
        answer = s.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("header", ["s3cret", "bearer s3cret", "Basic s3cret", "Bearer  s3cret"])
def test_the_admin_token_counts_only_in_the_bearer_scheme(service_settings, header):
    with TestClient(create_app(service_settings)) as c:
        assert c.post("/admin/reload", headers={"Authorization": header}).status_code == 401
