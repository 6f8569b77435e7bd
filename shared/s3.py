"""S3 for the demos and tests: a moto server on 127.0.0.1, and boto3 helpers that work the same
against it and against real AWS.

The helpers never take an endpoint argument: boto3 reads `AWS_ENDPOINT_URL` from the environment.
`MotoServer` sets it (with dummy credentials) for this process and hands the same variables to
child processes (Spark jobs, Airflow tasks, the service); with the variable unset the same code
talks to AWS. moto checks no credentials or IAM policies and keeps every object in memory: when
the server stops, the bucket is gone.

    with MotoServer() as s3:                       # a free port, waits until it answers
        upload_dir(Path("lake/world/raw"), "marquee-lake", "raw", create_bucket=True)
        subprocess.run([...], env={**os.environ, **s3.env()})

    python -m shared.s3 serve [--port 5000]        # prints the exports, runs until Ctrl-C
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import urllib.error
import urllib.request
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from shared.lake import Lake
from shared.server import HOST, ChildServer, ServerStartError, serve_until_stopped
from shared.settings import environment, get_settings
from shared.storage import MANIFEST, verify_partition

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class PortInUseError(OSError):
    """The port asked for is taken by another process."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


class MotoServer(ChildServer):
    """A moto S3 server in a child process on 127.0.0.1. `port=0` picks a free port. Its request
    log goes to `<lake>/logs/moto.log`, not to the console.

    As a context manager it also points this process's boto3 at the server (and restores the
    environment on exit); `env()` gives the same variables for child processes."""

    name = "moto"
    grace_s = 10.0

    def __init__(self, port: int = 0, start_timeout: float = 30.0):
        super().__init__(start_timeout=start_timeout)
        self.requested_port = port
        self.port = port
        self._environment: AbstractContextManager[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables a child process needs to use this server through boto3."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": get_settings().aws_region,
            **DUMMY_CREDENTIALS,
        }

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)]

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=1):
                return self.running  # ours answered, not a stranger on a reused port
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def start(self) -> Self:
        if self.requested_port and not _port_is_free(self.requested_port):
            raise PortInUseError(
                f"port {self.requested_port} on {HOST} is in use; stop what holds it, "
                "or pass port 0 to pick a free one"
            )
        # With port 0, a port found free can be taken before moto binds it: try a few.
        for attempt in range(3):
            self.port = self.requested_port or free_port()
            # moto's Step Functions interpreter calls the services a state machine uses (SQS)
            # at localhost:$MOTO_PORT, 5000 unless told: tell it its own port.
            self.child_env["MOTO_PORT"] = str(self.port)
            try:
                return super().start()
            except ServerStartError:
                if self.requested_port or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def __enter__(self) -> Self:
        self.start()
        self._environment = environment(**self.env())
        self._environment.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._environment is not None:
            self._environment.__exit__(exc_type, exc, tb)
            self._environment = None
        self.stop()


def execute_state_machines(endpoint: str) -> None:
    """Make the moto server at `endpoint` run state machines. By default moto only records an
    execution (it stays RUNNING and no state runs); its interpreter runs it once this is set.
    Set it before creating the state machine: moto keeps those in a separate store. Real Step
    Functions needs nothing of the kind."""
    body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
    request = urllib.request.Request(f"{endpoint}/moto-api/config", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


def s3_client() -> Any:
    """A boto3 S3 client for whatever the environment points at (moto or AWS)."""
    import boto3

    return boto3.client(
        "s3", region_name=os.environ.get("AWS_DEFAULT_REGION") or get_settings().aws_region
    )


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    if not url.startswith("s3://") or len(url) <= len("s3://"):
        raise ValueError(f"{url!r} is not an S3 URL like s3://bucket/prefix")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    return bucket, prefix.strip("/")


def ensure_bucket(bucket: str) -> None:
    client = s3_client()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def list_keys(bucket: str, prefix: str = "") -> list[str]:
    paginator = s3_client().get_paginator("list_objects_v2")
    return [
        obj["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]


def upload_dir(local: Path, bucket: str, prefix: str, create_bucket: bool = False) -> list[str]:
    """Upload every file under `local` to `s3://bucket/prefix/<relative path>`. Manifests go
    last, so a reader that waits for `_manifest.json` never sees a partial partition."""
    if not local.is_dir():
        raise FileNotFoundError(f"{local} is not a folder")
    if create_bucket:
        ensure_bucket(bucket)
    client = s3_client()
    files = sorted(
        (p for p in local.rglob("*") if p.is_file() and not p.name.startswith(".")),
        key=lambda p: (p.name == MANIFEST, p.as_posix()),
    )
    keys = []
    for path in files:
        key = "/".join(part for part in (prefix, path.relative_to(local).as_posix()) if part)
        client.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def download_prefix(bucket: str, prefix: str, dest: Path) -> Path:
    """Download every object under `prefix` into `dest` (replacing it whole) and verify the
    checksums of any partition that has a manifest."""
    client = s3_client()
    keys = list_keys(bucket, prefix.rstrip("/") + "/")
    if not keys:
        raise FileNotFoundError(f"nothing under s3://{bucket}/{prefix}")
    tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        for key in keys:
            target = tmp / key[len(prefix.rstrip("/")) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))
        for manifest in tmp.rglob(MANIFEST):
            verify_partition(manifest.parent)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def publish_entities(world: Path, lake: Lake, bucket: str | None = None) -> Path:
    """The business publishes its entity tables (users, titles, ads): from a generated world into
    `lake.entities()`, where batch jobs read them, and with `bucket` to S3, where services do."""
    entities = lake.entities()
    shutil.copytree(Lake(world).entities(), entities, dirs_exist_ok=True)
    if bucket is not None:
        upload_dir(entities, bucket, lake.key(entities), create_bucket=True)
    return entities


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.s3", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a moto S3 server until interrupted")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--bucket", default=None, help="create this bucket (default MARQUEE_BUCKET)")
    args = parser.parse_args(argv)
    try:
        server = MotoServer(port=args.port).start()
    except (PortInUseError, ServerStartError) as error:
        print(f"python -m shared.s3: error: {error}", file=sys.stderr)
        return 2
    try:
        os.environ.update(server.env())
        bucket = args.bucket or get_settings().bucket
        ensure_bucket(bucket)
        print(f"moto S3 on {server.endpoint} (bucket {bucket}; log {server.log_path})")
        print("in another shell:")
        for name, value in server.env().items():
            print(f"  export {name}={value}")
        print("Ctrl-C stops it; its objects live in memory and go with it.", flush=True)
        return serve_until_stopped(server)
    except KeyboardInterrupt:  # Ctrl-C while the bucket was being made
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
