"""What the operations dashboard shows, computed from what the loop writes: the record of each
business day (`history.json`, `history.py`) and the model registry in MLflow (`registry.py`)."""

from __future__ import annotations

from pathlib import Path

from fullstack_mle.history import read_history
from fullstack_mle.plots import line_chart
from fullstack_mle.registry import Registry
from shared.schema import SURFACES


def dashboard_context(history_path: Path, registry: Registry) -> dict:
    history = read_history(history_path)
    labels = [d.day[5:] for d in history]
    visits = [d.visits or {} for d in history]
    ctr_chart = line_chart(
        labels,
        {
            "online": [v.get("online_ctr") for v in visits],
            "served, expected": [v.get("expected_ctr") for v in visits],
            "oracle, expected": [v.get("oracle_ctr") for v in visits],
        },
        "click rate of the app's visitors",
        percent=True,
    )
    latency = [v.get("latency_ms") or {} for v in visits]
    latency_chart = line_chart(
        labels,
        {
            "p50": [lat.get("p50") for lat in latency],
            "p99": [lat.get("p99") for lat in latency],
        },
        "ad-break ranking latency, ms",
    )
    alerts = [{**alert, "day": d.day} for d in history for alert in d.alerts]
    champions = {s: v for s in SURFACES if (v := registry.champion(s)) is not None}
    return {
        "history": history,
        "decisions": list(reversed(registry.decisions())),  # the newest first
        "champions": champions,
        "ctr_chart": ctr_chart,
        "latency_chart": latency_chart,
        "alerts": alerts,
    }
