"""The import contract in pyproject.toml holds for the code, and really fails when broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT

PACKAGES = ("shared", "data_mle", "infra_mle", "model_mle", "fullstack_mle")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    """Empty copies of the five packages beside this repository's pyproject.toml."""
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    return tmp_path


def test_the_repository_keeps_the_contract():
    result = _lint(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "imports"),
    [
        ("data_mle/etl.py", "import model_mle"),  # one archetype using another's code
        ("infra_mle/serve.py", "import fullstack_mle"),
        ("shared/helpers.py", "import data_mle"),  # the common package depending on a role
    ],
)
def test_a_forbidden_import_breaks_the_contract(skeleton: Path, module: str, imports: str):
    assert _lint(skeleton).returncode == 0
    (skeleton / module).write_text(imports + "\n")
    result = _lint(skeleton)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def test_fullstack_may_import_every_archetype(skeleton: Path):
    (skeleton / "fullstack_mle/app.py").write_text(
        "import data_mle, infra_mle, model_mle, shared\n"
    )
    assert _lint(skeleton).returncode == 0
