"""Fuzzing the published OpenAPI spec with schemathesis against a real uvicorn server: valid and
invalid data alike must get no server error, a documented status, a body that matches the
schema, and invalid data must be rejected."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.slow


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
