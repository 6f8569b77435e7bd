"""Write a Marquee dataset: entity tables, a raw event log by day, and the truth kept apart.

    out/
      _dataset.json                       how it was made, counts per day, oracle metrics
      _faults.json                        exact fault counts per partition (zeros when off)
      raw/entities/{users,titles,ads}.parquet
      raw/events/dt=YYYY-MM-DD/events-{0,1}.jsonl.gz  (+ _manifest.json)   what the business sends
      truth/impressions/dt=YYYY-MM-DD/truth.parquet   the true click probability of impressions
      truth/faults/dt=YYYY-MM-DD/ledger.parquet       which event each fault touched
      truth/latent/{users,titles,ads}.parquet         the hidden tastes

Everything is derived from (preset, seed, start, days, faults, drift): the same configuration
gives byte-identical files. The whole folder is built beside `out` and renamed into place, so a
failed run leaves the previous dataset as it was. The CLI is `python -m shared.dataset`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from tqdm import tqdm

from shared.faults import FAULT_KINDS, FaultConfig, inject_faults
from shared.lake import (
    BUSINESS_EVENT_FILES,
    ENTITIES,
    RAW_EVENTS,
    Lake,
    parse_partition_name,
    partition_name,
)
from shared.oracle import oracle_by_surface
from shared.presets import get_preset
from shared.raw_log import to_json_lines, write_business_events
from shared.schema import ADS, EVENTS, SURFACES, TITLES, TRUTH, USERS
from shared.settings import get_settings
from shared.simulate import simulate_day
from shared.storage import atomic_partition, atomic_write_json
from shared.world import Drift, World, build_world

DATASET_FILE = "_dataset.json"
FAULTS_FILE = "_faults.json"
DEFAULT_START = dt.date(2026, 1, 5)  # a Monday, so a week of data has one weekend


class DatasetError(ValueError):
    """The output folder cannot take a dataset (it holds other files, or exists without force)."""


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that decides a dataset's content."""

    preset: str = "small"
    days: int = 7
    seed: int = field(default_factory=lambda: get_settings().seed)  # MARQUEE_SEED, default 7
    start: dt.date = DEFAULT_START
    faults: FaultConfig | None = None
    drift: Drift | None = None

    def __post_init__(self) -> None:
        get_preset(self.preset)  # fails early, with the list of presets
        if self.days < 1:
            raise ValueError(f"days must be at least 1, not {self.days}")
        fault_days = self.faults.days if self.faults is not None else None
        if fault_days and not all(0 <= d < self.days for d in fault_days):
            raise ValueError(f"fault days {fault_days} must lie within 0..{self.days - 1}")
        if self.drift is not None and self.drift.day >= self.days:
            raise ValueError(f"drift day {self.drift.day} is after the last day ({self.days - 1})")

    def describe(self) -> dict:
        return {
            "preset": self.preset,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "faults": None if self.faults is None else dataclasses.asdict(self.faults),
            "drift": None if self.drift is None else dataclasses.asdict(self.drift),
        }


def check_output(out: Path, force: bool) -> None:
    """Refuse to overwrite anything by surprise: an existing non-empty folder is replaced only
    with `force`, and only if it is a dataset this module wrote."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DatasetError(f"{out} exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not (out / DATASET_FILE).exists():
        raise DatasetError(f"{out} holds other files; choose an empty or new folder")
    if not force:
        raise DatasetError(f"{out} already holds a dataset; pass --force to replace it")


def _entity_tables(world: World) -> dict[str, pa.Table]:
    return {
        "users": pa.Table.from_pandas(world.users, schema=USERS.arrow(), preserve_index=False),
        "titles": pa.Table.from_pandas(world.titles, schema=TITLES.arrow(), preserve_index=False),
        "ads": pa.Table.from_pandas(world.ads, schema=ADS.arrow(), preserve_index=False),
    }


def _latent_tables(world: World) -> dict[str, pa.Table]:
    def table(ids: np.ndarray, vectors: np.ndarray, bias: np.ndarray) -> pa.Table:
        dim = vectors.shape[1]
        flat = pa.array(np.ascontiguousarray(vectors).ravel())
        return pa.table(
            {"id": ids, "bias": bias, "vector": pa.FixedSizeListArray.from_arrays(flat, dim)}
        )

    titles, ads = world.items["home_row"], world.items["ad_break"]
    return {
        "users": table(world.user_ids, world.user_vectors, world.user_bias),
        "titles": table(titles.ids, titles.vectors, titles.bias),
        "ads": table(ads.ids, ads.vectors, ads.bias),
    }


def _day_summary(events: pa.Table, truth: pa.Table, lines: int, counts: dict) -> dict:
    kinds = pc.value_counts(events.column("event_type").cast(pa.string())).to_pylist()
    by_type = {k["values"]: k["counts"] for k in kinds}
    surface, clicked = truth.column("surface").cast(pa.string()), truth.column("clicked")

    def ctr(name: str) -> float:
        return pc.mean(pc.filter(clicked, pc.equal(surface, name)).cast(pa.float64())).as_py()

    return {
        "events": events.num_rows,
        "by_type": {t: by_type.get(t, 0) for t in ("impression", "click", "play")},
        "ctr": {name: ctr(name) for name in SURFACES},
        "lines": lines,
        "faults": counts,
    }


def _write_day(
    tmp: Path, world: World, config: GenerateConfig, day: int, late: pa.Array, late_ids: pa.Array
) -> tuple[dict, pa.Array, pa.Array, pa.Table]:
    """Simulate, corrupt and write one day. Returns its summary, the late lines it hands to the
    next day, and its truth. A function of its own so that a day's text (gigabytes at the large
    preset) is freed before the next day is made."""
    simulated = simulate_day(world, day)
    faulted = inject_faults(
        to_json_lines(simulated.events, EVENTS),
        simulated.events.column("event_id").combine_chunks(),
        config.faults,
        day,
        last_day=day == config.days - 1,
        late_in=late,
        late_in_ids=late_ids,
        rng=np.random.default_rng([config.seed, 2, day]),
    )
    name = partition_name(world.date_of(day))  # the truth mirrors the raw partitions
    with atomic_partition(tmp / RAW_EVENTS.key(world.date_of(day))) as part:
        write_business_events(part, faulted.lines)
    with atomic_partition(tmp / "truth" / "impressions" / name) as part:
        part.write_table("truth.parquet", simulated.truth.cast(TRUTH.arrow()))
    with atomic_partition(tmp / "truth" / "faults" / name) as part:
        part.write_table("ledger.parquet", faulted.ledger)
    summary = _day_summary(simulated.events, simulated.truth, len(faulted.lines), faulted.counts)
    summary["late_out"] = len(faulted.late)
    truth = simulated.truth.select(["surface", "p_click", "clicked"])
    return summary, faulted.late, faulted.late_ids, truth


def generate(config: GenerateConfig, out: Path, force: bool = False) -> dict:
    """Write the dataset `config` describes to `out` and return its summary (also written to
    `out/_dataset.json`)."""
    check_output(out, force)
    for leftover in out.parent.glob(f".{out.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from a run that was killed part-way
    preset = get_preset(config.preset)
    world = build_world(preset, config.seed, config.start, config.drift)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir()
        with atomic_partition(tmp / ENTITIES.key()) as part:
            for name, table in _entity_tables(world).items():
                part.write_table(f"{name}.parquet", table)
        with atomic_partition(tmp / "truth" / "latent") as part:
            for name, table in _latent_tables(world).items():
                part.write_table(f"{name}.parquet", table)

        days, fault_counts, truths = {}, {}, []
        late, late_ids = pa.array([], pa.large_string()), pa.array([], pa.string())
        quiet = preset.name in ("tiny", "small")
        for day in tqdm(range(config.days), desc="days", unit="day", disable=quiet):
            summary, late, late_ids, truth = _write_day(tmp, world, config, day, late, late_ids)
            days[world.date_of(day).isoformat()] = summary
            fault_counts[world.date_of(day).isoformat()] = {
                **summary["faults"],
                "late_out": summary["late_out"],
            }
            truths.append(truth)

        truth = pa.concat_tables(truths).to_pandas()
        totals = {k: sum(c[k] for c in fault_counts.values()) for k in (*FAULT_KINDS, "late_out")}
        atomic_write_json(tmp / FAULTS_FILE, {"days": fault_counts, "total": totals})
        result = {
            "config": config.describe(),
            "entities": {"users": preset.n_users, "titles": len(world.titles), "ads": preset.n_ads},
            "days": days,
            "events": sum(d["events"] for d in days.values()),
            "lines": sum(d["lines"] for d in days.values()),
            "oracle": oracle_by_surface(truth),
        }
        atomic_write_json(tmp / DATASET_FILE, result)
        _swap_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _swap_into_place(tmp: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def read_events(dataset: Path) -> pd.DataFrame:
    """Every raw event of a fault-free dataset as bronze rows (typed, with `ingest_date`): for
    experiments and services that need events without running data_mle's pipeline. A dataset
    with faults is refused: its raw log needs that pipeline's validation first."""
    described = json.loads((dataset / DATASET_FILE).read_text())
    if described["config"].get("faults"):
        raise ValueError(
            f"{dataset} was generated with faults; read data_mle's bronze tables or gold "
            "training sets instead of the raw log, or generate one without --faults"
        )
    tables = []
    options = pj.ParseOptions(explicit_schema=EVENTS.arrow(), unexpected_field_behavior="error")
    for part in sorted(Lake(dataset).path(RAW_EVENTS).glob("dt=*")):
        table = pa.concat_tables(
            pj.read_json(part / name, parse_options=options) for name in BUSINESS_EVENT_FILES
        )
        day = pa.scalar(parse_partition_name(part.name), pa.date32())
        tables.append(table.append_column("ingest_date", pa.repeat(day, table.num_rows)))
    events = pa.concat_tables(tables).to_pandas()
    events["ingest_date"] = pd.to_datetime(events["ingest_date"])  # one fast type for the dates
    return events
