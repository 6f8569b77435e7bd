"""The model registry: MLflow's, in the same store as model_mle's tracked runs. Every candidate the
gate judged becomes a version of its surface's registered model (`marquee-ad_break`,
`marquee-home_row`), tagged with the decision; the alias `champion` names the version that serves.

    registry = Registry(tracking_uri())          # model_mle.tracking: <lake>/mlflow/mlflow.db
    registry.record(decision, artifact_dir)      # a new version; the alias moves if promoted
    registry.champion("ad_break")                # "ad_break-fm-20260106-1a2b3c4d", or None
    registry.decisions()                         # every Decision, in the order recorded

The artifact (a folder with its manifest, `shared.artifacts`) stays the model that is served: a
version's `source` is that folder, and its tag `artifact_version` the folder's name, which is
what `champion()` returns. The registry adds which one serves, and every promotion decision with
the metrics it was made on, browsable with `make mlflow-ui`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from model_mle import tracking

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

MODEL_PREFIX = "marquee-"
ALIAS = "champion"


@dataclass(frozen=True)
class Decision:
    """One run of the gate for one surface."""

    day: str  # the business day whose data trained and judged the candidate
    surface: str
    candidate: str  # artifact version
    champion: str | None  # the version serving when the gate ran
    promoted: bool
    reason: str
    candidate_metrics: dict = field(default_factory=dict)  # on the gate rows
    champion_metrics: dict | None = None  # the champion on the same rows
    gate_rows: int = 0
    training_rows: int = 0
    training_window: tuple[str, str] | None = None
    train_seconds: float = 0.0


def model_name(surface: str) -> str:
    """The registered model of a surface."""
    return f"{MODEL_PREFIX}{surface}"


def decision_tags(d: Decision) -> dict[str, str]:
    """A decision as model-version tags (MLflow tags are strings): one tag per field, and one
    per metric (`candidate.logloss`, `champion.logloss`), so the UI can show and sort them."""
    tags = {
        "day": d.day,
        "artifact_version": d.candidate,
        "promoted": str(d.promoted).lower(),
        "reason": d.reason,
        "gate_rows": str(d.gate_rows),
        "training_rows": str(d.training_rows),
        "train_seconds": str(d.train_seconds),
    }
    if d.champion is not None:
        tags["compared_with"] = d.champion
    if d.training_window is not None:
        tags["training_window"] = "/".join(d.training_window)  # an ISO 8601 interval
    for prefix, metrics in (("candidate", d.candidate_metrics), ("champion", d.champion_metrics)):
        tags.update({f"{prefix}.{k}": repr(float(v)) for k, v in (metrics or {}).items()})
    return tags


def decision_from(version: ModelVersion) -> Decision:
    """The decision a model version was registered with (`decision_tags` read back)."""
    tags = version.tags

    def metrics(prefix: str) -> dict[str, float]:
        return {k.removeprefix(prefix): float(v) for k, v in tags.items() if k.startswith(prefix)}

    window = tags.get("training_window")
    return Decision(
        day=tags["day"],
        surface=version.name.removeprefix(MODEL_PREFIX),
        candidate=tags["artifact_version"],
        champion=tags.get("compared_with"),
        promoted=tags["promoted"] == "true",
        reason=tags["reason"],
        candidate_metrics=metrics("candidate."),
        champion_metrics=metrics("champion.") or None,
        gate_rows=int(tags["gate_rows"]),
        training_rows=int(tags["training_rows"]),
        training_window=tuple(window.split("/")) if window else None,  # type: ignore[arg-type]
        train_seconds=float(tags["train_seconds"]),
    )


class Registry:
    """The promotion decisions and champions in the MLflow store at `uri` (a tracking URI:
    `model_mle.tracking.tracking_uri()` gives the lake's). Nothing is opened until first used."""

    def __init__(self, uri: str):
        self.uri = uri
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = tracking.client(self.uri)
        return self._client

    def _not_created(self) -> bool:
        """A local store that does not exist yet holds nothing; opening it would create it."""
        path = self.uri.removeprefix("sqlite:///")
        return path != self.uri and not Path(path).exists()

    def record(self, decision: Decision, artifact: Path) -> int:
        """Register `artifact` (the candidate's folder) as a new version of its surface's model,
        tagged with `decision`; if it was promoted, the alias `champion` moves to it. Returns the
        version number."""
        from mlflow.exceptions import MlflowException

        if artifact.name != decision.candidate:
            raise ValueError(f"{artifact} is not the artifact of candidate {decision.candidate}")
        name = model_name(decision.surface)
        try:
            self.client.create_registered_model(
                name,
                description=f"Marquee's {decision.surface} model: a version per candidate the "
                f"promotion gate judged (fullstack_mle); the alias `{ALIAS}` serves.",
            )
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = self.client.create_model_version(
            name,
            source=artifact.resolve().as_uri(),
            tags=decision_tags(decision),
            description=decision.reason,
        )
        if decision.promoted:
            self.client.set_registered_model_alias(name, ALIAS, version.version)
        return int(version.version)

    def champion(self, surface: str) -> str | None:
        """The artifact version the alias `champion` of `surface` points to; None before the
        first promotion."""
        if self._not_created():
            return None
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(model_name(surface))
        except MlflowException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        version = model.aliases.get(ALIAS)
        if version is None:
            return None
        return self.client.get_model_version(model.name, version).tags["artifact_version"]

    def decisions(self) -> list[Decision]:
        """Every decision of every surface, in the order recorded (registration time; a surface's
        version numbers break ties within it, and the surface's name ties between them)."""
        if self._not_created():
            return []
        versions: list[ModelVersion] = []
        token = None
        while True:
            page = self.client.search_model_versions(
                f"name LIKE '{MODEL_PREFIX}%'", page_token=token
            )
            versions.extend(page)
            token = page.token
            if not token:
                break
        versions.sort(key=lambda v: (v.creation_timestamp, v.name, int(v.version)))
        return [decision_from(v) for v in versions]
