"""Each kind of bad line gets its own quarantine reason; good lines come out typed."""

from __future__ import annotations

import pandas as pd
import pytest

from data_mle.validate import validate_lines
from tests.records import DROP, event_line


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (event_line()[:40], "malformed_json"),
        ("[1, 2]", "malformed_json"),
        (event_line(app_version="7.4.1"), "schema_drift"),
        (event_line(user_id=DROP, userId="u0000001"), "schema_drift"),
        (event_line(user_id=DROP), "missing_field"),
        (event_line(position="2"), "wrong_type"),
        (event_line(event_time=1767643201250), "wrong_type"),  # Spark would read year 57984
        (event_line(event_time="2026-01-05T20:00:01"), "wrong_type"),  # no time zone
        (event_line(device="console"), "unknown_value"),
        (event_line(position=0), "impossible_value"),
    ],
)
def test_each_bad_line_gets_its_reason(line: str, reason: str):
    row = validate_lines(pd.Series([line])).iloc[0]
    assert row["reason"] == reason
    assert row["raw"] == line and row["detail"]
    assert pd.isna(row["event_id"])


def test_good_lines_come_out_typed_and_numbered():
    frame = validate_lines(
        pd.Series([event_line(), event_line(event_id="e2", position=3)]), first_line=10
    )
    assert frame["reason"].isna().all()
    assert list(frame["line"]) == [10, 11]
    assert list(frame["position"]) == [2, 3]
    assert frame["event_time"].iloc[0] == pd.Timestamp("2026-01-05T20:00:01.250Z")
