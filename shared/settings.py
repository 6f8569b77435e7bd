"""Settings shared by every role, read from the environment with one prefix: `MARQUEE_`.

    MARQUEE_LAKE_ROOT=/data/lake python -m shared.dataset generate --preset tiny

The S3 endpoint is not a setting of ours: boto3 itself reads `AWS_ENDPOINT_URL`, so the same
code talks to the moto server in the demos and to real AWS when that variable is unset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Where things live and which seed makes the world. Every field is `MARQUEE_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="MARQUEE_", frozen=True)

    lake_root: Path = Field(
        default=REPO_ROOT / "lake",
        description="The local lake: raw, bronze, quarantine, silver, gold and artifacts zones.",
    )
    reports_dir: Path = Field(
        default=REPO_ROOT / "reports",
        description="Where demos and benchmarks write their figures (reports/<name>.json).",
    )
    bucket: str = Field(
        default="marquee-lake",
        description="The S3 bucket that raw events land in and outputs are published to.",
    )
    aws_region: str = Field(
        # moto accepts any region; us-east-1 is the one that needs no LocationConstraint.
        default="us-east-1",
        description="Region for boto3 clients.",
    )
    seed: int = Field(default=7, description="The one default seed for the Marquee world.")
    spark_master: str = Field(
        # All local cores; a cluster is one variable away (spark://host:7077, yarn, k8s://...).
        default="local[*]",
        description="Spark master for jobs run with plain python (spark-submit sets its own).",
    )
    spark_remote: str | None = Field(
        default=None,
        description="A Spark Connect URL (sc://host:port); when set, jobs connect instead.",
    )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once. Tests call `get_settings.cache_clear()` after
    changing the environment."""
    return Settings()


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables (and re-read the settings) for the duration; restore after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
