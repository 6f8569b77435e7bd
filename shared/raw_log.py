"""The raw event log's file format: gzipped JSON lines, one event per line.

This is how the business lands events (`raw/events/dt=YYYY-MM-DD/events-{0,1}.jsonl.gz`: one
file per collector, `shared.lake.BUSINESS_EVENT_FILES`) and what the data MLE's ingest job
parses. Serialising is done column-wise with pyarrow compute kernels, not a Python loop over
rows: a day of the `large` preset is millions of lines.

    lines = to_json_lines(day.events)       # a JSON object per element, each ending in "\\n"
    data = gzip_bytes(join_lines(lines))     # byte-identical for identical input
    write_jsonl_gz(path, lines)              # the same, streamed to a file in chunks
    write_business_events(partition, lines)  # a day's lines as the collectors' files
    read_business_lines(folder)              # a day's lines back, in order, as bytes
    read_lines(path)                          # one file's lines as a list of str
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shared.lake import BUSINESS_EVENT_FILES
from shared.schema import EVENTS, TableSchema
from shared.storage import PartitionWriter

# Level 1 compresses this log 7.7x at 268 MB/s; level 9 gets 10.5x at 31 MB/s (a small-preset day
# on 2 cores). The ingest job reads each file once, so speed wins. mtime=0 keeps the gzip header,
# and so the file, reproducible.
GZIP_LEVEL = 1


def _json_value(column: pa.Array, kind: str) -> pa.Array:
    """Each value of `column` as JSON text; null becomes `null`. One kernel call per step."""
    if kind == "timestamp":
        text = pc.binary_join_element_wise(
            '"', pc.strftime(column, format="%Y-%m-%dT%H:%M:%S"), 'Z"', ""
        )
    elif kind in ("string", "enum", "date"):
        text = pc.binary_join_element_wise('"', column.cast(pa.string()), '"', "")
    elif kind == "bool":
        text = pc.if_else(column, "true", "false")
    else:
        text = column.cast(pa.string())
    return pc.if_else(pc.is_null(column), pa.scalar("null"), text)


def _by_lookup(values: pa.Array, kind: str, indices: pa.Array) -> pa.Array:
    """Format the few distinct `values` once, then pick each row's text by index: a dictionary
    column of a million rows and a thousand ids costs a thousand formats and one `take`."""
    text = pa.concat_arrays([_json_value(values, kind), pa.array(["null"])])
    return text.take(pc.fill_null(indices, len(values)))


def _timestamp_text(column: pa.Array) -> pa.Array:
    """ISO 8601 text in UTC with milliseconds ("2026-01-05T20:15:03.250Z"); each distinct second
    is formatted once (strftime per row costs about a microsecond, over a second per million)."""
    ms = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    seconds, second_of_row = np.unique(ms // 1000, return_inverse=True)
    as_time = pa.array(seconds, pa.int64()).cast(pa.timestamp("s", tz="UTC"))
    second_text = pc.strftime(as_time, format='"%Y-%m-%dT%H:%M:%S')
    millis_text = pa.array([f'.{m:03d}Z"' for m in range(1000)])
    return pc.binary_join_element_wise(
        second_text.take(pa.array(second_of_row)), millis_text.take(pa.array(ms % 1000)), ""
    )


def _column_text(column: pa.Array, kind: str) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        return _by_lookup(column.dictionary, kind, column.indices)
    if kind == "timestamp" and column.null_count == 0:
        return _timestamp_text(column)
    return _json_value(column, kind)


def to_json_lines(
    table: pa.Table, schema: TableSchema = EVENTS, chunk_rows: int = 1 << 20
) -> pa.Array:
    """One compact JSON object per row, keys in schema order, each ending in a newline.

    The ids and enums of the Marquee world contain no characters that JSON must escape, so the
    text is assembled directly; `tests/shared/test_raw_log.py` round-trips it through `json`.
    Rows are formatted a chunk at a time, so the intermediate columns of text stay small."""
    chunks = []
    for start in range(0, max(table.num_rows, 1), chunk_rows):
        part = table.slice(start, chunk_rows)
        pieces: list[pa.Array | str] = []
        for i, column in enumerate(schema.columns):
            pieces.append(("{" if i == 0 else ",") + f'"{column.name}":')
            pieces.append(_column_text(part.column(column.name).combine_chunks(), column.kind))
        pieces.append("}\n")
        chunks.append(pc.binary_join_element_wise(*pieces, ""))
    # 64-bit offsets: a weekend day of the large preset is more text than 32-bit offsets address.
    return pa.concat_arrays([chunk.cast(pa.large_string()) for chunk in chunks])


def join_lines(lines: pa.Array) -> bytes:
    """The concatenated text of a string (or binary) array, read straight from its data buffer."""
    if len(lines) == 0:
        return b""
    if lines.offset != 0:
        lines = pa.concat_arrays([lines])  # an unsliced copy, so the offsets index its buffer
    width = np.int64 if lines.type in (pa.large_string(), pa.large_binary()) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width, count=len(lines) + 1)
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: the same input always gives the same bytes."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def write_jsonl_gz(path: Path, lines: pa.Array, chunk_rows: int = 500_000) -> None:
    """Stream `lines` into a deterministic gzip file, a chunk at a time, so a day of the large
    preset never needs its whole text in memory twice."""
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as gz,
    ):
        for start in range(0, len(lines), chunk_rows):
            gz.write(join_lines(lines.slice(start, chunk_rows)))


def collector_shares(lines: pa.Array) -> list[pa.Array]:
    """`lines` in as many contiguous, in-order shares as there are `BUSINESS_EVENT_FILES`
    (the later ones a line longer where they do not divide evenly)."""
    n = len(BUSINESS_EVENT_FILES)
    bounds = [len(lines) * k // n for k in range(n + 1)]
    return [lines.slice(a, b - a) for a, b in itertools.pairwise(bounds)]


def write_business_events(partition: PartitionWriter, lines: pa.Array) -> None:
    """Add a day's `lines` to a raw partition as the business's collectors write them: one
    gzip file each (`BUSINESS_EVENT_FILES`), its share of the lines in order, so that the files
    read in name order give the lines back in order."""
    for name, share in zip(BUSINESS_EVENT_FILES, collector_shares(lines), strict=True):
        write_jsonl_gz(partition.add(name, rows=len(share)), share)


def read_business_lines(folder: Path) -> list[bytes]:
    """The lines of the business's files in a raw partition, in order, each with its newline:
    lines as the ingest counts them, ended by `\\n` only (a `\\r` inside a line stays in it)."""
    lines = []
    for name in BUSINESS_EVENT_FILES:
        data = gzip.decompress((folder / name).read_bytes())
        lines += [line + b"\n" for line in data.split(b"\n")[:-1]]
        if not data.endswith(b"\n") and data:
            lines.append(data.rsplit(b"\n", 1)[-1])  # a last line without its newline
    return lines


def read_lines(path: Path) -> list[str]:
    """The lines of a gzipped JSON-lines file, without their newlines."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()
