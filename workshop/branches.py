"""An attendee's branch: start an exercise, see its reference solution, go back to main; and
the detached worktrees that the solution and the proof (`proof.py`) are made in.

make exercise-start EX=data-1      # branch exercise/data-1 with the starter committed
make exercise-solution EX=data-1   # the reference diff, starter -> solution
make exercise-reset                # back to main, refusing while work is uncommitted
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workshop import starter
from workshop.manifest import ROOT, Exercise

MAIN = "main"


class RefusedError(RuntimeError):
    """The command would lose or mix up work; the message says what to do instead."""


# The starter commit is the tool's, not the attendee's; naming it also works where git has no user.
TOOL_IDENTITY = {
    "GIT_AUTHOR_NAME": "workshop starter",
    "GIT_AUTHOR_EMAIL": "workshop@marquee.invalid",
    "GIT_COMMITTER_NAME": "workshop starter",
    "GIT_COMMITTER_EMAIL": "workshop@marquee.invalid",
}


def git(*args: str, root: Path = ROOT, check: bool = True, env: dict | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        text=True,
        capture_output=True,
        env=None if env is None else {**os.environ, **env},
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def uncommitted(root: Path = ROOT) -> list[str]:
    """Changed and untracked (not ignored) files, as `git status --porcelain` lists them."""
    return git("status", "--porcelain", "--untracked-files=all", root=root).splitlines()


def _refuse_if_uncommitted(doing: str, root: Path) -> None:
    changes = uncommitted(root)
    if changes:
        listed = "\n".join(f"    {line}" for line in changes[:10])
        more = f"\n    ... and {len(changes) - 10} more" if len(changes) > 10 else ""
        raise RefusedError(
            f"refusing to {doing}: the tree has uncommitted changes, which would be lost or mixed "
            f"into the exercise:\n{listed}{more}\n"
            "Commit them (`git add -A && git commit -m 'my work'`) or put them aside "
            "(`git stash -u`), then run the command again."
        )


def start(exercise: Exercise, root: Path = ROOT) -> str:
    """Create `exercise/<id>` from main with the starter applied and committed (from main even
    when on another exercise's branch: each exercise starts from the code as it is)."""
    _refuse_if_uncommitted(f"start {exercise.id}", root)
    if git("branch", "--list", exercise.branch, root=root):
        raise RefusedError(
            f"branch {exercise.branch} already exists. To go on with it: "
            f"`git checkout {exercise.branch}`. To start over: `make exercise-reset`, then "
            f"`git branch -D {exercise.branch}` (this deletes your work on it)."
        )
    if not git("branch", "--list", MAIN, root=root):
        raise RefusedError(f"there is no branch {MAIN} to start from: exercises start from it")
    git("checkout", "-q", "-b", exercise.branch, MAIN, root=root)
    try:
        starter.make_starter(exercise, root)
        git("add", "-A", root=root)
        message = f"{exercise.id}: the starter"
        git("commit", "-q", "--no-verify", "-m", message, root=root, env=TOOL_IDENTITY)
    except Exception:
        git("reset", "-q", "--hard", root=root)
        git("checkout", "-q", "-", root=root)
        git("branch", "-q", "-D", exercise.branch, root=root)
        raise
    return exercise.branch


def reset(root: Path = ROOT) -> str:
    """Back to main; refuses (and says why) while there is uncommitted work."""
    current = git("rev-parse", "--abbrev-ref", "HEAD", root=root)
    if current == MAIN:
        return f"already on {MAIN}"
    _refuse_if_uncommitted(f"leave {current}", root)
    git("checkout", "-q", MAIN, root=root)
    kept = f"; your work stays on {current}" if current.startswith("exercise/") else ""
    return f"on {MAIN}{kept}"


@contextmanager
def worktree(root: Path = ROOT, ref: str = "HEAD", with_changes: bool = False) -> Iterator[Path]:
    """A detached worktree of `ref` (plus the uncommitted changes, when asked), removed after."""
    with tempfile.TemporaryDirectory(prefix="exercise-") as scratch:
        tree = Path(scratch) / "tree"
        git("worktree", "add", "-q", "--detach", str(tree), ref, root=root)
        try:
            if with_changes:
                copy_uncommitted(root, tree)
            yield tree
        finally:
            git("worktree", "remove", "--force", str(tree), root=root, check=False)
            shutil.rmtree(tree, ignore_errors=True)
            git("worktree", "prune", root=root, check=False)


def copy_uncommitted(root: Path, tree: Path) -> None:
    """Carry the working tree's edits into `tree`: for trying an exercise before committing it."""
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--binary"], cwd=root, capture_output=True, check=True
    ).stdout
    if diff:
        subprocess.run(["git", "apply", "--binary", "-"], cwd=tree, input=diff, check=True)
    untracked = git("ls-files", "--others", "--exclude-standard", root=root).splitlines()
    for path in untracked:
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, tree / path)


def solution_diff(exercise: Exercise, root: Path = ROOT) -> str:
    """The reference diff from the starter to the solution, both made from main."""
    with worktree(root, MAIN) as tree:
        starter.make_solution(exercise, tree)
        paths = sorted({b.partition("::")[0] for b in exercise.blanks})
        solved = {p: (tree / p).read_text() for p in paths}
        starter.blank_functions(exercise, tree)
        return "".join(
            "".join(
                difflib.unified_diff(
                    (tree / p).read_text().splitlines(keepends=True),
                    solved[p].splitlines(keepends=True),
                    fromfile=f"a/{p} (starter)",
                    tofile=f"b/{p} (solution)",
                )
            )
            for p in paths
        )
