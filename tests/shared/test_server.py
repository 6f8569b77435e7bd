"""A server in a child process: ready when its path answers, stopped cleanly, and a clear error
when it dies on start-up."""

from __future__ import annotations

import os

import httpx
import pytest

from shared.s3 import free_port
from shared.server import ServerStartError, UvicornServer

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
