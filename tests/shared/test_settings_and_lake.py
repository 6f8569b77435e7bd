"""Settings come from MARQUEE_* variables; the lake's paths follow them; importing the package
has no side effects."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.lake import (
    BATCH_RECS,
    BRONZE_EVENTS,
    ENTITIES,
    ONLINE_SNAPSHOT,
    QUALITY_REPORTS,
    RAW_EVENTS,
    Lake,
    Table,
    entity_key,
    features_table,
    models_key,
    parse_partition_name,
    partition_name,
    training_set_table,
)
from shared.settings import REPO_ROOT, get_settings


def test_the_lake_root_comes_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MARQUEE_LAKE_ROOT", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    lake = Lake.from_settings()
    day = dt.date(2026, 1, 5)
    assert lake.bronze_events(day) == tmp_path / "elsewhere/bronze/events/dt=2026-01-05"
    assert not (tmp_path / "elsewhere").exists(), "paths are computed, not created"


def test_unknown_zones_and_partition_names_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown lake zone 'platinum'"):
        Lake(tmp_path).zone("platinum")
    with pytest.raises(ValueError, match="not a partition name"):
        parse_partition_name("2026-01-05")
    assert parse_partition_name(partition_name(dt.date(2026, 2, 1))) == dt.date(2026, 2, 1)


def test_days_lists_complete_partitions_only(tmp_path: Path):
    lake = Lake(tmp_path)
    table = features_table("user_features")
    for name in ("dt=2026-01-06", "dt=2026-01-05", ".dt=2026-01-07.tmp-1234"):
        (lake.path(table) / name).mkdir(parents=True)
    assert lake.days(table) == [dt.date(2026, 1, 5), dt.date(2026, 1, 6)]
    assert lake.days(ONLINE_SNAPSHOT) == []  # a table nobody wrote yet


def test_every_hand_off_lives_at_its_key_in_the_lake_and_in_the_bucket(tmp_path: Path):
    lake, day = Lake(tmp_path), dt.date(2026, 1, 5)
    named = {
        lake.raw_events(day): RAW_EVENTS.key(day),
        lake.bronze_events(day): BRONZE_EVENTS.key(day),
        lake.online_snapshot(day): ONLINE_SNAPSHOT.key(day),
        lake.batch_recs(day): BATCH_RECS.key(day),
        lake.training_set("home_row", day): training_set_table("home_row").key(day),
        lake.entities(): ENTITIES.key(),
        lake.entity("ads"): entity_key("ads"),
        lake.models("ad_break"): models_key("ad_break"),
    }
    for path, key in named.items():
        assert lake.key(path) == key
    assert lake.online_snapshot(day) == tmp_path / "gold/online_snapshot/dt=2026-01-05"
    assert lake.quality_report(day).parent == lake.path(QUALITY_REPORTS, day)


def test_unknown_tables_are_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown entity table 'viewers'; they are users"):
        entity_key("viewers")
    with pytest.raises(ValueError, match="unknown lake zone 'platinum'"):
        Table("platinum", "events")


def test_importing_the_package_creates_nothing_and_starts_nothing(tmp_path: Path):
    code = (
        "import importlib, pkgutil, sys, threading, shared\n"
        "for m in pkgutil.iter_modules(shared.__path__):\n"
        "    importlib.import_module('shared.' + m.name)\n"
        "assert 'pyspark' not in sys.modules, 'pyspark imported at module level'\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    env = {**os.environ, "MARQUEE_LAKE_ROOT": str(tmp_path / "lake"), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_one_default_seed_comes_from_the_settings(monkeypatch):
    from shared.generate import GenerateConfig

    monkeypatch.setenv("MARQUEE_SEED", "11")
    get_settings.cache_clear()
    assert GenerateConfig(preset="tiny").seed == 11
    assert GenerateConfig(preset="tiny", seed=3).seed == 3
