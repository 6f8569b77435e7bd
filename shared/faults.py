"""Fault injection for the raw log: the bad records a real landing zone receives.

Off by default. When on, each kind corrupts an exact number of lines (the rate times the day's
events, rounded), every line at most once, and a ledger records which event each fault touched
(`truth/faults/dt=.../ledger.parquet`), so pipelines and tests can reconcile to the line:

    lines in a partition = events of the day - late (moved out) + late (moved in) + duplicates

    python -m shared.dataset generate --preset tiny --faults malformed=0.01,late=0.02 \\
        --fault-days 2,3
    python -m shared.dataset generate --preset tiny --faults 0.005      # every kind at 0.5%
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from shared.schema import EVENTS

# The kinds, in the order they take their lines from a day's shuffled events.
FAULT_KINDS = (
    "malformed",  # a line cut short: not JSON at all
    "wrong_type",  # a field of the wrong JSON type ("position": "3")
    "missing_field",  # a required field left out
    "unknown_enum",  # a value outside an enum ("device": "console")
    "impossible_value",  # a value the schema forbids (position 0 or below)
    "added_field",  # schema drift: a new field the contract does not know
    "renamed_field",  # schema drift: user_id sent as userId
    "clock_skew",  # the device clock runs 1-3 days ahead
    "duplicate",  # the same event sent twice (an exact copy, same event_id)
    "late",  # an event that arrives in the next day's partition
)

# The kinds that rewrite a line in place; `duplicate` adds a line and `late` moves one.
REWRITTEN_KINDS = tuple(k for k in FAULT_KINDS if k not in ("duplicate", "late"))


@dataclass(frozen=True)
class FaultConfig:
    """The share of each day's events each fault kind corrupts, and on which days (0-based;
    `None` means every day)."""

    rates: Mapping[str, float] = field(default_factory=dict)
    days: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise ValueError(
                    f"unknown fault kind {kind!r}; choose from {', '.join(FAULT_KINDS)}"
                )
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {kind} must be within 0..1, got {rate}")
        if sum(self.rates.values()) > 1.0:
            raise ValueError("fault rates add up to more than 1: each line takes at most one fault")

    @classmethod
    def parse(cls, text: str, days: str | None = None) -> FaultConfig:
        """Read `--faults` ("0.01" for every kind, or "malformed=0.01,late=0.02") and
        `--fault-days` ("2,3")."""
        rates: dict[str, float] = {}
        try:
            if "=" not in text:
                rates = dict.fromkeys(FAULT_KINDS, float(text))
            else:
                for item in text.split(","):
                    kind, _, value = item.partition("=")
                    rates[kind.strip()] = float(value)
            day_list = tuple(int(d) for d in days.split(",")) if days else None
        except ValueError:
            raise ValueError(
                f"cannot read faults {text!r}: write a rate like 0.01 or kind=rate pairs "
                "like malformed=0.01,late=0.02; fault days like 2,3"
            ) from None
        return cls(rates=rates, days=day_list)

    def active_on(self, day: int) -> bool:
        return bool(self.rates) and (self.days is None or day in self.days)


@dataclass(frozen=True)
class FaultedDay:
    """A day's partition after the faults, and the lines it hands on to the next day."""

    lines: pa.Array  # the partition's lines, in file order
    late: pa.Array  # clean lines of this day that land in the next day's partition
    late_ids: pa.Array  # their event ids
    ledger: pa.Table  # event_id, kind, detail: one row per faulted line in this partition
    counts: dict[str, int]  # faulted lines in this partition by kind (late: moved in)


def _mutate(
    kind: str, record: dict, text: str, i: int, rng: np.random.Generator
) -> tuple[str, str]:
    """The corrupted line for one fault and a short note of what was done."""
    if kind == "malformed":
        cut = int(rng.integers(10, len(text) - 10))
        return text[:cut], f"cut at character {cut}"
    if kind == "wrong_type":
        name, value = [
            ("position", str(record["position"])),
            ("event_time", int(np.datetime64(record["event_time"].rstrip("Z"), "ms").astype(int))),
            ("user_id", int(record["user_id"].lstrip("u"))),
        ][i % 3]
        record[name] = value
        return _dump(record), f"{name} as {type(value).__name__}"
    if kind == "missing_field":
        name = EVENTS.required[i % len(EVENTS.required)]
        del record[name]
        return _dump(record), f"{name} left out"
    if kind == "unknown_enum":
        name, value = [("device", "console"), ("surface", "pause_screen"), ("event_type", "view")][
            i % 3
        ]
        record[name] = value
        return _dump(record), f"{name}={value}"
    if kind == "impossible_value":
        record["position"] = -int(i % 3)  # 0, -1 or -2: slots count from 1
        return _dump(record), f"position={record['position']}"
    if kind == "added_field":
        record["app_version"] = "7.4.1"
        return _dump(record), "added app_version"
    if kind == "renamed_field":
        record["userId"] = record.pop("user_id")
        return _dump(record), "user_id renamed userId"
    if kind == "clock_skew":
        ahead_ms = int(rng.integers(24 * 3_600_000, 72 * 3_600_000))
        then = np.datetime64(record["event_time"].rstrip("Z"), "ms") + np.timedelta64(
            ahead_ms, "ms"
        )
        record["event_time"] = f"{then}Z"
        return _dump(record), f"clock ahead by {ahead_ms / 3_600_000:.1f} h"
    raise ValueError(f"{kind} is not a per-line mutation")


def _dump(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


def inject_faults(
    lines: pa.Array,
    event_ids: pa.Array,
    config: FaultConfig | None,
    day: int,
    last_day: bool,
    late_in: pa.Array,
    late_in_ids: pa.Array,
    rng: np.random.Generator,
) -> FaultedDay:
    """Corrupt one day's clean `lines` (each ending in a newline) as `config` asks, and merge
    in the late lines from the day before. The last day hands on no late lines: no partition
    after it exists to receive them."""
    n = len(lines)
    wanted = {k: 0 for k in FAULT_KINDS}
    if config is not None and config.active_on(day):
        for kind, rate in config.rates.items():
            wanted[kind] = 0 if (kind == "late" and last_day) else round(rate * n)
    if not any(wanted.values()) and len(late_in) == 0:
        return FaultedDay(lines, _EMPTY, _EMPTY, _ledger([]), wanted)  # nothing to do: no copy
    chosen, start = {}, 0
    order = rng.permutation(n)
    for kind in FAULT_KINDS:
        chosen[kind] = np.sort(order[start : start + wanted[kind]])
        start += wanted[kind]

    # Per-line corruptions replace the line's text.
    ledger: list[tuple[str, str, str]] = []
    replaced_at: list[int] = []
    replacement: list[str] = []
    for kind in REWRITTEN_KINDS:
        for i, idx in enumerate(chosen[kind]):
            text = lines[int(idx)].as_py().rstrip("\n")
            new_text, detail = _mutate(kind, json.loads(text), text, i, rng)
            replaced_at.append(int(idx))
            replacement.append(new_text + "\n")
            ledger.append((event_ids[int(idx)].as_py(), kind, detail))

    # Assemble: source index into `pool` and a rank that sets the line's place in the file.
    dup, late = chosen["duplicate"], chosen["late"]
    pool = pa.concat_arrays(
        [lines, pa.array(replacement, lines.type), lines.take(pa.array(dup, pa.int64())), late_in]
    )
    source = np.arange(n)
    source[replaced_at] = n + np.arange(len(replaced_at))
    keep = np.ones(n, bool)
    keep[late] = False
    base = np.flatnonzero(keep)
    n_dup, n_late_in = len(dup), len(late_in)
    src = np.concatenate(
        [source[base], n + len(replaced_at) + np.arange(n_dup),
         n + len(replaced_at) + n_dup + np.arange(n_late_in)]
    )  # fmt: skip
    rank = np.concatenate(
        [base.astype(float),
         dup + rng.integers(1, 500, n_dup) + 0.5,  # a re-send follows the original a little later
         rng.uniform(0, n, n_late_in)]  # late arrivals are scattered through the day's upload
    )  # fmt: skip
    final = pool.take(pa.array(src[np.argsort(rank, kind="stable")]))

    ledger += [(event_ids[int(i)].as_py(), "duplicate", "sent twice") for i in dup]
    ledger += [(eid, "late", "from the day before") for eid in late_in_ids.to_pylist()]
    counts = {k: len(chosen[k]) for k in FAULT_KINDS}
    counts["late"] = n_late_in
    idx = pa.array(late, pa.int64())
    return FaultedDay(
        lines=final,
        late=lines.take(idx),
        late_ids=event_ids.take(idx),
        ledger=_ledger(ledger),
        counts=counts,
    )


_EMPTY = pa.array([], pa.large_string())  # the type of `to_json_lines`


def _ledger(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "event_id": pa.array([r[0] for r in rows], pa.string()),
            "kind": pa.array([r[1] for r in rows], pa.string()),
            "detail": pa.array([r[2] for r in rows], pa.string()),
        }
    )
