"""Graceful shutdown: when uvicorn is told to stop (what SIGTERM does), a ranking already in
flight still gets its answer, and the service reports itself as draining."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn

from infra_mle.app import create_app
from shared.s3 import free_port
from tests.infra_mle.test_service import rank_body

pytestmark = pytest.mark.slow


def test_a_request_in_flight_finishes_when_the_server_stops(service_settings):
    settings = service_settings.model_copy(update={"batching": False, "inference_timeout_s": 5})
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                       timeout_graceful_shutdown=10)
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    service = app.state.service
    scorer = service.model.scorer
    real = scorer.score_arrays

    def slow(categorical, dense):
        time.sleep(1.0)
        return real(categorical, dense)

    scorer.score_arrays = slow  # the next ranking takes a second
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"http://127.0.0.1:{port}/v1/ad-break/rank", json=rank_body(), timeout=10)
        )
    )
    request.start()
    time.sleep(0.3)  # the ranking is now in flight
    server.should_exit = True  # uvicorn's SIGTERM handler does exactly this
    request.join(timeout=10)
    thread.join(timeout=15)
    assert answers and answers[0].status_code == 200, "the request in flight was answered"
    assert service.draining and not service.ready
