"""Request bodies the servers refuse before their handlers run: too large (413, unread),
not JSON (400), non-finite numbers or deep nesting (422); everything else passes unchanged."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from shared.http_guard import StrictJSONBodies

LIMIT = 1024


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    app.add_middleware(StrictJSONBodies, max_bytes=LIMIT, max_depth=8)

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"received": (await request.body()).decode()}

    @app.get("/ping")
    def ping() -> dict:
        return {"ok": True}

    with TestClient(app) as c:
        yield c


def _post(client, body: bytes, **headers):
    return client.post(
        "/echo", content=body, headers={"content-type": "application/json", **headers}
    )


@pytest.mark.parametrize(
    "body",
    [b'{"x": NaN}', b'{"x": Infinity}', b"[1, -Infinity]", b'{"a": {"b": [1e999]}}', b"NaN"],
)
def test_non_finite_numbers_anywhere_are_a_422_that_names_them(client, body):
    response = _post(client, body)
    assert response.status_code == 422
    assert "finite number" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"x": 1', b"\xff\xfe{}", b'{"x": "\xc3\x28"}', b"\x00"]
)
def test_a_body_that_is_not_json_is_a_400(client, body):
    response = _post(client, body)
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]


@pytest.mark.parametrize("depth", [9, 100_000])
def test_deep_nesting_is_a_422(client, depth):
    body = b"[" * depth + b"]" * depth
    response = _post(client, body) if len(body) <= LIMIT else None
    if response is None:  # too big to reach the parser at all
        assert _post(client, body).status_code == 413
    else:
        assert response.status_code == 422 and "deeper than 8" in response.text


def test_the_parser_itself_survives_nesting_deeper_than_its_recursion_limit():
    from shared.http_guard import BodyProblem, check_json_body

    with pytest.raises(BodyProblem, match="deeper than 8"):
        check_json_body(b"[" * 200_000 + b"]" * 200_000, max_depth=8)


def test_a_body_over_the_limit_is_a_413_whether_or_not_it_says_its_length(client):
    assert _post(client, b"[" + b"1," * LIMIT + b"1]").status_code == 413

    def chunks():  # no Content-Length: the body arrives chunked
        for _ in range(LIMIT):
            yield b"1111"

    response = client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and f"{LIMIT:,} bytes" in response.json()["detail"]


def test_a_valid_body_reaches_the_handler_byte_for_byte(client):
    body = '{"user_id": "u1", "values": [1.5, -2, 3e10], "name": "Zoë"}'.encode()
    response = _post(client, body)
    assert response.status_code == 200 and response.json()["received"] == body.decode()
    assert client.get("/ping").json() == {"ok": True}
