"""A real moto server on loopback: a partition goes up and comes back byte for byte, the server
stops cleanly, and a busy port gets a clear error."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from shared.s3 import (
    MotoServer,
    PortInUseError,
    download_prefix,
    list_keys,
    parse_s3_url,
    upload_dir,
)
from shared.settings import get_settings
from shared.storage import atomic_partition

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


def test_a_partition_round_trips_through_the_server(moto: MotoServer, tmp_path: Path):
    part = tmp_path / "events" / "dt=2026-01-05"
    payload = os.urandom(300_000)
    with atomic_partition(part) as w:
        w.write_bytes("events.jsonl.gz", payload, rows=1)

    keys = upload_dir(tmp_path / "events", "marquee-roundtrip", "raw/events", create_bucket=True)
    assert keys[-1].endswith("_manifest.json"), "the manifest is uploaded last"
    assert sorted(list_keys("marquee-roundtrip", "raw/")) == sorted(keys)

    back = download_prefix("marquee-roundtrip", "raw/events/dt=2026-01-05", tmp_path / "back")
    assert (back / "events.jsonl.gz").read_bytes() == payload
    assert (back / "_manifest.json").read_bytes() == (part / "_manifest.json").read_bytes()


def test_the_environment_points_boto3_at_the_server(moto: MotoServer):
    assert os.environ["AWS_ENDPOINT_URL"] == moto.endpoint
    assert moto.endpoint.startswith("http://127.0.0.1:")
    assert moto.env()["AWS_ACCESS_KEY_ID"] == "testing"


def test_the_server_stops_cleanly_and_frees_its_port():
    server = MotoServer().start()
    port, log = server.port, server.log_path
    assert server.running
    server.stop()
    assert not server.running
    assert log.parent == get_settings().lake_root / "logs" and log.exists(), "its log is kept"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # would raise if the server still held it


def test_the_context_manager_restores_the_environment():
    before = os.environ.get("AWS_ENDPOINT_URL")
    with MotoServer() as server:
        assert os.environ["AWS_ENDPOINT_URL"] == server.endpoint
    assert os.environ.get("AWS_ENDPOINT_URL") == before


def test_a_busy_port_is_reported_and_port_zero_finds_another():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {busy}"):
            MotoServer(port=busy).start()
        server = MotoServer(port=0).start()
        try:
            assert server.port != busy and server.running
        finally:
            server.stop()


def test_s3_urls_are_parsed_and_bad_ones_refused():
    assert parse_s3_url("s3://marquee-lake/landing/x/") == ("marquee-lake", "landing/x")
    assert parse_s3_url("s3://marquee-lake") == ("marquee-lake", "")
    with pytest.raises(ValueError, match="not an S3 URL"):
        parse_s3_url("marquee-lake/landing")


def test_the_serve_command_runs_until_interrupted(tmp_path: Path):
    import signal
    import subprocess
    import sys

    import boto3

    from shared.settings import REPO_ROOT

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MARQUEE_BUCKET": "marquee-served"}
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.s3", "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        first = process.stdout.readline()
        assert first.startswith("moto S3 on http://127.0.0.1:"), first
        endpoint = first.split()[3]
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        assert "marquee-served" in [b["Name"] for b in client.list_buckets()["Buckets"]]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    assert "Traceback" not in process.stderr.read()
