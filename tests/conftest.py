"""Fixtures shared by every test: an isolated lake and settings, and one small faulty dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.faults import FaultConfig
from shared.generate import GenerateConfig, generate
from shared.settings import get_settings

FAULT_RATE = 0.01


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own lake and reports folder, never the repository's."""
    monkeypatch.setenv("MARQUEE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("MARQUEE_REPORTS_DIR", str(tmp_path / "reports"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def faulty_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Four tiny days with every fault kind at 1% on days 1 and 2 (0-based)."""
    out = tmp_path_factory.mktemp("faulty") / "world"
    config = GenerateConfig(
        preset="tiny", days=4, seed=11, faults=FaultConfig.parse(str(FAULT_RATE), "1,2")
    )
    return out, generate(config, out)


@pytest.fixture(scope="session")
def clean_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Three tiny days without faults."""
    out = tmp_path_factory.mktemp("clean") / "world"
    return out, generate(GenerateConfig(preset="tiny", days=3, seed=7), out)


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole run: starting one costs about 5 s."""
    from shared.spark import spark_session

    session = spark_session("tests")
    yield session
    session.stop()
