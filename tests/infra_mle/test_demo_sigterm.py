"""`make demo-infra` stopped with SIGTERM once its ranking service is up: moto and the service
stop with it."""

from __future__ import annotations

import pytest

from tests.infra_mle.conftest import make_artifact
from tests.sigterm import terminate_when_up

pytestmark = pytest.mark.slow


def test_sigterm_stops_every_process_the_infra_demo_started(tmp_path, train_rows):
    for surface in ("ad_break", "home_row"):  # the demo copies the models from this lake
        make_artifact(tmp_path, train_rows, seed=0, surface=surface)

    def service_running(lines: list[str]) -> bool:
        return any("moto" in line for line in lines) and any(
            "infra_mle.serve" in line for line in lines
        )

    status, _, left = terminate_when_up("infra_mle.demo", tmp_path, service_running)
    assert status == 143, f"SIGTERM should end the demo as a normal exit (143), got {status}"
    assert left == [], f"still running 30 s after the demo exited: {left}"
