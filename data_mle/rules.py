"""The event contract as Spark column expressions: how the ingest job checks each raw line.

    checked = check_lines(lines)   # lines: file, line, raw  ->  + typed fields, reason, detail

The rules are those of the pydantic reference (`data_mle.validate`), with the same reasons in
the same priority order, written with Spark's own functions so the check runs in the JVM at
Spark's speed: no Python worker, no UDF. Two paths:

- The fast path (`_clean`), for a line written exactly as the contract's own writers write it:
  one `from_json`, whose `to_json` must give the line's bytes back, and the rules on values
  (enum values, ids, ranges). Such a line cannot break a rule on its structure or JSON types,
  so it is accepted here. On a small-preset day 99.6% of lines take it (the rest are whole
  numbers of seconds, which Spark writes back as `30.0`) and the check takes half the time.
- The full check, for every other line: parsed once more, to a VARIANT (`try_parse_json`), which
  keeps what Spark's JSON reader would coerce away: the JSON type of every field.
  `tests/data_mle/test_validation_parity.py` holds both paths to the same verdicts.

The rules of the full check, by reason:

- `invalid_utf8`: `NOT is_valid_utf8(raw)`.
- `malformed_json`: the variant is null (and not for a repeated key) or not an object, or text
  follows the object (`json_array_length('[' || raw || ',0]') != 2`: `{..}x` and `{..}]` fail).
- `duplicate_key`: the variant parser refuses a repeated key, and `from_json` (strict options,
  a corrupt-record column) finds the line otherwise well-formed.
- `schema_drift`: a top-level key outside the contract (`array_except(map_keys(...), names)`).
- `missing_field`: a required key absent.
- `wrong_type`: by `schema_of_variant(field)`: not `STRING` for ids and timestamps, not a number
  for floats, not an integer for ints (`BIGINT`, or a token of digits only, as
  `get_json_object` gives it back: `3.0` and `1e3` are floats to pydantic, 2^70 an integer);
  null for a required field; a timestamp that does not match `TIMESTAMP_PATTERN` or is no date.
- `unknown_value`: an enum field that is not one of its strings (null too, like `Literal`).
- `impossible_value`: `length` and `rlike` on ids; a number outside `Column.bounds()` (int32 for
  ints), NaN or +-Infinity (`1e400` reads as Infinity).

JSON itself has no NaN or Infinity, so a line that holds them is `malformed_json` on both sides.
Known, deliberate differences from pydantic, outside anything a client sends by mistake: a line
over 16 MiB (the VARIANT limit) reads as `duplicate_key`, and Spark's and Python's JSON parsers
may disagree on lone UTF-16 surrogates (`"\\ud800"`).
"""

from __future__ import annotations

from typing import Any

from data_mle.validate import REASONS
from shared.schema import EVENTS, TIMESTAMP_PATTERN, Column, TableSchema, whole_for_spark

NUMBER_TYPES = ("BIGINT", "DECIMAL", "DOUBLE")  # how schema_of_variant names a JSON number
STRICT_JSON = {  # from_json's leniencies, switched off: the reference accepts none of them
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "columnNameOfCorruptRecord": "_corrupt",
}
# How the contract's writers put a line, as `from_json` and `to_json` options (see `_clean`).
CANONICAL = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "ignoreNullFields": "false"}


def _shown(text: Any, width: int = 40) -> Any:
    """A value safe to print in a detail: printable ASCII only, and short."""
    from pyspark.sql import functions as F

    return F.left(F.regexp_replace(text, r"[^ -~]", "?"), F.lit(width))


def _value_faults(c: Column, value: Any) -> list[tuple[str, Any, Any]]:
    """The (reason, condition, detail) rules on the value of a field whose JSON type is right:
    enum values, the length and characters of ids, the range of numbers. `value` is the field
    as the column's type; a condition is read only where the value is not null."""
    from pyspark.sql import functions as F

    faults: list[tuple[str, Any, Any]] = []
    if c.kind == "enum":
        detail = F.lit(f"{c.name}: not one of {', '.join(c.values)}")
        faults.append(("unknown_value", ~value.isin(*c.values), detail))
    elif c.kind == "string":
        if c.max_length is not None:
            detail = F.lit(f"{c.name}: longer than {c.max_length} characters")
            faults.append(("impossible_value", F.length(value) > c.max_length, detail))
        if c.pattern is not None:
            detail = F.lit(f"{c.name}: empty, or characters outside {c.pattern}")
            faults.append(("impossible_value", ~value.rlike(whole_for_spark(c.pattern)), detail))
    elif c.kind == "int":
        low, high = c.bounds()
        detail = F.lit(f"{c.name}: outside [{low}, {high}]")
        faults.append(("impossible_value", (value < low) | (value > high), detail))
    elif c.kind == "float":
        low, high = c.bounds()
        outside = F.isnan(value) | (F.abs(value) == float("inf"))
        outside = outside | (value < low if low is not None else F.lit(False))
        outside = outside | (value > high if high is not None else F.lit(False))
        detail = F.lit(f"{c.name}: not a finite number in [{low}, {high}]")
        faults.append(("impossible_value", outside, detail))
    return faults


def _field_rules(c: Column) -> list[tuple[str, Any, Any]]:
    """The (reason, condition, detail) rules of one column. They read the JSON type of its value
    (`_t_<name>`: null when the key is absent, VOID for a JSON null), the value as the column's
    type (`_typed.<name>`, null where it is not one: a string that is no timestamp, an integer
    beyond int32), and a timestamp's text (`_s_<name>`)."""
    from pyspark.sql import functions as F

    absent = F.col(f"_t_{c.name}").isNull()
    json_type, value = F.col(f"_t_{c.name}"), F.col(f"_typed.{c.name}")
    given = ~absent & (json_type != "VOID")
    checked = ~absent if c.required else given  # a required field's null is checked too

    def got(expected: str) -> Any:
        return F.concat(F.lit(f"{c.name}: expected {expected}, got "), _shown(json_type))

    rules: list[tuple[str, Any, Any]] = []
    if c.required:
        rules.append(("missing_field", absent, F.lit(f"{c.name}: required, missing")))
    faults = _value_faults(c, value)
    if c.kind == "enum":  # a value of another JSON type is an unknown value too (and null)
        ((reason, unknown, detail),) = faults
        return [*rules, (reason, checked & ((json_type != "STRING") | unknown), detail)]
    if c.kind == "string":
        rules.append(("wrong_type", checked & (json_type != "STRING"), got("a string")))
    elif c.kind == "timestamp":
        text = F.col(f"_s_{c.name}")
        bad = (
            (json_type != "STRING")
            | ~text.rlike(whole_for_spark(TIMESTAMP_PATTERN))
            | value.isNull()
        )
        rules.append(("wrong_type", checked & bad, got("an RFC 3339 time with a zone")))
    elif c.kind == "int":
        # The variant keeps 3.0 as DECIMAL(1,0) and 2^70 as DECIMAL(22,0): the JSON text tells
        # an integer. Read (a second parse) only for the rare number that is not a BIGINT.
        digits = F.get_json_object("raw", f"$.{c.name}").rlike(r"\A-?[0-9]+\z")
        integer = (json_type == "BIGINT") | (json_type.rlike("^(DECIMAL|DOUBLE)") & digits)
        rules.append(("wrong_type", checked & ~integer, got("an integer")))
        # Beyond int32 the cast gives null; beyond int64 the variant has no BIGINT.
        ((reason, outside, detail),) = faults
        faults = [(reason, (json_type != "BIGINT") | value.isNull() | outside, detail)]
    elif c.kind == "float":
        numeric = json_type.rlike(f"^({'|'.join(NUMBER_TYPES)})")
        rules.append(("wrong_type", checked & ~numeric, got("a number")))
    elif c.kind == "bool":
        rules.append(("wrong_type", checked & (json_type != "BOOLEAN"), got("true or false")))
    else:
        raise ValueError(f"no Spark rule for a {c.kind} column ({c.name})")
    return rules + [(reason, given & fault, detail) for reason, fault, detail in faults]


def _clean(schema: TableSchema, typed: str) -> Any:
    """Whether a line is accepted on its reading as the contract's struct (`typed`, by
    `from_json` with `CANONICAL`) alone: it is valid UTF-8, written exactly as the contract's
    own writers write it (`shared.raw_log`: compact, every key once and in schema order, nulls
    written out, times as `2026-01-05T20:15:03.250Z`), so that `to_json` of the struct gives its
    bytes back; its required fields are not null; and no value breaks a rule. Such a line
    cannot be malformed or hold a repeated, extra or missing key or a value of the wrong JSON
    type, since each of those changes what `to_json` writes (`5` for a string field comes back
    as `"5"`, a repeated key once): the full check would give it no reason either."""
    from pyspark.sql import functions as F

    raw = F.col("raw")
    conditions = [F.is_valid_utf8(raw), F.to_json(typed, CANONICAL) == raw]
    for c in schema.columns:
        value = F.col(f"{typed}.{c.name}")
        if c.required:
            conditions.append(value.isNotNull())
        for _, fault, _ in _value_faults(c, value):
            conditions.append(~(value.isNotNull() & fault))
    return F.coalesce(_all(conditions), F.lit(False))


def _all(conditions: list[Any]) -> Any:
    """`conditions` joined by AND as a balanced tree, not a chain: the 30 of `_clean` chained
    nest 30 deep, and with the plan's own layers pass the 100 levels to which protobuf reads a
    Spark Connect plan back (the client copies it into a checkpoint command)."""
    if len(conditions) == 1:
        return conditions[0]
    half = len(conditions) // 2
    return _all(conditions[:half]) & _all(conditions[half:])


def check_lines(lines: Any, schema: TableSchema = EVENTS, fast: bool = True) -> Any:
    """`lines` (with a string column `raw`) plus the typed fields of `schema`, the `reason` of
    the first rule a line breaks (null when accepted), a one-line `detail`, and `clean`: whether
    the line was accepted by the fast path alone (`_clean`; `fast=False` turns it off, for
    tests that hold the two paths to the same verdicts).

    Most lines are written by the contract's own writers and are clean: each of those is
    parsed once, by `from_json`. The full check, for the rest, is built in layers (parse; every
    field's JSON value, JSON type and typed value; the verdict), so each is computed once per
    line and the rules only compare columns; each layer is computed only for lines that are
    not clean (`when`). Written as one expression, every rule would extract its field again
    (the branches of a CASE after the first share nothing), about 10x slower."""
    from pyspark.sql import functions as F

    raw = F.col("raw")
    canonical = lines.select("*", F.from_json(raw, schema.spark(), CANONICAL).alias("_canon"))
    canonical = canonical.select(
        "*", (_clean(schema, "_canon") if fast else F.lit(False)).alias("clean")
    )
    full = ~F.col("clean")

    def unless_clean(column: Any) -> Any:
        return F.when(full, column)

    one_value = F.json_array_length(F.concat(F.lit("["), raw, F.lit(",0]"))) == 2
    parsed = canonical.select(
        "*",
        unless_clean(F.try_parse_json(raw)).alias("_json"),
        # Nothing after the object: '[{..}x,0]' and '[{..}],0]' do not give two elements.
        unless_clean(F.coalesce(one_value, F.lit(False))).alias("_one"),
    )
    # from_json has no generated code, so it gets a projection of its own (the others compile).
    # Where the variant parser gave up only (`when`): a repeated key, in what is otherwise one
    # well-formed JSON object?
    well_formed = F.from_json(raw, "struct<_corrupt: string>", STRICT_JSON)["_corrupt"].isNull()
    parsed = parsed.select(
        "*",
        F.when(full & F.col("_json").isNull(), well_formed & F.col("_one")).alias("_repeated"),
        # The values, typed, by Spark's JSON reader (faster than casting the variant's fields).
        # It would coerce a wrong type silently, but a rule reads a value only after its JSON
        # type passed; an integer beyond int32 comes back null.
        F.when(full, F.from_json(raw, schema.spark())).otherwise(F.col("_canon")).alias("_typed"),
    )
    as_variants = ", ".join(f"{c.name}: variant" for c in schema.columns)
    parsed = parsed.select(
        "*",
        F.try_variant_get("_json", "$", "map<string,variant>").alias("_fields"),  # or null
        F.try_variant_get("_json", "$", f"struct<{as_variants}>").alias("_json_values"),
    )
    # What the rules read, and only that: the variants stay behind (a wide projection of
    # variants would not get generated code).
    parsed = parsed.select(
        *lines.columns, "clean", "_one", "_repeated", "_typed",
        F.col("_fields").isNotNull().alias("_object"),
        F.array_except(F.map_keys("_fields"), F.array(*map(F.lit, schema.names))).alias("_extra"),
        *[F.schema_of_variant(f"_json_values.{c.name}").alias(f"_t_{c.name}")
          for c in schema.columns],
        *[F.try_variant_get(f"_json_values.{c.name}", "$", "string").alias(f"_s_{c.name}")
          for c in schema.columns if c.kind == "timestamp"],
    )  # fmt: skip

    repeated = F.coalesce(F.col("_repeated"), F.lit(False))
    extra = F.col("_extra")
    rules: list[tuple[str, Any, Any]] = [
        ("invalid_utf8", ~F.is_valid_utf8(raw), F.lit("line: not valid UTF-8")),
        (
            "malformed_json",
            (~F.col("_object") & ~repeated) | ~F.col("_one"),
            F.lit("line: not one JSON object"),
        ),
        ("duplicate_key", repeated, F.lit("line: a key appears more than once")),
        (
            "schema_drift",
            F.size(extra) > 0,
            F.concat(F.lit("fields not in the contract: "), _shown(F.array_join(extra, ", "))),
        ),
    ]
    for c in schema.columns:
        rules += _field_rules(c)
    # Priority by reason; sorted() is stable, so within a reason the columns keep schema order.
    rules.sort(key=lambda rule: list(REASONS).index(rule[0]))
    # One CASE for both outputs: each condition is evaluated once, and only until one holds; a
    # clean line stops at the first.
    verdict = F.when(F.col("clean"), F.lit(None))
    for reason, condition, detail in rules:
        verdict = verdict.when(condition, F.struct(F.lit(reason).alias("r"), detail.alias("d")))
    return (
        parsed.select(
            *lines.columns,
            *[F.col(f"_typed.{c.name}").alias(c.name) for c in schema.columns],
            "clean",
            verdict.alias("_verdict"),
        )
        .select("*", F.col("_verdict.r").alias("reason"), F.col("_verdict.d").alias("detail"))
        .drop("_verdict")
    )
