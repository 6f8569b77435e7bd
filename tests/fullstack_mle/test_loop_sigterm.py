"""`make demo` (the loop) stopped with SIGTERM once its servers are up: moto, the Spark Connect
JVM and the web app all stop with it."""

from __future__ import annotations

import pytest

from tests.sigterm import terminate_when_up

pytestmark = pytest.mark.slow


def test_sigterm_stops_every_process_the_loop_started(tmp_path):
    def servers_up(lines: list[str]) -> bool:
        wanted = ("moto", "java", "fullstack_mle.serve")
        return all(any(word in line for line in lines) for word in wanted)

    status, _, left = terminate_when_up("fullstack_mle.demo", tmp_path, servers_up)
    assert status == 143, f"SIGTERM should end the loop as a normal exit (143), got {status}"
    assert left == [], f"still running 30 s after the loop exited: {left}"
