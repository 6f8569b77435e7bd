"""What one day's pipeline run did, whichever orchestrator ran it (Airflow or Step Functions).

`DayRun` is the orchestrator's view (did it succeed, how long each step took, why it failed);
`day_report` adds what the run wrote (the reconciliation counts, every gate) as a `DayReport`:
what the demo prints, the full-stack loop records and the dashboard shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from data_mle.quality import QualityReport
from shared.lake import Lake
from shared.storage import read_manifest


@dataclass
class DayRun:
    day: dt.date
    ok: bool
    seconds: float
    tasks: dict[str, dict] = field(default_factory=dict)  # task id -> state, seconds
    error: str = ""


@dataclass(frozen=True)
class GateOutcome:
    value: float | None
    threshold: str
    passed: bool


@dataclass(frozen=True)
class DayReport:
    """What a day's DAG run did, read from its outputs: what the demo prints, the loop records
    and the dashboard shows. `input_rows` is None when the run stopped before the ingest."""

    ok: bool
    input_rows: int | None = None
    accepted: int | None = None
    quarantined: dict[str, int] = field(default_factory=dict)  # reason -> lines
    duplicates: int = 0
    late: int | None = None
    reconciled: bool = False  # input = accepted + quarantined + duplicates
    gates: dict[str, GateOutcome] = field(default_factory=dict)  # in the order they ran
    tasks: dict[str, dict] = field(default_factory=dict)  # task id -> state, seconds
    seconds: float = 0.0
    error: str = ""

    @classmethod
    def from_json(cls, raw: dict) -> DayReport:
        gates = {name: GateOutcome(**g) for name, g in raw.get("gates", {}).items()}
        return cls(**{**raw, "gates": gates})


def why_failed(lake: Lake, day: dt.date, tasks: dict[str, dict], output: str) -> str:
    """Why a run failed: the failed gates when the gates stopped it, else the failed task and
    the first line of the output that names an error."""
    failed = next((task for task, t in tasks.items() if t["state"] == "failed"), None)
    report = QualityReport.read(lake, day)
    if failed == "quality_gates" and report is not None:
        return "quality gates failed: " + "; ".join(g.message for g in report.failures())
    for marker in ("AirflowSensorTimeout", "ReconciliationError", "Error:", "Exception"):
        for line in output.splitlines():
            if marker in line:
                return f"{failed or 'the run'} failed: {line.strip()[:500]}"
    return f"{failed or 'the run'} failed"


def day_report(lake: Lake, run: DayRun) -> DayReport:
    """What a day's run did, from its outputs: the reconciliation counts in the bronze manifest,
    every gate with its value and threshold, and the time of each task."""
    bronze = lake.bronze_events(run.day)
    counts = read_manifest(bronze)["reconciliation"] if bronze.is_dir() else {}
    quality = QualityReport.read(lake, run.day)
    return DayReport(
        ok=run.ok,
        input_rows=counts.get("input_lines"),
        accepted=counts.get("accepted"),
        quarantined=counts.get("quarantined", {}),
        duplicates=sum(counts.get("duplicates", {}).values()),
        late=counts.get("late"),
        reconciled=counts.get("reconciled", False),
        gates={
            g.name: GateOutcome(g.value, g.threshold, g.passed)
            for g in (quality.gates if quality else [])
        },
        tasks=run.tasks,
        seconds=run.seconds,
        error=run.error,
    )
