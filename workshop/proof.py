"""The proof that every exercise is solvable: each check fails on its starter and passes on its
solution. CI runs it (`.ci/run`), and so can anyone: `make exercises-verify` (EX=<id> for one).

For each exercise, in a detached worktree of the current commit:
  1. starter: the whole suite still collects, and every listed check *fails* (an error at set-up,
     a skip or a pass is a broken exercise);
  2. solution, for an extension exercise (main does not hold its solution): every check passes and
     none is skipped. Where main is the solution, `make test` already runs the checks on it;
     `--solutions` runs that side here too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from workshop import starter
from workshop.branches import worktree
from workshop.checks import TIMED_OUT, CheckResult, run_pytest, summarise
from workshop.manifest import ROOT, Exercise


@dataclass
class Proof:
    exercise: Exercise
    problems: list[str] = field(default_factory=list)
    starter: list[CheckResult] = field(default_factory=list)
    solution: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _expect(proof: Proof, side: str, results: list[CheckResult], wanted: str) -> None:
    for result in results:
        if result.outcome != wanted:
            proof.problems.append(
                f"{side}: {result.check} should be {wanted}, was {result.outcome}"
                + (f" ({result.message})" if result.message else "")
            )
        elif result.seconds > proof.exercise.check_limit_s:
            proof.problems.append(
                f"{side}: {result.check} took {result.seconds:.0f} s, over the "
                f"{proof.exercise.check_limit_s} s a check may take"
            )


def _run_checks(proof: Proof, side: str, tree: Path, wanted: str) -> list[CheckResult]:
    exercise = proof.exercise
    # Generous: a hanging check must not hang CI, but a slow machine must not fail a good one.
    limit = 60 + 2 * exercise.check_limit_s * len(exercise.checks)
    code, results, output = run_pytest(
        ["-q", "--tb=short", *exercise.checks], root=tree, quiet=True, timeout_s=limit
    )
    if code == TIMED_OUT:
        proof.problems.append(f"{side}: the checks did not finish in {limit} s")
        return []
    summary = summarise(exercise.checks, results)
    _expect(proof, side, summary, wanted)
    if any(r.outcome == "missing" for r in summary):
        proof.problems.append(f"{side}: pytest said:\n" + "\n".join(output.splitlines()[-10:]))
    return summary


def prove(
    exercise: Exercise, root: Path = ROOT, solutions: bool = False, with_changes: bool = False
) -> Proof:
    proof = Proof(exercise)
    started = time.monotonic()
    with worktree(root, with_changes=with_changes) as tree:
        try:
            starter.make_starter(exercise, tree)
        except starter.StarterError as error:
            proof.problems.append(f"starter: {error}")
            return proof
        code, _, output = run_pytest(["--collect-only", "-q"], root=tree, quiet=True)
        if code != 0:
            tail = "\n".join(output.strip().splitlines()[-15:])
            proof.problems.append(f"starter: the suite no longer collects (exit {code}):\n{tail}")
        proof.starter = _run_checks(proof, "starter", tree, "failed")
    if exercise.is_extension or solutions:
        with worktree(root, with_changes=with_changes) as tree:
            starter.make_solution(exercise, tree)
            proof.solution = _run_checks(proof, "solution", tree, "passed")
            if proof.solution and not any(r.figures for r in proof.solution):
                proof.problems.append(
                    'solution: no check recorded the figure (record_property("figure", ...))'
                )
    proof.seconds = time.monotonic() - started
    return proof


HEADER = "exercise        starter checks      solution checks     seconds  verdict"


def row(p: Proof) -> str:
    """One exercise's line of the report: its verdict on each side, then its problems."""
    failing = sum(r.outcome == "failed" for r in p.starter)
    passing = sum(r.outcome == "passed" for r in p.solution)
    solution = f"{passing}/{len(p.solution)} pass" if p.solution else "main (make test)"
    starter_side = f"{failing}/{len(p.exercise.checks)} fail"
    verdict = "ok" if p.ok else "BROKEN"
    line = f"{p.exercise.id:15} {starter_side:19} {solution:19} {p.seconds:7.0f}  {verdict}"
    return "\n".join([line, *(f"    {problem}" for problem in p.problems)])


def report(proofs: list[Proof]) -> str:
    return "\n".join([HEADER, *(row(p) for p in proofs)])
