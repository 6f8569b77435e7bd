"""The Makefile documents itself: `make help` lists every target with a line of help."""

from __future__ import annotations

import re
import subprocess

from shared.settings import REPO_ROOT


def test_make_help_lists_every_target():
    makefile = (REPO_ROOT / "Makefile").read_text()
    documented = re.findall(r"^([a-zA-Z0-9_-]+):.*## (.+)$", makefile, flags=re.M)
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    listed = dict(re.findall(r"^\s+(\S+)\s+(.+)$", result.stdout, flags=re.M))
    phony = re.search(r"^\.PHONY:(.*)$", makefile, flags=re.M).group(1).split()
    assert {"help", "setup", "test", "lint", "bench", "demo"} <= set(listed)
    assert set(phony) == set(listed), "every target is documented"
    for target, text in documented:
        assert listed[target] == text.strip()


def test_help_is_the_default_goal():
    result = subprocess.run(
        ["make", "--no-print-directory"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and "setup" in result.stdout and "demo" in result.stdout


def test_the_readme_lists_exactly_what_make_help_prints():
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"`make` alone lists every target:\n\n```\n(.*?)```", readme, flags=re.S)
    assert block, "README.md shows `make help`'s output after '`make` alone lists every target:'"
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert block.group(1) == result.stdout, "update README.md's list of targets from `make help`"
