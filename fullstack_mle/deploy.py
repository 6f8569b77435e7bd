"""Deployment: what the loop ships after each day, and the two processes it keeps running.

- `publish_champions`: the champions (the versions MLflow's alias `champion` points to,
  `registry.py`) to S3, where the service and the batch job look (`latest.json` in S3 names the
  champion, whatever was exported last on disk);
- `run_batch_job`: infra_mle's Spark job scoring every user's home row for the next day;
- `reload_service`: the service's token-protected `/admin/reload`, which swaps in the newest model,
  snapshot and home rows at once, or refuses and keeps serving.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

import httpx

from fullstack_mle.registry import Registry
from shared.artifacts import upload_model
from shared.lake import Lake, models_key
from shared.schema import SURFACES
from shared.server import run_to_end
from shared.storage import read_manifest


def publish_champions(lake: Lake, registry: Registry, bucket: str) -> dict[str, str]:
    """Upload each surface's champion (the registry's alias); returns the versions now named
    in S3."""
    published = {}
    for surface in SURFACES:
        version = registry.champion(surface)
        if version is None:
            raise RuntimeError(f"no champion for {surface}: nothing can be deployed")
        upload_model(lake.models(surface) / version, bucket)
        published[surface] = version
    return published


def run_batch_job(lake: Lake, day: dt.date, bucket: str) -> dict:
    """infra_mle's batch job for `day` as its own process (as a scheduler would run it), on the
    Spark Connect server when the environment names one; its output is uploaded to S3."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "infra_mle.batch_score", "--day", day.isoformat(),
               "--lake", str(lake.root), "--model", f"s3://{bucket}/{models_key('home_row')}",
               "--upload"]  # fmt: skip
    result = run_to_end(command, dict(os.environ))
    if result.returncode != 0:
        raise RuntimeError(f"the batch job for {day} failed: {result.stderr.strip()[-1500:]}")
    manifest = read_manifest(lake.batch_recs(day))
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "users": manifest["users"],
        "model_version": manifest["model_version"],
    }


def reload_service(url: str, token: str) -> dict:
    response = httpx.post(
        f"{url}/admin/reload", headers={"Authorization": f"Bearer {token}"}, timeout=120
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"the service refused the reload ({response.status_code}): {response.text}"
        )
    return response.json()
