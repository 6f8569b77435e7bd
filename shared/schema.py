"""The contract for raw events and entity tables: one definition, three forms.

Each table is written down once, as a tuple of `Column`s. From it come the pyarrow schema (for
Parquet and the reference code), the Spark `StructType` (for the ETL jobs) and a pydantic model
(for validating single records, in services and in tests). Keeping one source means the three can
never disagree; `tests/shared/test_schema.py` checks that field by field.

    from shared.schema import EVENTS
    EVENTS.arrow()        # pyarrow.Schema
    EVENTS.spark()        # pyspark StructType (imports pyspark only when called)
    EVENTS.pydantic()     # a strict pydantic model that rejects extra fields
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import pyarrow as pa
from pydantic import AwareDatetime, BaseModel, ConfigDict, create_model
from pydantic import Field as PydanticField

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


@dataclass(frozen=True)
class Column:
    """One field of a table: its name, kind, whether it may be null, and what it means."""

    name: str
    kind: Kind
    required: bool
    doc: str
    values: tuple[str, ...] = ()  # the allowed values of an enum
    minimum: float | None = None  # the smallest valid value of a number


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


@cache
def _pydantic_model(table: TableSchema) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for c in table.columns:
        py_type = Literal[c.values] if c.kind == "enum" else _PYTHON_TYPES[c.kind]
        if not c.required:
            py_type = py_type | None
        constraints = {"ge": c.minimum} if c.minimum is not None else {}
        default = ... if c.required else None
        fields[c.name] = (py_type, PydanticField(default, description=c.doc, **constraints))
    model_name = "".join(part.title() for part in table.name.split("_")) + "Record"
    config = ConfigDict(strict=True, extra="forbid")
    return create_model(model_name, __config__=config, **fields)


EVENTS = TableSchema(
    "events",
    (
        Column("event_id", "string", True, "Unique id of the event; re-sent events repeat it."),
        Column("event_type", "enum", True, "What happened.", EVENT_TYPES),
        Column("event_time", "timestamp", True, "When it happened, UTC, millisecond precision."),
        Column("user_id", "string", True, "Who saw, clicked or played."),
        Column("session_id", "string", True, "The viewing session the event belongs to."),
        Column("request_id", "string", True, "The ranking request that produced the slot."),
        Column(
            "surface", "enum", True, "Where the slot was: an ad break or the home row.", SURFACES
        ),
        Column("item_id", "string", True, "The ad (ad_break) or the title (home_row) shown."),
        Column("position", "int", True, "1-based slot in the ad pod or the home row.", minimum=1),
        Column("device", "enum", True, "The device of the session.", DEVICES),
        Column("context_title_id", "string", False, "The title being watched (ad breaks only)."),
        Column("impression_id", "string", False, "For clicks and plays: the impression's id."),
        Column("watch_time_s", "float", False, "Seconds watched (plays only).", minimum=0.0),
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
        Column("bid", "float", True, "Dollars paid per click; eCPM = pCTR x bid x 1000.", 0.0),
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
