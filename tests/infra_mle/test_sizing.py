"""The memory report explains what a running service holds."""

from __future__ import annotations

import os

import psutil
import pytest

from infra_mle.sizing import PARTS, local_env, measure_memory
from shared.s3 import free_port
from shared.server import UvicornServer


@pytest.mark.slow
def test_the_memory_report_adds_up_to_the_running_services_rss(
    artifact, snapshot_dir, ads_table, recs_root, tmp_path
):
    env = local_env(artifact.parent, snapshot_dir.parent, ads_table, recs_root, tmp_path / "c")
    report = measure_memory(env)
    assert sum(report[p] for p in PARTS) == pytest.approx(report["total"], abs=0.5)
    assert report["model"] > 0 and report["features"] > 0
    with UvicornServer("infra_mle.serve", free_port(), {**os.environ, **env}, "/readyz") as s:
        rss_mib = psutil.Process(s.pid).memory_info().rss / 2**20
    assert report["total"] == pytest.approx(rss_mib, rel=0.10)
