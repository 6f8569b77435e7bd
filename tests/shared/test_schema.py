"""One table definition, three forms: pyarrow, Spark and pydantic agree field by field."""

from __future__ import annotations

import datetime as dt
import typing

import pyarrow as pa
import pytest
from pydantic import ValidationError
from pyspark.sql import types as T

from shared.schema import EVENTS, TABLES, TableSchema
from tests.records import event_line

SPARK_FOR_ARROW = {
    pa.string(): T.StringType(),
    pa.int32(): T.IntegerType(),
    pa.float64(): T.DoubleType(),
    pa.bool_(): T.BooleanType(),
    pa.date32(): T.DateType(),
    pa.timestamp("ms", tz="UTC"): T.TimestampType(),
}


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_arrow_spark_and_pydantic_forms_agree_field_by_field(table: TableSchema):
    arrow, spark, model = table.arrow(), table.spark(), table.pydantic()
    assert arrow.names == [f.name for f in spark.fields] == list(model.model_fields) == table.names
    for column in table.columns:
        a, s, p = arrow.field(column.name), spark[column.name], model.model_fields[column.name]
        assert SPARK_FOR_ARROW[a.type] == s.dataType, column.name
        assert a.nullable == s.nullable == (not column.required), column.name
        assert p.is_required() == column.required, column.name
        if column.values:
            allowed = typing.get_args(p.annotation)
            literal = allowed[0] if not column.required else p.annotation
            assert set(typing.get_args(literal)) == set(column.values), column.name


def test_a_valid_event_passes_and_keeps_its_utc_time():
    record = EVENTS.pydantic().model_validate_json(event_line())
    assert record.event_time == dt.datetime(2026, 1, 5, 20, 0, 1, 250000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "changes",
    [
        {"position": "2"},  # no silent coercion of strings to numbers
        {"position": 0},
        {"device": "console"},
        {"event_time": "2026-01-05T20:00:01"},  # a time without a zone is ambiguous
        {"app_version": "7.4.1"},  # schema drift is not ignored
    ],
)
def test_the_pydantic_form_is_strict(changes):
    with pytest.raises(ValidationError):
        EVENTS.pydantic().model_validate_json(event_line(**changes))
