"""Fuzzing the published OpenAPI spec with schemathesis against a real uvicorn server: valid and
invalid data alike must get no server error, a documented status, a body that matches the
schema, and invalid data must be rejected."""

from __future__ import annotations

import threading
import time

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from infra_mle.app import create_app
from infra_mle.settings import ServiceSettings
from shared.s3 import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_url(artifact, snapshot_dir, ads_table, recs_root, tmp_path_factory):
    service = ServiceSettings(
        model_url=str(artifact.parent), snapshot_url=str(snapshot_dir.parent),
        ads_url=str(ads_table), recs_url=str(recs_root),
        cache_dir=tmp_path_factory.mktemp("cache"),
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


@pytest.fixture(scope="module")
def api_schema(live_url):
    return schemathesis.openapi.from_url(f"{live_url}/openapi.json")


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_the_api_conforms_to_its_spec_under_fuzzing(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/ad-break/rank", "/v1/home/{user_id}"}
    for operation in operations:
        takes_input = (
            any(True for _ in operation.iter_parameters())
            or operation.get_request_payload_content_types()
        )
        if mode is GenerationMode.NEGATIVE and not takes_input:
            continue  # nothing to send wrong to /healthz

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.call_and_validate()

        fuzz()
