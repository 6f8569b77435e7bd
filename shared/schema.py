"""The contract for raw events and entity tables: one definition, three forms.

Each table is written down once, as a tuple of `Column`s. From it come the pyarrow schema (for
Parquet and the reference code), the Spark `StructType` (for the ETL jobs) and a pydantic model
(for validating single records, in services and in tests). Keeping one source means the three can
never disagree; `tests/shared/test_schema.py` checks that field by field.

    from shared.schema import EVENTS
    EVENTS.arrow()        # pyarrow.Schema
    EVENTS.spark()        # pyspark StructType (imports pyspark only when called)
    EVENTS.pydantic()     # a strict pydantic model that rejects extra fields

The limits on values (an id's length and characters, a number's range, a timestamp's text) are
written on the `Column` too, so the pydantic model and the ingest job's Spark rules
(`data_mle.rules`) enforce the same ones. Patterns use only what Python's, Rust's (pydantic) and
Java's (Spark) regular expressions read alike (ASCII classes, `[0-9]` rather than `\\d`, which is
Unicode in Python and Rust), and always match the whole text (`whole`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

import pyarrow as pa
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    create_model,
)  # fmt: skip
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError

Kind = Literal["string", "enum", "int", "float", "bool", "date", "timestamp"]

SURFACES = ("ad_break", "home_row")
EVENT_TYPES = ("impression", "click", "play")
DEVICES = ("tv", "mobile", "web", "tablet")
GENRES = (
    "drama", "comedy", "action", "kids", "documentary",
    "horror", "romance", "sci_fi", "reality", "sports",
)  # fmt: skip
AD_CATEGORIES = ("auto", "finance", "food", "retail", "travel", "gaming", "health", "telecom")
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "MX")

ID_PATTERN = r"[A-Za-z0-9_.-]+"  # no spaces, quotes, control characters or path separators
MAX_WATCH_TIME_S = 86_400.0  # one play cannot outlast the day it is logged in
ID_MAX_LENGTH = 64  # our ids are 8-24 characters; a megabyte "id" is an attack or a bug
INT32 = (-(2**31), 2**31 - 1)  # int columns are stored as int32 (Arrow, Spark, Parquet)
# RFC 3339 with a zone and at most millisecond precision: what every writer of the log sends.
# pydantic alone would also take "2026-01-05 20:00:01Z" and drop a seventh fractional digit.
TIMESTAMP_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def whole_for_spark(pattern: str) -> str:
    """`pattern` anchored to the whole text as Java's regex (Spark's `rlike`) reads it: `\\A` and
    `\\z`, because Java's `$` also matches before a final newline."""
    return rf"\A(?:{pattern})\z"


def whole_for_json_schema(pattern: str) -> str:
    """`pattern` anchored to the whole text in the dialect that JSON Schema (ECMA-262) and
    pydantic's Rust engine share: there `$` matches only at the very end, and `\\z` is not known
    to every tool (OpenAPI clients and fuzzers) that reads the published schema."""
    return rf"^(?:{pattern})$"


# An id in a request body (the ranking service, the web app): the contract's id rule, as pydantic
# checks it and as the OpenAPI schema publishes it.
IdText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=ID_MAX_LENGTH, pattern=whole_for_json_schema(ID_PATTERN)
    ),
]


@dataclass(frozen=True)
class Column:
    """One field of a table: its name, kind, whether it may be null, and what it means."""

    name: str
    kind: Kind
    required: bool
    doc: str
    values: tuple[str, ...] = ()  # the allowed values of an enum
    minimum: float | None = None  # the smallest valid value of a number
    maximum: float | None = None  # the largest valid value of a number
    max_length: int | None = None  # the longest valid string, in characters
    pattern: str | None = None  # a regular expression the whole string must match (unanchored)

    def bounds(self) -> tuple[float | None, float | None]:
        """The valid range of a number: its own limits, within int32 for an int column."""
        if self.kind != "int":
            return self.minimum, self.maximum
        low, high = INT32
        return (
            low if self.minimum is None else max(low, self.minimum),
            high if self.maximum is None else min(high, self.maximum),
        )


def id_column(name: str, required: bool, doc: str) -> Column:
    """A string column that holds an id: non-empty, at most `ID_MAX_LENGTH` safe characters."""
    return Column(name, "string", required, doc, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)


_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "enum": pa.string(),  # plain strings on disk: readers need no dictionary to decode them
    "int": pa.int32(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
}

_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "int": int,
    "float": float,
    "bool": bool,
    "date": dt.date,
    "timestamp": AwareDatetime,  # a timestamp without a zone is ambiguous: refuse it
}


@dataclass(frozen=True)
class TableSchema:
    """A named table and its columns, with its pyarrow, Spark and pydantic forms."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def arrow(self) -> pa.Schema:
        """The pyarrow schema; required columns are not nullable."""
        return pa.schema(
            [pa.field(c.name, _ARROW_TYPES[c.kind], nullable=not c.required) for c in self.columns]
        )

    def spark(self) -> Any:
        """The Spark `StructType`. pyspark is imported here, not at module import."""
        from pyspark.sql import types as T

        spark_types = {
            "string": T.StringType(),
            "enum": T.StringType(),
            "int": T.IntegerType(),
            "float": T.DoubleType(),
            "bool": T.BooleanType(),
            "date": T.DateType(),
            "timestamp": T.TimestampType(),  # Spark keeps instants in UTC; the session sets UTC
        }
        return T.StructType(
            [T.StructField(c.name, spark_types[c.kind], nullable=not c.required)
             for c in self.columns]
        )  # fmt: skip

    def pydantic(self) -> type[BaseModel]:
        """A strict pydantic model: no type coercion ("2" is not a position) and no extra fields
        (an added or renamed field is schema drift, not something to ignore)."""
        return _pydantic_model(self)


def _timestamp_text(value: Any) -> Any:
    """Let through a datetime, or text that matches `TIMESTAMP_PATTERN`, for pydantic to parse:
    a number (epoch milliseconds?) or other text is refused as the wrong type."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be a timestamp string")
    if not re.fullmatch(TIMESTAMP_PATTERN, value):
        raise PydanticCustomError(
            "datetime_parsing", "Input should be an RFC 3339 time with a zone, like {example}",
            {"example": "2026-01-05T20:00:01.250Z"},
        )  # fmt: skip
    return value


def _constraints(c: Column) -> dict[str, Any]:
    low, high = c.bounds()
    limits = {
        "ge": low, "le": high, "max_length": c.max_length,
        "pattern": whole_for_json_schema(c.pattern) if c.pattern else None,
        "allow_inf_nan": False if c.kind == "float" else None,  # NaN is no measurement
    }  # fmt: skip
    return {k: v for k, v in limits.items() if v is not None}


@cache
def _pydantic_model(table: TableSchema) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for c in table.columns:
        py_type = Literal[c.values] if c.kind == "enum" else _PYTHON_TYPES[c.kind]
        if c.kind == "timestamp":  # checked as text first, then parsed from the text
            py_type = Annotated[
                py_type, PydanticField(strict=False), BeforeValidator(_timestamp_text)
            ]
        if not c.required:
            py_type = py_type | None
        constraints = _constraints(c)
        default = ... if c.required else None
        fields[c.name] = (py_type, PydanticField(default, description=c.doc, **constraints))
    model_name = "".join(part.title() for part in table.name.split("_")) + "Record"
    config = ConfigDict(strict=True, extra="forbid")
    return create_model(model_name, __config__=config, **fields)


EVENTS = TableSchema(
    "events",
    (
        id_column("event_id", True, "Unique id of the event; re-sent events repeat it."),
        Column("event_type", "enum", True, "What happened.", EVENT_TYPES),
        Column("event_time", "timestamp", True, "When it happened, UTC, millisecond precision."),
        id_column("user_id", True, "Who saw, clicked or played."),
        id_column("session_id", True, "The viewing session the event belongs to."),
        id_column("request_id", True, "The ranking request that produced the slot."),
        Column(
            "surface", "enum", True, "Where the slot was: an ad break or the home row.", SURFACES
        ),
        id_column("item_id", True, "The ad (ad_break) or the title (home_row) shown."),
        Column("position", "int", True, "1-based slot in the ad pod or the home row.", minimum=1),
        Column("device", "enum", True, "The device of the session.", DEVICES),
        id_column("context_title_id", False, "The title being watched (ad breaks only)."),
        id_column("impression_id", False, "For clicks and plays: the impression's id."),
        Column(
            "watch_time_s",
            "float",
            False,
            "Seconds watched (plays only).",
            minimum=0.0,
            maximum=MAX_WATCH_TIME_S,
        ),
    ),
)

USERS = TableSchema(
    "users",
    (
        Column("user_id", "string", True, "User id, as in the events."),
        Column("country", "enum", True, "Country of the account.", COUNTRIES),
        Column("primary_device", "enum", True, "The device the user watches on most.", DEVICES),
        Column("signup_date", "date", True, "Day the account was created."),
    ),
)

TITLES = TableSchema(
    "titles",
    (
        Column("title_id", "string", True, "Title id, as in home-row events."),
        Column("genre", "enum", True, "Main genre.", GENRES),
        Column("duration_min", "int", True, "Running time in minutes.", minimum=1),
        Column("release_date", "date", True, "First day the title can be shown."),
    ),
)

ADS = TableSchema(
    "ads",
    (
        Column("ad_id", "string", True, "Ad id, as in ad-break events."),
        Column("advertiser", "string", True, "Who pays for the ad."),
        Column("category", "enum", True, "What the ad sells.", AD_CATEGORIES),
        Column(
            "bid", "float", True, "Dollars paid per click; eCPM = pCTR x bid x 1000.", minimum=0.0
        ),
        Column("start_date", "date", True, "First day the ad can be shown."),
    ),
)

TRUTH = TableSchema(
    "truth",
    (
        Column("event_id", "string", True, "The impression's event id."),
        Column("surface", "enum", True, "Where the impression was.", SURFACES),
        Column("p_click", "float", True, "The true click probability the simulator drew from."),
        Column("clicked", "bool", True, "Whether the simulator drew a click."),
    ),
)

TABLES = {t.name: t for t in (EVENTS, USERS, TITLES, ADS, TRUTH)}
