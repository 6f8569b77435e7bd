"""The service's settings, from the environment (`MARQUEE_SERVE_<NAME>`), read once.

    MARQUEE_SERVE_ADMIN_TOKEN=... python -m infra_mle.serve

Every location is a URL: `s3://bucket/prefix` (what production uses; moto here) or a local
folder (for development and tests). Empty means "the default place in the bucket".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.lake import BATCH_RECS, ONLINE_SNAPSHOT, entity_key, models_key
from shared.settings import get_settings


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARQUEE_SERVE_", frozen=True)

    model_url: str = Field("", description="A model folder with latest.json, or one version.")
    snapshot_url: str = Field("", description="The online snapshots; the newest dt= is served.")
    recs_url: str = Field("", description="The batch home rows; the newest dt= is served.")
    ads_url: str = Field("", description="The ads entity table (Parquet), for the bids.")
    cache_dir: Path = Field(
        default_factory=lambda: get_settings().lake_root / "serving-cache",
        description="Where downloaded artifacts and snapshots are kept, verified.",
    )
    admin_token: SecretStr | None = Field(None, description="Bearer token of /admin/*; unset: off.")
    host: str = "127.0.0.1"  # loopback: put a proxy in front to expose it
    port: int = 8000
    max_in_flight: int = Field(
        # The adaptive limit's ceiling (and the fixed limit without it). 2 cores sustain far
        # fewer at once; the limiter finds how many from the latency (admission.py).
        64,
        description="Rankings served at once at most; more get 503 at once.",
    )
    adaptive_admission: bool = Field(
        True, description="Learn the limit from latency; off: a fixed max_in_flight."
    )
    refusal_pace_ms: float = Field(
        # Long enough that a client retrying in a loop cannot spend the CPU on refusals, short
        # against the 1 s Retry-After a well-behaved client waits anyway (admission.py).
        200.0,
        description="A connection refused again within this time waits this long for its 503.",
    )
    max_body_bytes: int = Field(
        # A ranking request with the most candidates (100 ids of up to 64 characters) is under
        # 8 KiB; the limit leaves room for that and refuses anything larger unread.
        16 * 1024,
        description="Request bodies larger than this get 413 before they are read.",
    )
    inference_timeout_s: float = Field(0.5, description="A ranking slower than this gets 503.")
    batching: bool = Field(True, description="Score concurrent requests in one forward pass.")
    max_batch: int = Field(32, description="Requests per forward pass, at most.")
    bench_endpoints: bool = Field(
        False, description="Add POST /bench/noop, the benchmark's do-nothing peer endpoint."
    )
    max_wait_ms: float = Field(
        # Waiting costs every request this much at low load; 1 ms is small against a 10 ms goal.
        1.0,
        description="How long the first request of a batch waits for others.",
    )

    def url(self, name: str) -> str:
        """The configured location `name` (model, snapshot, recs, ads) or its default."""
        value = getattr(self, f"{name}_url")
        if value:
            return value
        bucket = get_settings().bucket
        return {
            "model": f"s3://{bucket}/{models_key('ad_break')}",
            "snapshot": f"s3://{bucket}/{ONLINE_SNAPSHOT.key()}",
            "recs": f"s3://{bucket}/{BATCH_RECS.key()}",
            "ads": f"s3://{bucket}/{entity_key('ads')}",
        }[name]


@lru_cache
def get_service_settings() -> ServiceSettings:
    return ServiceSettings()
