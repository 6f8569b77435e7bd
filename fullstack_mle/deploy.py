"""Deployment: what the loop ships after each day, and the two processes it keeps running.

- `publish_champions`: the champions (the versions MLflow's alias `champion` points to,
  `registry.py`) to S3, where the service and the batch job look (`latest.json` in S3 names the
  champion, whatever was exported last on disk);
- `score_home_rows`: infra_mle's Spark job (`run_batch_job`) scoring every user's home row for
  the next day;
- `reload_service`: the service's token-protected `/admin/reload`, which swaps in the newest model,
  snapshot and home rows at once, or refuses and keeps serving.
"""

from __future__ import annotations

import datetime as dt

import httpx

from fullstack_mle.registry import Registry
from infra_mle.batch_score import BatchRun, run_batch_job
from shared.artifacts import upload_model
from shared.lake import Lake, models_key
from shared.schema import SURFACES


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


def score_home_rows(lake: Lake, day: dt.date, bucket: str) -> BatchRun:
    """infra_mle's batch job for `day` with the champion published in S3, its output uploaded
    for the service."""
    return run_batch_job(lake, day, f"s3://{bucket}/{models_key('home_row')}", upload=True)


def reload_service(url: str, token: str) -> dict:
    response = httpx.post(
        f"{url}/admin/reload", headers={"Authorization": f"Bearer {token}"}, timeout=120
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"the service refused the reload ({response.status_code}): {response.text}"
        )
    return response.json()
