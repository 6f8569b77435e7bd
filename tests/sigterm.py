"""Start a demo as a subprocess, wait until the servers it starts are up, send it SIGTERM (what a
CI timeout, `kill` or a container stop sends), and list what it left running.

A process counts as the demo's when its environment points into the demo's own lake: children
inherit it, so this finds grandchildren too (Spark's JVM, Airflow's task runners) even after
they have been orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from shared.settings import REPO_ROOT


def started_under(root: Path) -> list[psutil.Process]:
    """Every live process whose MARQUEE_LAKE_ROOT lies under `root`."""
    found = []
    for process in psutil.process_iter():
        try:
            ours = str(root) in process.environ().get("MARQUEE_LAKE_ROOT", "")
            if ours and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def command_lines(processes: list[psutil.Process]) -> list[str]:
    lines = []
    for p in processes:
        try:
            lines.append(" ".join(p.cmdline())[:160])
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return lines


def terminate_when_up(
    module: str,
    root: Path,
    up: Callable[[list[str]], bool],
    env: dict[str, str] | None = None,
    timeout_s: float = 300.0,
) -> tuple[int, list[str], list[str]]:
    """Run `python -m module` with its lake under `root`; once `up(command lines of its
    processes)` holds, SIGTERM it. Returns its exit status, the command lines seen just before
    the signal, and the command lines of its processes still alive 30 s after it exited."""
    env = {**os.environ, **(env or {}), "MARQUEE_LAKE_ROOT": str(root),
           "MARQUEE_REPORTS_DIR": str(root / "reports")}  # fmt: skip
    demo = subprocess.Popen(
        [sys.executable, "-m", module], cwd=REPO_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        while time.monotonic() < deadline and demo.poll() is None:
            seen = command_lines(started_under(root))
            if up(seen):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"{module} did not bring its servers up: {seen}")
        demo.send_signal(signal.SIGTERM)
        status = demo.wait(timeout=120)
        left = started_under(root)
        _, alive = psutil.wait_procs(left, timeout=30)
        return status, seen, command_lines(alive)
    finally:
        if demo.poll() is None:
            demo.kill()
        for process in started_under(root):  # never leave a failed test's servers behind
            process.kill()
