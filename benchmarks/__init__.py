"""Benchmarks: measure and report, never assert. `make bench` (or `python -m benchmarks`) runs
them all and writes `reports/bench.json` and a readable `reports/bench.md` with plots.

Every figure is reported with the machine and versions it was measured on, as a median over
repeats with its spread, and as a ratio to a goal or a peer measured in the same run.
"""
