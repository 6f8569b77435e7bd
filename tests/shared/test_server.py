"""A server in a child process: ready when its path answers, stopped cleanly, and a clear error
when it dies on start-up."""

from __future__ import annotations

import os
import signal
import sys
import threading

import httpx
import pytest

from shared.s3 import free_port
from shared.server import ChildServer, ServerStartError, UvicornServer, serve_until_stopped

ECHO = "tests.shared.echo_server"  # a minimal `-m module --port N` server


def test_a_server_is_ready_when_its_path_answers_and_stops_on_sigterm(tmp_path):
    env = {**os.environ, "MARQUEE_LAKE_ROOT": str(tmp_path)}
    server = UvicornServer(ECHO, free_port(), env, "/", start_timeout=30).start()
    assert server.ready_s is not None and server.ready_s < 30
    assert httpx.get(server.url + "/").status_code == 200
    process = server.process
    server.stop()
    assert process is not None and process.poll() is not None and server.process is None
    assert (tmp_path / "logs" / f"{ECHO}.log").exists()


def test_a_server_that_exits_on_start_up_is_reported_with_its_last_lines(tmp_path):
    env = {**os.environ, "MARQUEE_LAKE_ROOT": str(tmp_path), "ECHO_FAIL": "1"}
    server = UvicornServer(ECHO, free_port(), env, "/", start_timeout=30)
    with pytest.raises(ServerStartError, match=r"echo_server exited: .*refusing to start"):
        server.start()


def test_a_readiness_check_that_raises_stops_the_child_it_was_waiting_for(tmp_path):
    class Unreadable(ChildServer):
        name = "unreadable"

        def command(self) -> list[str]:
            return [sys.executable, "-c", "import time; time.sleep(60)"]

        def is_ready(self) -> bool:  # a health answer that cannot be parsed, say
            raise ValueError("not JSON")

    server = Unreadable({**os.environ, "MARQUEE_LAKE_ROOT": str(tmp_path)}, start_timeout=30)
    with pytest.raises(ValueError, match="not JSON"):
        server.start()
    assert server.process is None, "the child is stopped, not left running"


class _Flag:
    """Stands in for a server: runs until `running` is set to False."""

    def __init__(self) -> None:
        self.running = True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serving_until_stopped_ends_cleanly_on_sigterm_or_ctrl_c(signum):
    server, before = _Flag(), signal.getsignal(signal.SIGTERM)
    threading.Timer(0.3, os.kill, (os.getpid(), signum)).start()
    assert serve_until_stopped(server, poll_s=0.05) == 0
    assert server.running, "the signal ended the wait, not the server"
    # SIGTERM's own handling is back: sigterm_exits restored it on the way out.
    assert signal.getsignal(signal.SIGTERM) == before


def test_serving_until_stopped_reports_a_server_that_stopped_by_itself():
    server = _Flag()
    threading.Timer(0.3, setattr, (server, "running", False)).start()
    assert serve_until_stopped(server, poll_s=0.05) == 1
