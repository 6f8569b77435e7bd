"""How much memory the long-running service holds, part by part: what an instance must be sized
for, measured by loading what the service loads, one part at a time, in a fresh process.

    MARQUEE_SERVE_MODEL_URL=... python -m infra_mle.sizing    # prints the report as JSON
    report = measure_memory(env)                               # the same, from Python

The parts: the base (the interpreter and the libraries the service imports, before it loads
anything), the model artifact, the feature snapshot (encoded by `OnlineScorer`), the ads' bids,
the home rows of the batch output, and the first ranking (torch's first forward pass allocates
its workspaces). Each is the growth of the process's resident memory while that part loads
(freed memory handed back after each, as the service does once it has loaded),
through the same `loaders` functions the service calls, so the parts add up to nearly all a
service holds once ready (96-97%: the rest is uvicorn's and its threads' own memory);
`tests/infra_mle/test_sizing.py` checks that against a running service.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
from pathlib import Path

import psutil

PARTS = ("base", "model", "features", "ads", "home_rows", "first_ranking")


def rss_mib() -> float:
    """This process's resident memory, MiB, after a full collection, with freed memory handed
    back (`loaders.release_freed_memory`, as the service does once loaded)."""
    from infra_mle.loaders import release_freed_memory

    gc.collect()
    release_freed_memory()
    return psutil.Process().memory_info().rss / 2**20


def memory_report() -> dict[str, float]:
    """Load what the service loads (settings from the environment), part by part; the MiB each
    part added, and the total."""
    import uvicorn  # noqa: F401  (with create_app: what the service imports, the base)

    from infra_mle.app import create_app  # noqa: F401
    from infra_mle.loaders import load_artifact, load_bids, load_features, load_home_rows
    from infra_mle.settings import ServiceSettings

    settings = ServiceSettings()
    before = rss_mib()
    parts = {"base": before}

    def took(name: str) -> None:
        nonlocal before
        now = rss_mib()
        parts[name] = now - before
        before = now

    model = load_artifact(settings)
    took("model")
    scorer, _ = load_features(model, settings)
    took("features")
    bids = load_bids(settings)
    took("ads")
    home = load_home_rows(settings)
    took("home_rows")
    scorer.score("warm-up", list(bids)[:20], "tv", 20)
    took("first_ranking")
    del home
    return {**{k: round(v, 1) for k, v in parts.items()}, "total": round(before, 1)}


def ranking_cpu_s_per_prediction(
    scorer, user_ids: list[str], devices: list[str], item_ids: list[str], hour: int = 20
) -> float:
    """CPU seconds per prediction of ranking all `item_ids` for each user in real time, one
    thread, as one request would: what a real-time home row would cost (the service only ranks
    ads, 20 at a time, so this is measured in process)."""
    import time

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scorer.score(user_ids[0], item_ids, devices[0], hour)  # warm-up
        started = time.process_time()
        for user, device in zip(user_ids, devices, strict=True):
            scorer.score(user, item_ids, device, hour)
        return (time.process_time() - started) / (len(user_ids) * len(item_ids))
    finally:
        torch.set_num_threads(threads)


def local_env(model: Path, snapshots: Path, ads: Path, recs: Path, cache: Path) -> dict[str, str]:
    """The service's settings for files in local folders (no S3): model folder (with
    latest.json), snapshot and batch-output tables (their dt= partitions), the ads table."""
    return {
        "MARQUEE_SERVE_MODEL_URL": str(model),
        "MARQUEE_SERVE_SNAPSHOT_URL": str(snapshots),
        "MARQUEE_SERVE_ADS_URL": str(ads),
        "MARQUEE_SERVE_RECS_URL": str(recs),
        "MARQUEE_SERVE_CACHE_DIR": str(cache),
    }


def measure_memory(env: dict[str, str], repeats: int = 5) -> dict[str, float]:
    """`memory_report` in `repeats` fresh interpreters with the service's environment `env`:
    the median of each part, their sum as `total`, and `total_range`, the lowest and highest
    total measured. Five, because about one load in five still lands 4-6 MiB off on a part
    (the small preset's features: 20.4 MiB, now and then 26); the outliers nearly vanish with
    OMP_NUM_THREADS=1, so torch's threads are the likely cause. The median of five outvotes two."""
    from shared.server import run_to_end

    reports = []
    for _ in range(repeats):
        result = run_to_end([sys.executable, "-m", "infra_mle.sizing"], {**os.environ, **env})
        if result.returncode != 0:
            raise RuntimeError(f"the memory report failed: {result.stderr[-2000:]}")
        reports.append(json.loads(result.stdout.strip().splitlines()[-1]))
    parts = {p: round(statistics.median(r[p] for r in reports), 1) for p in PARTS}
    totals = [r["total"] for r in reports]
    return {**parts, "total": round(sum(parts.values()), 1),
            "total_range": [min(totals), max(totals)]}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(memory_report()))
