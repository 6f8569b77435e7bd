"""Settings come from MARQUEE_* variables; the lake's paths follow them; importing the package
has no side effects."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.lake import Lake, parse_partition_name, partition_name
from shared.settings import REPO_ROOT, get_settings


def test_the_lake_root_comes_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MARQUEE_LAKE_ROOT", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    lake = Lake.from_settings()
    day = dt.date(2026, 1, 5)
    assert (
        lake.partition("bronze", "events", day)
        == tmp_path / "elsewhere/bronze/events/dt=2026-01-05"
    )
    assert not (tmp_path / "elsewhere").exists(), "paths are computed, not created"


def test_unknown_zones_and_partition_names_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown lake zone 'platinum'"):
        Lake(tmp_path).zone("platinum")
    with pytest.raises(ValueError, match="not a partition name"):
        parse_partition_name("2026-01-05")
    assert parse_partition_name(partition_name(dt.date(2026, 2, 1))) == dt.date(2026, 2, 1)


def test_days_lists_complete_partitions_only(tmp_path: Path):
    lake = Lake(tmp_path)
    for name in ("dt=2026-01-06", "dt=2026-01-05", ".dt=2026-01-07.tmp-1234"):
        (lake.table("silver", "features") / name).mkdir(parents=True)
    assert lake.days("silver", "features") == [dt.date(2026, 1, 5), dt.date(2026, 1, 6)]


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
