"""The lake's layout: which zone holds what, and where a table's day partition lives.

    raw/         immutable landing: JSON lines as the business sent them
    bronze/      typed, de-duplicated Parquet
    quarantine/  rejected records, each with its reason and raw text
    silver/      features
    gold/        training sets and online snapshots
    artifacts/   models and batch outputs

Every partition is a folder `<zone>/<table>/dt=YYYY-MM-DD`, written whole by
`shared.storage.atomic_partition`. The root comes from `MARQUEE_LAKE_ROOT` (default `lake/` in the
repository); nothing is created until something is written.

    lake = Lake.from_settings()
    lake.partition("bronze", "events", date(2026, 1, 5))   # .../bronze/events/dt=2026-01-05
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from shared.settings import Settings, get_settings

ZONES = ("raw", "bronze", "quarantine", "silver", "gold", "artifacts")


def partition_name(day: dt.date) -> str:
    return f"dt={day.isoformat()}"


def parse_partition_name(name: str) -> dt.date:
    """The date of a `dt=YYYY-MM-DD` folder name; `ValueError` for anything else."""
    if not name.startswith("dt="):
        raise ValueError(f"{name!r} is not a partition name like dt=2026-01-05")
    return dt.date.fromisoformat(name[3:])


@dataclass(frozen=True)
class Lake:
    """Paths in one lake. Pure path arithmetic: no method creates anything."""

    root: Path

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Lake:
        return cls((settings or get_settings()).lake_root)

    def zone(self, zone: str) -> Path:
        if zone not in ZONES:
            raise ValueError(f"unknown lake zone {zone!r}; zones are {', '.join(ZONES)}")
        return self.root / zone

    def table(self, zone: str, table: str) -> Path:
        return self.zone(zone) / table

    def partition(self, zone: str, table: str, day: dt.date) -> Path:
        return self.table(zone, table) / partition_name(day)

    def days(self, zone: str, table: str) -> list[dt.date]:
        """The days a table has complete partitions for (hidden temporary folders excluded)."""
        folder = self.table(zone, table)
        if not folder.is_dir():
            return []
        return sorted(parse_partition_name(p.name) for p in folder.glob("dt=*") if p.is_dir())
