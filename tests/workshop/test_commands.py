"""What an attendee does, in a fresh clone: start an exercise, see a failure that teaches, solve
it, see the figure, go back to main; and what CI does: prove an exercise, and catch a broken one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workshop.branches import TOOL_IDENTITY, copy_uncommitted
from workshop.manifest import ROOT

pytestmark = pytest.mark.slow


def _git(clone: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=clone, check=True, text=True, capture_output=True,
        env={**os.environ, **TOOL_IDENTITY},
    ).stdout.strip()  # fmt: skip


def _workshop(clone: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workshop", *args],
        cwd=clone,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(clone)},
        timeout=300,
    )


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of this repository on `main`, with the working tree's uncommitted edits committed."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(clone)], check=True)
    _git(clone, "checkout", "-q", "-B", "main")
    copy_uncommitted(ROOT, clone)
    if _git(clone, "status", "--porcelain"):
        _git(clone, "add", "-A")
        _git(clone, "commit", "-q", "-m", "uncommitted work")
    return clone


def test_an_attendee_starts_fails_with_a_hint_solves_and_goes_back(clone: Path):
    started = _workshop(clone, "start", "data-1")
    assert started.returncode == 0, started.stderr
    assert _git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "exercise/data-1"
    assert _git(clone, "status", "--porcelain") == ""  # the starter is committed
    assert (
        'raise NotImplementedError("data-1: see exercises/data-1/README.md")'
        in (clone / "data_mle/quality.py").read_text()
    )

    again = _workshop(clone, "start", "data-1")
    assert again.returncode == 2 and "already exists" in again.stderr

    failing = _workshop(clone, "check", "data-1")
    assert failing.returncode == 1
    assert "data-1: see exercises/data-1/README.md" in failing.stdout
    assert "hint: Clip both shares" in failing.stdout
    assert "0 of 4 checks pass" in failing.stdout

    quality = clone / "data_mle/quality.py"
    wrong = quality.read_text().replace(
        '    raise NotImplementedError("data-1: see exercises/data-1/README.md")',
        "    return sum(abs(actual.get(k, 0.0) - v) for k, v in expected.items())",
    )
    quality.write_text(wrong)
    half = _workshop(clone, "check", "data-1")
    assert half.returncode == 1
    assert "psi(expected=50/50, actual=80/20) should be 0.4159, got 0.6" in half.stdout

    _git(clone, "checkout", "main", "--", "data_mle/quality.py")  # the reference solution
    solved = _workshop(clone, "check", "data-1")
    assert solved.returncode == 0, solved.stdout
    assert "your figure: PSI of the night-heavy hours against flat hours: 0." in solved.stdout

    quality.write_text(quality.read_text() + "\n# my notes\n")
    refused = _workshop(clone, "reset")
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    assert "data_mle/quality.py" in refused.stderr
    assert quality.read_text().endswith("# my notes\n")  # nothing lost

    _git(clone, "commit", "-qam", "my solution")
    next_one = _workshop(clone, "start", "fullstack-1")  # from main, not from this branch
    assert next_one.returncode == 0, next_one.stderr
    assert "# my notes" not in quality.read_text()
    assert 'raise NotImplementedError("data-1' not in quality.read_text()
    back = _workshop(clone, "reset")
    assert back.returncode == 0 and "your work stays on exercise/fullstack-1" in back.stdout
    assert _git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_start_refuses_a_tree_with_uncommitted_work(clone: Path):
    (clone / "notes.txt").write_text("mine")
    refused = _workshop(clone, "start", "data-1")
    assert refused.returncode == 2 and "notes.txt" in refused.stderr
    assert _git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_the_solution_is_shown_as_a_diff_from_the_starter(clone: Path):
    shown = _workshop(clone, "solution", "data-1")
    assert shown.returncode == 0, shown.stderr
    assert "-    raise NotImplementedError" in shown.stdout
    assert "+    total = 0.0" in shown.stdout


BROKEN = """
title = "a check that does not need the blanked function"
archetype = "data"
minutes = 15
blanks = ["data_mle/quality.py::psi"]
checks = [
    "tests/data_mle/test_quality.py::test_psi_matches_a_hand_worked_example",
    "tests/workshop/test_starter.py::test_a_one_line_function_is_refused",
]
figure = "?"
"""


def test_the_proof_passes_a_good_exercise_and_names_what_is_wrong_with_a_broken_one(clone: Path):
    folder = clone / "exercises/data-99"
    folder.mkdir()
    (folder / "README.md").write_text("# data-99: broken on purpose\n")
    (folder / "exercise.toml").write_text(BROKEN)
    gone = clone / "exercises/data-98"
    gone.mkdir()
    (gone / "README.md").write_text("# data-98: names a function that is gone\n")
    (gone / "exercise.toml").write_text(BROKEN.replace("::psi", "::population_stability"))
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "two broken exercises")

    proof = _workshop(clone, "verify", "data-1", "data-99", "data-98")
    assert proof.returncode == 1
    lines = proof.stdout.splitlines()
    assert any(line.startswith("data-1 ") and line.endswith("ok") for line in lines)
    assert (
        "starter: tests/workshop/test_starter.py::test_a_one_line_function_is_refused "
        "should be failed, was passed" in proof.stdout
    )
    assert "data_mle/quality.py::population_stability does not exist" in proof.stdout
    assert "broken: data-99, data-98" in proof.stdout
