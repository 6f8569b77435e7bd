"""`make demo-data` stopped with SIGTERM while Airflow runs a day: moto, the Spark Connect JVM and
the `airflow dags test` process all stop with it."""

from __future__ import annotations

import pytest

from tests.sigterm import terminate_when_up

pytestmark = pytest.mark.slow


def test_sigterm_stops_every_process_the_data_demo_started(tmp_path):
    def airflow_running(lines: list[str]) -> bool:
        return all(any(word in line for line in lines) for word in ("moto", "java", "airflow"))

    status, _, left = terminate_when_up("data_mle.demo", tmp_path, airflow_running)
    assert status == 143, f"SIGTERM should end the demo as a normal exit (143), got {status}"
    assert left == [], f"still running 30 s after the demo exited: {left}"
