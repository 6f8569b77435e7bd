"""Deployment: what the loop ships after each day, and the two processes it keeps running.

- `publish_entities`: the users, titles and ads tables, to the lake (for the batch job) and S3
  (for the service and the app);
- `publish_champions`: the registry's champions to S3, where the service and the batch job look
  (`latest.json` in S3 names the champion, whatever was exported last on disk);
- `run_batch_job`: infra_mle's Spark job scoring every user's home row for the next day;
- `Process`: a uvicorn server in its own process (infra_mle's service, this app), started, waited
  for and stopped gracefully;
- `reload_service`: the service's token-protected `/admin/reload`, which swaps in the newest model,
  snapshot and home rows at once, or refuses and keeps serving.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fullstack_mle.registry import Registry
from infra_mle.batch_score import RECS_TABLE
from shared.artifacts import models_root, upload_model
from shared.lake import Lake
from shared.s3 import upload_dir
from shared.schema import SURFACES
from shared.storage import read_manifest


def publish_entities(world: Path, lake: Lake, bucket: str) -> None:
    entities = lake.zone("raw") / "entities"
    shutil.copytree(world / "raw" / "entities", entities, dirs_exist_ok=True)
    upload_dir(entities, bucket, "raw/entities", create_bucket=True)


def publish_champions(lake: Lake, registry: Registry, bucket: str) -> dict[str, str]:
    """Upload each surface's champion; returns the versions now named in S3."""
    published = {}
    for surface in SURFACES:
        version = registry.champion(surface)
        if version is None:
            raise RuntimeError(f"no champion for {surface}: nothing can be deployed")
        upload_model(models_root(lake.zone("artifacts"), surface) / version, bucket)
        published[surface] = version
    return published


def run_batch_job(lake: Lake, day: dt.date, bucket: str) -> dict:
    """infra_mle's batch job for `day` as its own process (as a scheduler would run it), on the
    Spark Connect server when the environment names one; its output is uploaded to S3."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "infra_mle.batch_score", "--day", day.isoformat(),
               "--lake", str(lake.root), "--model", f"s3://{bucket}/artifacts/models/home_row",
               "--upload"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the batch job for {day} failed: {result.stderr.strip()[-1500:]}")
    manifest = read_manifest(lake.partition("artifacts", RECS_TABLE, day))
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "users": manifest["users"],
        "model_version": manifest["model_version"],
    }


class Process:
    """`python -m <module> --port <port>` under `env`, ready when `ready_path` answers 200."""

    def __init__(self, module: str, port: int, env: dict[str, str], ready_path: str):
        self.module, self.port, self.env, self.ready_path = module, port, env, ready_path
        self.process: subprocess.Popen | None = None
        self.log = Path(env.get("MARQUEE_LAKE_ROOT", ".")) / "logs" / f"{module}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> float:
        """Start and wait until ready; returns the seconds it took."""
        started = time.perf_counter()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        while time.perf_counter() - started < timeout_s:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"{self.module} exited: {' | '.join(tail)}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.module} was not ready in {timeout_s:.0f} s; see {self.log}")

    def stop(self) -> None:
        """SIGTERM: uvicorn finishes the requests in flight and runs the app's shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def reload_service(url: str, token: str) -> dict:
    response = httpx.post(
        f"{url}/admin/reload", headers={"Authorization": f"Bearer {token}"}, timeout=120
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"the service refused the reload ({response.status_code}): {response.text}"
        )
    return response.json()
