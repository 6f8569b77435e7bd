"""The dataset command line: it generates, prints a summary, and answers wrong arguments with one
line and exit status 2, never a traceback, overwriting nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.dataset import main
from shared.lake import BUSINESS_EVENT_FILES
from shared.settings import REPO_ROOT


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "shared.dataset", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )  # fmt: skip


def test_generate_tiny_from_the_command_line(tmp_path: Path):
    result = _run("generate", "--preset", "tiny", "--days", "2", "--out", "w", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "oracle" in result.stdout and "2026-01-06" in result.stdout
    for name in BUSINESS_EVENT_FILES:
        assert (tmp_path / "w" / "raw/events/dt=2026-01-06" / name).exists()


def test_the_default_output_is_inside_the_lake(tmp_path: Path):
    assert main(["generate", "--preset", "tiny", "--days", "1"]) == 0
    assert (tmp_path / "lake" / "world" / "_dataset.json").exists()  # MARQUEE_LAKE_ROOT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--faults", "malformed=1.5"], "within 0..1"),
        (["--faults", "-0.1"], "within 0..1"),
        (["--faults", "gremlins=0.1"], "unknown fault kind"),
        (["--days", "0"], "at least 1"),
        (["--days", "two"], "invalid int value"),
        (["--drift-day", "9"], "after the last day"),
        (["--to-s3", "bucket/no-scheme"], "not an S3 URL"),
    ],
)
def test_wrong_arguments_get_one_line_and_exit_2(tmp_path: Path, args, message):
    result = _run("generate", "--preset", "tiny", "--out", "w", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()


def test_a_folder_with_other_files_is_never_touched(tmp_path: Path):
    keep = tmp_path / "w" / "thesis.txt"
    keep.parent.mkdir()
    keep.write_text("irreplaceable")
    for extra in ([], ["--force"]):
        result = _run("generate", "--preset", "tiny", "--out", "w", *extra, cwd=tmp_path)
        assert result.returncode == 2 and "holds other files" in result.stderr
    assert keep.read_text() == "irreplaceable"
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["thesis.txt"]


def test_an_existing_dataset_is_replaced_only_with_force(tmp_path: Path):
    out = tmp_path / "w"
    assert (
        main(["generate", "--preset", "tiny", "--days", "1", "--seed", "1", "--out", str(out)]) == 0
    )
    first = (out / "_dataset.json").read_text()
    assert (
        main(["generate", "--preset", "tiny", "--days", "1", "--seed", "2", "--out", str(out)]) == 2
    )
    assert (out / "_dataset.json").read_text() == first
    args = [
        "generate",
        "--preset",
        "tiny",
        "--days",
        "1",
        "--seed",
        "2",
        "--out",
        str(out),
        "--force",
    ]
    assert main(args) == 0
    assert json.loads((out / "_dataset.json").read_text())["config"]["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["w"], "no temporary folders left behind"


def test_leftovers_of_a_killed_run_are_cleared(tmp_path: Path):
    leftover = tmp_path / ".w.tmp-0badf00d"
    (leftover / "raw").mkdir(parents=True)
    assert main(["generate", "--preset", "tiny", "--days", "1", "--out", str(tmp_path / "w")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


def test_summary_prints_a_generated_dataset(clean_dataset, capsys):
    out, summary = clean_dataset
    assert main(["summary", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{summary['events']:,}" in text and "faults injected: none" in text


@pytest.mark.slow
def test_to_s3_uploads_the_raw_zone(tmp_path: Path):
    from shared.s3 import MotoServer, list_keys

    with MotoServer():
        args = ["generate", "--preset", "tiny", "--days", "2", "--out", str(tmp_path / "w")]
        assert main([*args, "--to-s3", "s3://marquee-landing/v1"]) == 0
        keys = list_keys("marquee-landing", "v1/")
    assert {f"v1/raw/events/dt=2026-01-06/{name}" for name in BUSINESS_EVENT_FILES} <= set(keys)
    assert "v1/raw/entities/users.parquet" in keys
    assert not any("truth" in k for k in keys), "the truth never leaves the simulator"
