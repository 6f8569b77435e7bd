"""Run an exercise's checks and say what they mean: which pass, a hint for each that does not,
and, once all pass, the figure the README asks for.

    make exercise-check EX=data-1      # python -m workshop check data-1
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workshop.manifest import ROOT, Exercise

TIMED_OUT = 124  # the exit code `timeout` uses


@dataclass(frozen=True)
class CheckResult:
    check: str
    outcome: str  # passed | failed | error | skipped | missing
    seconds: float
    figures: tuple[str, ...]
    message: str


def _matching(check: str, results: dict[str, dict]) -> list[dict]:
    """A check names a test or all of its parametrised cases (`test_x` matches `test_x[a]`)."""
    return [v for k, v in results.items() if k == check or k.startswith(check + "[")]


def summarise(checks: tuple[str, ...], results: dict[str, dict]) -> list[CheckResult]:
    """One verdict per check: the worst of its cases (missing, error, failed, skipped, passed)."""
    rank = {"missing": 0, "error": 1, "failed": 2, "skipped": 3, "passed": 4}
    summary = []
    for check in checks:
        cases = _matching(check, results)
        if not cases:
            summary.append(CheckResult(check, "missing", 0.0, (), "pytest ran no such test"))
            continue
        worst = min(cases, key=lambda c: rank[c["outcome"]])
        summary.append(
            CheckResult(
                check,
                worst["outcome"],
                sum(c["seconds"] for c in cases),
                tuple(f for c in cases for f in c["figures"]),
                worst["message"],
            )
        )
    return summary


def run_pytest(
    args: list[str], root: Path = ROOT, quiet: bool = False, timeout_s: float | None = None
) -> tuple[int, dict[str, dict], str]:
    """Run pytest in `root` with the outcomes plugin; returns exit code, outcomes and output."""
    with tempfile.TemporaryDirectory() as scratch:
        outcomes = Path(scratch) / "outcomes.json"
        env = {
            **os.environ,
            "PYTHONPATH": str(root),  # the tree under test, not the one the venv was made from
            "WORKSHOP_OUTCOMES": str(outcomes),
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "workshop.outcomes",
            "-p",
            "no:cacheprovider",
            *args,
        ]
        # With a time limit the run gets its own process group, so servers it started die with it.
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            text=True,
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
            start_new_session=timeout_s is not None,
        )
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return TIMED_OUT, {}, f"{output or ''}\ntimed out after {timeout_s:.0f} s"
        results = json.loads(outcomes.read_text()) if outcomes.is_file() else {}
        return process.returncode, results, output or ""


def check(exercise: Exercise, root: Path = ROOT) -> int:
    """`make exercise-check`: run the checks, teach from the failures, print the figure."""
    absent = [t for t in exercise.new_tests if not (root / t).is_file()]
    if absent:
        print(
            f"{exercise.id} is an extension exercise: its checks ({', '.join(absent)}) come with "
            f"its starter. Run `make exercise-start EX={exercise.id}` first."
        )
        return 2
    print(f"{exercise.id}: {exercise.title} ({len(exercise.checks)} checks)\n", flush=True)
    _, results, _ = run_pytest(["-q", "--tb=short", *exercise.checks], root=root)
    summary = summarise(exercise.checks, results)
    print()
    for result in summary:
        mark = "ok  " if result.outcome == "passed" else result.outcome.upper()
        print(f"  {mark:7} {result.check}")
        if result.outcome != "passed":
            if result.message:
                print(f"          came out: {result.message}")
            hint = exercise.hints.get(result.check)
            if hint:
                print(f"          hint: {hint}")
    passed = sum(r.outcome == "passed" for r in summary)
    if passed < len(summary):
        print(
            f"\n{passed} of {len(summary)} checks pass. Read {exercise.readme}, change the code, "
            f"and run `make exercise-check EX={exercise.id}` again."
        )
        return 1
    figures = [f for r in summary for f in r.figures]
    print(f"\nAll {len(summary)} checks pass: {exercise.id} is done.")
    print(f"The README asks: {exercise.figure}")
    for figure in figures or ["(no figure was recorded: the check's record_property is missing)"]:
        print(f"  your figure: {figure}")
    return 0
