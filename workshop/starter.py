"""The starter tool: blank the functions an exercise names, keeping signature and docstring.

A starter is never a second copy of the code. It is made from the tree it is applied to:
for an extension exercise the reference patch is applied first, then every function the manifest
names keeps its `def` line(s), decorators and docstring, and its body becomes

    raise NotImplementedError("<id>: see exercises/<id>/README.md")

Only the standard library's `ast` finds the functions; the rest of each file is left byte for byte,
comments included. A name that no longer exists fails loudly, so a renamed function cannot quietly
turn an exercise into one with nothing to do.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

from workshop.manifest import Exercise


class StarterError(RuntimeError):
    """The starter cannot be made: a named function is missing, or the patch does not apply."""


def _find(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function at `qualname` ("psi", "Gate.decide", "outer.inner") in a module."""
    scope: list[ast.stmt] = tree.body
    found: ast.AST | None = None
    for part in qualname.split("."):
        found = next(
            (
                node
                for node in scope
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if found is None:
            return None
        scope = found.body
    return found if isinstance(found, ast.FunctionDef | ast.AsyncFunctionDef) else None


def blank_function(source: str, qualname: str, message: str, where: str = "<source>") -> str:
    """`source` with the body of `qualname` replaced by `raise NotImplementedError(message)`."""
    function = _find(ast.parse(source, filename=where), qualname)
    if function is None:
        raise StarterError(
            f"{where}::{qualname} does not exist: the exercise names a function the code no "
            "longer has. Update its exercise.toml (and README) to the code as it is."
        )
    body = function.body
    has_docstring = (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    if body[0].lineno == function.lineno:
        raise StarterError(f"{where}::{qualname} is a one-line function; cannot blank it")
    lines = source.splitlines(keepends=True)
    indent = " " * body[0].col_offset
    if has_docstring:
        start = body[0].end_lineno  # keep the docstring; drop everything after it
    else:
        start = body[0].lineno - 1  # keep the signature; drop comments above the first line
        while start > function.lineno and lines[start - 1].strip()[:1] in ("", "#"):
            start -= 1
    raise_line = f"{indent}raise NotImplementedError({json.dumps(message)})\n"
    end = function.end_lineno
    return "".join(lines[:start]) + raise_line + "".join(lines[end:])


def message_for(exercise: Exercise) -> str:
    return f"{exercise.id}: see {exercise.readme}"


def apply_patch(exercise: Exercise, root: Path) -> None:
    """Apply an extension exercise's reference patch to the tree at `root`."""
    patch = exercise.patch_text()
    if patch is None:
        return
    applied = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"],
        cwd=root,
        input=patch,
        text=True,
        capture_output=True,
    )
    if applied.returncode != 0:
        raise StarterError(
            f"{exercise.id}: {exercise.patch} no longer applies to the code: "
            f"{applied.stderr.strip()}\nRe-make the patch against the current main."
        )
    missing = [t for t in exercise.new_tests if not (root / t).is_file()]
    if missing:
        raise StarterError(f"{exercise.id}: the patch does not add {missing}")


def blank_functions(exercise: Exercise, root: Path) -> list[str]:
    """Blank every function the manifest names under `root`; returns the files changed."""
    changed: dict[str, str] = {}
    for blank in exercise.blanks:
        path, _, qualname = blank.partition("::")
        file = root / path
        if not file.is_file():
            raise StarterError(f"{exercise.id}: {path} does not exist (named by '{blank}')")
        source = changed.get(path, file.read_text())
        changed[path] = blank_function(source, qualname, message_for(exercise), where=path)
    for path, text in changed.items():
        (root / path).write_text(text)
    return sorted(changed)


def make_solution(exercise: Exercise, root: Path) -> None:
    """Turn the tree at `root` (main) into the exercise's reference solution."""
    apply_patch(exercise, root)


def make_starter(exercise: Exercise, root: Path) -> list[str]:
    """Turn the tree at `root` (main) into the exercise's starter; returns the files changed."""
    apply_patch(exercise, root)
    return blank_functions(exercise, root)
