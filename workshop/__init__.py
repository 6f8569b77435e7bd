"""Workshop exercises that check themselves: manifests, the starter tool, the checks and the proof.

An exercise lives in `exercises/<id>/` (a README and an `exercise.toml`). Its starter is made from
the real code by blanking named functions (`starter.py`); its checks are ordinary pytest tests.
Run `python -m workshop --help`, or the Makefile's `exercises`, `exercise-start`, `exercise-check`,
`exercise-solution`, `exercise-reset` and `exercises-verify` targets.
"""
