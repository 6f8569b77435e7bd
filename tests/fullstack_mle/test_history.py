"""The loop's day record: written as JSON with `asdict`, read back into the same dataclasses."""

from __future__ import annotations

import json

from data_mle.runs import DayReport, GateOutcome
from fullstack_mle.history import (
    DayRecord,
    Deployment,
    Reconciliation,
    read_history,
    write_history,
)
from fullstack_mle.registry import Decision


def day_record(day: str = "2026-01-06") -> DayRecord:
    decision = Decision(
        day=day,
        surface="ad_break",
        candidate="ad_break-fm-x",
        champion="ad_break-fm-w",
        promoted=True,
        reason="log loss 0.12 -> 0.11",
        candidate_metrics={"logloss": 0.11, "auc": 0.62},
        champion_metrics={"logloss": 0.12, "auc": 0.61},
        gate_rows=200,
        training_rows=1_800,
        training_window=("2026-01-05", day),
        train_seconds=0.8,
    )
    return DayRecord(
        day=day,
        raw_files=["events-0.jsonl.gz", "events-1.jsonl.gz", "feedback-0000-ab.jsonl.gz"],
        pipeline=DayReport(ok=True, input_rows=100, reconciled=True),
        visits={"visits": 5, "online_ctr": 0.06},
        feedback=Reconciliation(events=70, clicks=5, reconciled=True, missing_clicks=0),
        models={"ad_break": decision},
        promoted=True,
        deploy=Deployment(
            serving_day="2026-01-07",
            champions={"ad_break": "ad_break-fm-x"},
            batch_seconds=9.1,
            batch_users=6_000,
            service="reloaded (new model)",
            seconds=12.0,
        ),
        alerts=[{"kind": "data drift", "message": "PSI 0.12"}],
        seconds=61.5,
    )


def test_a_written_history_reads_back_as_the_same_records(tmp_path):
    path = tmp_path / "fullstack" / "history.json"
    first = DayRecord(
        day="2026-01-05",
        raw_files=["events-0.jsonl.gz", "events-1.jsonl.gz"],
        pipeline=DayReport(
            ok=False,
            gates={"volume": GateOutcome(value=0.48, threshold="0.5-2.0", passed=False)},
            error="quality gates failed: volume",
        ),
        visits=None,
        feedback=Reconciliation(events=0),
    )
    history = [first, day_record()]
    write_history(path, history)
    assert read_history(path) == history  # nested records, tuples and None included


def test_the_file_is_plain_json_with_the_records_fields(tmp_path):
    path = tmp_path / "history.json"
    write_history(path, [day_record()])
    (day,) = json.loads(path.read_text())
    assert day["feedback"] == {"events": 70, "clicks": 5, "reconciled": True, "missing_clicks": 0}
    assert day["models"]["ad_break"]["candidate_metrics"]["logloss"] == 0.11
    assert day["deploy"]["champions"] == {"ad_break": "ad_break-fm-x"}


def test_no_history_yet_is_an_empty_one(tmp_path):
    assert read_history(tmp_path / "history.json") == []
