"""Every exercise's manifest is usable against the code as it is: its blanked functions exist,
its checks exist, its patch applies; and a broken manifest is refused with a message that says
which file and what is wrong."""

from __future__ import annotations

import ast
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from workshop.manifest import ARCHETYPES, ROOT, ManifestError, load, load_all
from workshop.starter import _find

EXERCISES = load_all()


def test_there_are_at_least_four_exercises_per_archetype():
    counts = Counter(e.archetype for e in EXERCISES)
    assert {a: counts[a] for a in ARCHETYPES} == {a: max(counts[a], 4) for a in ARCHETYPES}


def _test_source(node_id: str) -> str | None:
    """The source of the test a node id names, or None when there is no such test."""
    path, *names = node_id.split("::")
    file = ROOT / path
    if not file.is_file():
        return None
    source = file.read_text()
    node: ast.AST = ast.parse(source)
    for name in names:
        node = next(
            (
                n
                for n in node.body
                if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == name
            ),
            None,
        )
        if node is None:
            return None
    return ast.get_source_segment(source, node)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_an_exercise_names_code_and_checks_that_exist(exercise):
    assert (exercise.folder / "README.md").read_text().startswith(f"# {exercise.id}: ")
    if exercise.is_extension:
        applies = subprocess.run(
            ["git", "apply", "--check", "-"],
            cwd=ROOT,
            input=exercise.patch_text(),
            text=True,
            capture_output=True,
        )
        assert applies.returncode == 0, f"{exercise.patch} does not apply: {applies.stderr}"
        return  # its functions and tests exist once the patch is applied: the proof checks that
    for blank in exercise.blanks:
        path, _, qualname = blank.partition("::")
        assert _find(ast.parse((ROOT / path).read_text()), qualname), f"{blank} does not exist"
    sources = [_test_source(check) for check in exercise.checks]
    missing = [c for c, source in zip(exercise.checks, sources, strict=True) if source is None]
    assert not missing, f"{exercise.id}: checks {missing} do not exist"
    assert any(re.search(r'record_property\(\s*"figure"', source) for source in sources), (
        f"{exercise.id}: no check records the figure its README asks for"
    )


def _write(base: Path, exercise_id: str, manifest: str, readme: bool = True) -> None:
    folder = base / exercise_id
    folder.mkdir(parents=True)
    (folder / "exercise.toml").write_text(manifest)
    if readme:
        (folder / "README.md").write_text(f"# {exercise_id}: a title\n")


GOOD = """
title = "t"
archetype = "data"
minutes = 15
blanks = ["data_mle/quality.py::psi"]
checks = ["tests/data_mle/test_quality.py::test_psi_matches_a_hand_worked_example"]
figure = "f?"
"""


def test_a_good_manifest_loads(tmp_path: Path):
    _write(tmp_path, "data-9", GOOD)
    exercise = load("data-9", tmp_path)
    assert (exercise.branch, exercise.is_extension, exercise.check_limit_s) == (
        "exercise/data-9",
        False,
        90,
    )


@pytest.mark.parametrize(
    ("exercise_id", "manifest", "message"),
    [
        ("infra-9", GOOD, "archetype must be one of"),
        ("data-9", GOOD.replace("minutes = 15", "minutes = 500"), "'minutes'"),
        ("data-9", GOOD.replace("::psi", ""), "is not 'path/to/module.py::qualname'"),
        ("data-9", GOOD.replace('figure = "f?"', ""), "'figure'"),
        ("data-9", GOOD + 'patch = "missing.patch"\n', "patch 'missing.patch' is not in"),
        ("data-9", GOOD + 'patch = "../../x.patch"\n', "must be a file name"),
        ("data-9", GOOD.replace("data_mle/quality.py", "../../etc/x.py"), "inside the repository"),
        ("data-9", GOOD.replace("data_mle/quality.py", "/etc/x.py"), "inside the repository"),
        ("data-9", GOOD + 'new_tests = ["tests/x.py"]\n', "name the patch"),
        ("data-9", GOOD + '[hints]\n"tests/other.py::t" = "h"\n', "one of the checks"),
        ("data-9", GOOD + "blank = []\n", "unknown keys"),
        ("data-9", GOOD + "title = \n", "not valid TOML"),
        ("data-8", GOOD, "no exercise 'data-8'"),
    ],
)  # fmt: skip
def test_a_broken_manifest_is_refused_with_the_reason(tmp_path, exercise_id, manifest, message):
    _write(tmp_path, exercise_id if exercise_id != "data-8" else "data-9", manifest)
    with pytest.raises(ManifestError, match=message):
        load(exercise_id, tmp_path)


@pytest.mark.parametrize("exercise_id", ["../data-1", "data-1/../data-1", "DATA-1", "data", ""])
def test_an_id_that_is_not_an_exercise_id_is_refused(exercise_id: str):
    with pytest.raises(ManifestError, match="is not an exercise id"):
        load(exercise_id)


def test_an_exercise_without_readme_is_refused(tmp_path: Path):
    _write(tmp_path, "data-9", GOOD, readme=False)
    with pytest.raises(ManifestError, match="README.md is missing"):
        load("data-9", tmp_path)
