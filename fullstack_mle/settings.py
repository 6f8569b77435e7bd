"""The web app's settings, from the environment (`MARQUEE_APP_<NAME>`).

MARQUEE_APP_SERVICE_URL=http://127.0.0.1:8000 python -m fullstack_mle.serve
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from model_mle.tracking import tracking_uri
from shared.settings import get_settings


def default_state_dir() -> Path:
    return get_settings().lake_root / "fullstack"


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARQUEE_APP_", frozen=True)

    service_url: str = Field("http://127.0.0.1:8000", description="infra_mle's ranking service.")
    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="The loop's history (read) and the app's event spool (written).",
    )
    tracking_uri: str = Field(
        default_factory=tracking_uri,
        description="The MLflow store whose model registry the dashboard reads (the loop's; "
        "default: MLFLOW_TRACKING_URI, else <lake>/mlflow/mlflow.db).",
    )
    admin_token: SecretStr | None = Field(None, description="Bearer token of /api/admin/*.")
    host: str = "127.0.0.1"
    port: int = 8080
    candidates: int = Field(20, description="Eligible ads offered to the ranker per ad break.")
    pod_size: int = Field(3, description="Ads shown in one break.")
    service_timeout_s: float = Field(2.0, description="A service call slower than this fails.")
    max_events: int = Field(200, description="Events one POST /api/events may carry.")
    max_body_bytes: int = Field(
        # 200 events of about 600 bytes each: a full batch fits, a batch of thousands is
        # refused before it is read, let alone parsed.
        256 * 1024,
        description="Request bodies larger than this get 413 before they are read.",
    )

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def history_path(self) -> Path:
        return self.state_dir / "history.json"
