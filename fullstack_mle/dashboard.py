"""What the operations dashboard shows, computed from the files the loop writes: the history of
each business day (`history.json`) and the model registry (`registry.json`)."""

from __future__ import annotations

import json
from pathlib import Path

from fullstack_mle.plots import line_chart


def read_json(path: Path, default: object) -> object:
    return json.loads(path.read_text()) if path.exists() else default


def dashboard_context(history_path: Path, registry_path: Path) -> dict:
    history: list[dict] = read_json(history_path, [])  # type: ignore[assignment]
    registry: dict = read_json(registry_path, {"champion": {}, "decisions": []})  # type: ignore[assignment]
    labels = [d["day"][5:] for d in history]
    visits = [d.get("visits") or {} for d in history]
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
    alerts = [{**alert, "day": d["day"]} for d in history for alert in d.get("alerts", [])]
    return {
        "history": history,
        "registry": registry,
        "decisions": list(reversed(registry["decisions"])),
        "champions": registry["champion"],
        "ctr_chart": ctr_chart,
        "latency_chart": latency_chart,
        "alerts": alerts,
    }
