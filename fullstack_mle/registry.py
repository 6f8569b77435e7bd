"""The model registry: which version is the champion of each surface, and every promotion
decision with the metrics it was made on. One JSON file in the loop's lake, replaced atomically.

    registry = Registry(lake.root / "fullstack" / "registry.json")
    registry.champion("ad_break")           # "ad_break-fm-20260106-1a2b3c4d", or None
    registry.record(decision)               # appends it; moves the alias when it was promoted

This is the "shared manifest" way of registering models: the artifact itself (with its
manifest, `shared.artifacts`) is the model; the registry only names which one serves. MLflow's
model registry does the same job with an alias such as `champion`; this file keeps the loop free
of a tracking server and readable by the web app with one `json.load`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shared.storage import atomic_write_json


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


class Registry:
    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict:
        if not self.path.exists():
            return {"champion": {}, "decisions": []}
        return json.loads(self.path.read_text())

    def champion(self, surface: str) -> str | None:
        return self.load()["champion"].get(surface)

    def decisions(self) -> list[dict]:
        return self.load()["decisions"]

    def record(self, decision: Decision) -> None:
        state = self.load()
        state["decisions"].append(asdict(decision))
        if decision.promoted:
            state["champion"][decision.surface] = decision.candidate
        atomic_write_json(self.path, state)
