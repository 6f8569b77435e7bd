"""The lake's layout: which zone holds what, and one name for every table that crosses roles.

    raw/         immutable landing: JSON lines as the business sent them, and the entity tables
    bronze/      typed, de-duplicated Parquet, and each day's quality report
    quarantine/  rejected records, each with its reason and raw text
    silver/      features
    gold/        training sets and online snapshots
    artifacts/   models and batch outputs

Every partition is a folder `<zone>/<table>/dt=YYYY-MM-DD`, written whole by
`shared.storage.atomic_partition`. The root comes from `MARQUEE_LAKE_ROOT` (default `lake/` in the
repository); nothing is created until something is written. The bucket in S3 mirrors the lake, so
a table's `key` is both its path under the root and its prefix in the bucket.

A table one role writes and another reads has one name here; a reader jumps to it to find both:

    lake = Lake.from_settings()
    lake.online_snapshot(day)          # data_mle writes it, infra_mle serves it
    lake.training_set("ad_break", day) # data_mle writes it, model_mle and fullstack_mle train on it
    ONLINE_SNAPSHOT.key(day)           # "gold/online_snapshot/dt=2026-01-05", also its S3 prefix
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from shared.settings import Settings, get_settings

ZONES = ("raw", "bronze", "quarantine", "silver", "gold", "artifacts")
ENTITY_TABLES = ("users", "titles", "ads")  # raw/entities/<name>.parquet


def partition_name(day: dt.date) -> str:
    return f"dt={day.isoformat()}"


def parse_partition_name(name: str) -> dt.date:
    """The date of a `dt=YYYY-MM-DD` folder name; `ValueError` for anything else."""
    if not name.startswith("dt="):
        raise ValueError(f"{name!r} is not a partition name like dt=2026-01-05")
    return dt.date.fromisoformat(name[3:])


@dataclass(frozen=True)
class Table:
    """A table of the lake: a zone and a name. Its day partitions are `<zone>/<name>/dt=D`."""

    zone: str
    name: str

    def __post_init__(self) -> None:
        if self.zone not in ZONES:
            raise ValueError(f"unknown lake zone {self.zone!r}; zones are {', '.join(ZONES)}")

    def key(self, day: dt.date | None = None) -> str:
        """The table's (or one day's) path relative to the lake root: its S3 prefix too."""
        key = f"{self.zone}/{self.name}"
        return key if day is None else f"{key}/{partition_name(day)}"


# The hand-offs between roles, each named once. Writers and readers use these names.
RAW_EVENTS = Table("raw", "events")  # the business (and the app's feedback) -> data_mle
ENTITIES = Table("raw", "entities")  # users, titles, ads: the business -> every role (no days)
BRONZE_EVENTS = Table("bronze", "events")  # data_mle's typed events -> the loop's reconciliation
QUARANTINE_EVENTS = Table("quarantine", "events")  # rejected lines, with the reason
QUALITY_REPORTS = Table("bronze", "events_quality")  # the day's profile and gates (quality.json)
ONLINE_SNAPSHOT = Table("gold", "online_snapshot")  # data_mle -> infra_mle's service and batch job
BATCH_RECS = Table("artifacts", "batch_recs")  # infra_mle's batch job -> the service, the app
MODELS = Table("artifacts", "models")  # model_mle's artifacts, one folder per surface
QUALITY_FILE = "quality.json"  # in a QUALITY_REPORTS partition
# In a RAW_EVENTS partition, what the business sent: a file from each of its two event
# collectors, the day's lines shared between them in arrival order (`shared.raw_log`). A gzip
# file cannot be split, so Spark reads each in one task: the number of files is the number of
# cores a day's ingest can use.
BUSINESS_EVENT_FILES = ("events-0.jsonl.gz", "events-1.jsonl.gz")


def features_table(name: str) -> Table:
    """A feature table of `shared.features.FEATURE_TABLES` (silver)."""
    return Table("silver", name)


def training_set_table(surface: str) -> Table:
    """The labelled training set of a surface (gold): data_mle -> model_mle, fullstack_mle."""
    return Table("gold", f"training/{surface}")


def models_key(surface: str) -> str:
    """The folder of a surface's model versions, relative to the root (and in the bucket)."""
    return f"{MODELS.key()}/{surface}"


def entity_key(name: str) -> str:
    """One entity table's file, relative to the root (and in the bucket)."""
    if name not in ENTITY_TABLES:
        raise ValueError(f"unknown entity table {name!r}; they are {', '.join(ENTITY_TABLES)}")
    return f"{ENTITIES.key()}/{name}.parquet"


@dataclass(frozen=True)
class Lake:
    """Paths in one lake. Pure path arithmetic: no method creates anything."""

    root: Path

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Lake:
        return cls((settings or get_settings()).lake_root)

    # -- the generic layout ---------------------------------------------------------------
    def zone(self, zone: str) -> Path:
        if zone not in ZONES:
            raise ValueError(f"unknown lake zone {zone!r}; zones are {', '.join(ZONES)}")
        return self.root / zone

    def path(self, table: Table, day: dt.date | None = None) -> Path:
        """The folder of `table`, or of its partition of `day`."""
        return self.root / table.key(day)

    def days(self, table: Table) -> list[dt.date]:
        """The days `table` has complete partitions for (hidden temporary folders excluded)."""
        folder = self.path(table)
        if not folder.is_dir():
            return []
        return sorted(parse_partition_name(p.name) for p in folder.glob("dt=*") if p.is_dir())

    def key(self, path: Path) -> str:
        """A path inside the lake as its S3 key: the bucket mirrors the lake."""
        return path.relative_to(self.root).as_posix()

    # -- the hand-offs, by name -----------------------------------------------------------
    def raw_events(self, day: dt.date) -> Path:
        return self.path(RAW_EVENTS, day)

    def entities(self) -> Path:
        return self.path(ENTITIES)

    def entity(self, name: str) -> Path:
        """`users`, `titles` or `ads`: one Parquet file of the entity tables."""
        return self.root / entity_key(name)

    def bronze_events(self, day: dt.date) -> Path:
        return self.path(BRONZE_EVENTS, day)

    def quarantine_events(self, day: dt.date) -> Path:
        return self.path(QUARANTINE_EVENTS, day)

    def quality_report(self, day: dt.date) -> Path:
        """The day's `quality.json`: its profile and every gate's result."""
        return self.path(QUALITY_REPORTS, day) / QUALITY_FILE

    def features(self, name: str, day: dt.date) -> Path:
        return self.path(features_table(name), day)

    def training_set(self, surface: str, day: dt.date) -> Path:
        return self.path(training_set_table(surface), day)

    def online_snapshot(self, day: dt.date) -> Path:
        return self.path(ONLINE_SNAPSHOT, day)

    def batch_recs(self, day: dt.date) -> Path:
        return self.path(BATCH_RECS, day)

    def models(self, surface: str) -> Path:
        """The folder of `surface`'s model versions (and its `latest.json`)."""
        return self.root / models_key(surface)
