"""The event contract's executable reference: each raw line checked in Python, with pydantic.

The check is `shared.schema.EVENTS.pydantic()`, the strict form of the one event schema: no type
coercion (Spark's own JSON reader would read `"event_time": 1767643201250` as a date in the year
57984, and `"position": "3"` as null, silently), no unknown fields, and the contract's limits on
ids, numbers and timestamps. Two things pydantic does not see are checked first: bytes that are
not UTF-8, and a key that appears twice in one object (pydantic would keep the last value
silently). Each rejected line gets the first reason below that applies, and a one-line detail.

The ingest job does not call this: it runs the same rules as Spark column expressions
(`data_mle.rules`), and `tests/data_mle/test_validation_parity.py` holds the two to the same
reason for every line. The web app checks its events with `reason_for` (`fullstack_mle.feedback`).

    validate_lines(pd.Series(['{"event_id": ...}', 'not json']))   # typed rows + reason columns
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd
from pydantic import ValidationError

from shared.schema import EVENTS

# Reasons in priority order, and the pydantic error types that lead to each (the first part of a
# type, "_type" or "_parsing", matches any type that ends with it). `invalid_utf8` and
# `duplicate_key` come from the checks before pydantic.
REASONS: dict[str, tuple[str, ...]] = {
    "invalid_utf8": (),  # the line is not text at all
    "malformed_json": ("json_invalid", "json_type", "model_type"),  # not one JSON object
    "duplicate_key": (),  # {"position": 1, "position": 2}: which one did the sender mean?
    "schema_drift": ("extra_forbidden",),  # an added field, or a renamed one
    "missing_field": ("missing",),
    "wrong_type": ("_type", "_parsing", "timezone_aware"),  # int_type, datetime_parsing, ...
    "unknown_value": ("literal_error",),
    "impossible_value": (
        "greater_than_equal", "less_than_equal", "finite_number",  # out of range, or not finite
        "string_too_long", "string_pattern_mismatch",  # an id too long, empty or with odd bytes
    ),
}  # fmt: skip
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


def _not_allowed(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number")


def json_problem(text: str) -> tuple[str, str] | None:
    """`malformed_json` unless `text` is exactly one JSON object (RFC 8259: no NaN or Infinity,
    nothing after the object), `duplicate_key` if a key repeats in any object of it, else None."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        keys = [k for k, _ in items]
        repeated.extend(k for i, k in enumerate(keys) if k in keys[:i])
        return dict(items)

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=_not_allowed)
    except ValueError as error:  # JSONDecodeError is a ValueError
        return "malformed_json", f"line: {error}"
    if not isinstance(value, dict):
        return "malformed_json", f"line: a JSON {type(value).__name__}, not an object"
    if repeated:
        return "duplicate_key", f"{repeated[0]}: the key appears more than once"
    return None


def check_line(raw: str | bytes) -> tuple[dict, str | None, str | None]:
    """One line's typed fields (empty when rejected), and its reason and detail (None when
    accepted)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return {}, "invalid_utf8", f"line: byte {error.start} is not UTF-8"
    problem = json_problem(raw)
    if problem is not None:
        return {}, *problem
    try:
        return EVENTS.pydantic().model_validate_json(raw).model_dump(), None, None
    except ValidationError as error:
        return {}, *reason_for(error)


def validate_lines(lines: Iterable[str | bytes], first_line: int = 0) -> pd.DataFrame:
    """One row per line (text, or bytes as read from a file): the typed event fields (null where
    rejected), the line number, the reason and detail (null where accepted), and the raw text."""
    rows, meta = [], []
    for i, raw in enumerate(lines):
        record, reason, detail = check_line(raw)
        rows.append(record)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        meta.append((first_line + i, reason, detail, text))
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
