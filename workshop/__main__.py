"""The workshop's command line; the Makefile's exercise targets call it.

python -m workshop list                 # make exercises
python -m workshop start data-1         # make exercise-start EX=data-1
python -m workshop check data-1         # make exercise-check EX=data-1
python -m workshop solution data-1      # make exercise-solution EX=data-1
python -m workshop reset                # make exercise-reset
python -m workshop verify [ids...]      # make exercises-verify [EX=data-1]
"""

from __future__ import annotations

import argparse
import sys
import time

from workshop import branches, checks, proof
from workshop.manifest import ManifestError, load, load_all
from workshop.starter import StarterError


def _list() -> int:
    exercises = load_all()
    print(f"{len(exercises)} exercises (make exercise-start EX=<id>; each README says the task)\n")
    print(f"  {'id':12} {'archetype':10} {'minutes':>7}  title")
    for e in exercises:
        kind = " (extension)" if e.is_extension else ""
        print(f"  {e.id:12} {e.archetype:10} {e.minutes:7}  {e.title}{kind}")
    return 0


def _verify(ids: list[str], solutions: bool, with_changes: bool) -> int:
    exercises = [load(i) for i in ids] if ids else load_all()
    started = time.monotonic()
    proofs = []
    for exercise in exercises:
        print(f"proving {exercise.id} ...", flush=True)
        proofs.append(proof.prove(exercise, solutions=solutions, with_changes=with_changes))
        print(proof.row(proofs[-1]), flush=True)
    print()
    print(proof.report(proofs))
    broken = [p.exercise.id for p in proofs if not p.ok]
    print(
        f"\n{len(proofs) - len(broken)} of {len(proofs)} exercises proven in "
        f"{time.monotonic() - started:.0f} s" + (f"; broken: {', '.join(broken)}" if broken else "")
    )
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every exercise with its archetype, time and title")
    for name in ("start", "check", "solution"):
        commands.add_parser(name).add_argument("id", help="an exercise id, e.g. data-1")
    commands.add_parser("reset", help="back to main, refusing while work is uncommitted")
    verify = commands.add_parser("verify", help="prove each exercise fails on its starter")
    verify.add_argument("ids", nargs="*", help="exercise ids (default: all)")
    verify.add_argument(
        "--solutions", action="store_true", help="also prove the checks pass on main"
    )
    verify.add_argument(
        "--with-changes", action="store_true",
        help="include uncommitted edits (for writing an exercise)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "verify":
            return _verify(args.ids, args.solutions, args.with_changes)
        if args.command == "reset":
            print(branches.reset())
            return 0
        exercise = load(args.id)
        if args.command == "start":
            branch = branches.start(exercise)
            print(
                f"on {branch}: the starter is committed, so `git diff` shows only your work.\n"
                f"Read {exercise.readme}, then run `make exercise-check EX={exercise.id}`."
            )
            return 0
        if args.command == "check":
            return checks.check(exercise)
        diff = branches.solution_diff(exercise)
        print(diff or "(the starter and the solution do not differ: a broken exercise)")
        if exercise.is_extension:
            print(f"\nThe whole change against main: exercises/{exercise.id}/{exercise.patch}")
        return 0
    except (ManifestError, StarterError, branches.RefusedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
