"""The loop's record of each business day, and `history.json`, the list of them.

    write_history(path, loop.history)       # the loop, after each day
    history = read_history(path)            # the dashboard and the demo: list[DayRecord]

The file is the records as `dataclasses.asdict` writes them, so the web app (another process)
and anyone with `jq` can read it; `read_history` turns it back into the dataclasses (pydantic
validates the nested records on the way in).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter

from data_mle.runs import DayReport
from fullstack_mle.registry import Decision
from shared.storage import atomic_write_json


@dataclass(frozen=True)
class Reconciliation:
    """The app's feedback of a day against the day's bronze table: every click sent, once."""

    events: int  # events the app shipped to S3 raw for the day
    clicks: int = 0  # clicks the visitors sent
    reconciled: bool | None = None  # None: no visitors that day, nothing to look up
    missing_clicks: int = 0


@dataclass(frozen=True)
class Deployment:
    """What the loop shipped after a day: the champions, tomorrow's home rows, the service."""

    serving_day: str
    champions: dict[str, str]  # surface -> artifact version published to S3
    batch_seconds: float
    batch_users: int  # users whose home row the batch job scored
    service: str  # how the service took it: "started in 2.3 s", "reloaded (new model)"
    seconds: float


@dataclass(frozen=True)
class DayRecord:
    """One business day through the loop (`loop.Loop.run_day`)."""

    day: str
    raw_files: list[str]  # the day's raw partition in S3: the business's file and the app's
    pipeline: DayReport  # what data_mle's pipeline run did (`data_mle.runs.day_report`)
    visits: dict | None  # the visitors' summary (`VisitorsReport.summary`); None: no model yet
    feedback: Reconciliation
    models: dict[str, Decision] = field(default_factory=dict)  # per surface; empty if ETL failed
    promoted: bool = False  # any model promoted
    deploy: Deployment | None = None  # None when the ETL failed: yesterday's models keep serving
    alerts: list[dict] = field(default_factory=list)  # `monitoring.day_alerts`
    seconds: float = 0.0


@cache
def _history() -> TypeAdapter[list[DayRecord]]:
    return TypeAdapter(list[DayRecord])


def read_history(path: Path) -> list[DayRecord]:
    """The days in `path`, oldest first; none when the loop has not written it yet."""
    if not path.exists():
        return []
    return _history().validate_json(path.read_bytes())


def write_history(path: Path, history: list[DayRecord]) -> None:
    atomic_write_json(path, [asdict(record) for record in history])
