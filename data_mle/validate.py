"""Record validation for the ingest job: each raw line against the event contract.

The check is `shared.schema.EVENTS.pydantic()`, the strict form of the one event schema: no type
coercion (Spark's own JSON reader would read `"event_time": 1767643201250` as a date in the year
57984, and `"position": "3"` as null, silently) and no unknown fields. Each rejected line gets the
first reason below that applies, and the validator's own message as detail.

    validate_lines(pd.Series(['{"event_id": ...}', 'not json']))   # typed rows + reason columns
"""

from __future__ import annotations

import pandas as pd
from pydantic import ValidationError

from shared.schema import EVENTS

# Reasons in priority order, and the pydantic error types that lead to each.
REASONS: dict[str, tuple[str, ...]] = {
    "malformed_json": ("json_invalid", "json_type", "model_type"),
    "schema_drift": ("extra_forbidden",),  # an added field, or a renamed one
    "missing_field": ("missing",),
    "wrong_type": ("_type", "_parsing", "timezone_aware"),  # suffixes: int_type, datetime_parsing
    "unknown_value": ("literal_error",),
    "impossible_value": ("greater_than_equal",),
}
META_COLUMNS = ("line", "reason", "detail", "raw")


def reason_for(error: ValidationError) -> tuple[str, str]:
    """The quarantine reason of a validation error, and a one-line detail."""
    errors = error.errors()
    types = [e["type"] for e in errors]
    for reason, patterns in REASONS.items():
        for e, t in zip(errors, types, strict=True):
            if t in patterns or any(t.endswith(p) for p in patterns if p.startswith("_")):
                where = ".".join(str(part) for part in e["loc"]) or "line"
                return reason, f"{where}: {e['msg']}"
    return "invalid", f"{types[0]}: {errors[0]['msg']}"


def validate_lines(lines: pd.Series, first_line: int = 0) -> pd.DataFrame:
    """One row per line: the typed event fields (null where rejected), the line number, the
    reason and detail (null where accepted), and the raw text."""
    model = EVENTS.pydantic()
    rows, meta = [], []
    for i, raw in enumerate(lines):
        try:
            rows.append(model.model_validate_json(raw).model_dump())
            meta.append((first_line + i, None, None, raw))
        except ValidationError as error:
            rows.append({})
            meta.append((first_line + i, *reason_for(error), raw))
    frame = pd.DataFrame.from_records(rows, columns=EVENTS.names)
    for column in EVENTS.columns:  # column types that survive all-null batches
        values = frame[column.name]
        if column.kind == "timestamp":
            frame[column.name] = pd.to_datetime(values, utc=True)
        elif column.kind == "int":
            frame[column.name] = values.astype("Int32")
        elif column.kind == "float":
            frame[column.name] = values.astype("float64")
        else:
            frame[column.name] = values.astype(object).where(values.notna(), None)
    for name in META_COLUMNS:
        frame[name] = [m[META_COLUMNS.index(name)] for m in meta]
    return frame
