"""The feature contract between the data MLE and everyone who trains or serves a model.

A feature set *as of day D* is computed only from bronze events that arrived before D
(`ingest_date < D`): a model trained on day D's impressions, or serving on day D, sees exactly
what was known when D began. Windows are counted in arrival days: `_7d` is D-7 .. D-1.

    users, items, contexts = compute_features(bronze_events, as_of=date(2026, 1, 8))

This module is the *reference implementation* (pandas), for small data and for checking. The
Spark job in `data_mle/features.py` must give the same values on the same input
(`tests/data_mle/test_features.py`). Change a definition here, bump `FEATURE_SPEC_VERSION`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FEATURE_SPEC_VERSION = "1"
WINDOWS = (1, 7, 28)  # days
SURFACE_PREFIX = {"ad_break": "ad", "home_row": "home"}
# Click rates are smoothed towards a prior so that 1 click in 2 impressions is not "50%":
# ctr = (clicks + PRIOR_STRENGTH * prior) / (impressions + PRIOR_STRENGTH).
PRIOR_CTR = {"ad_break": 0.02, "home_row": 0.06}
PRIOR_STRENGTH = 20.0
RECENCY_CAP = max(WINDOWS) + 1  # "not seen within the longest window"
CONTEXT_WINDOW = 7


@dataclass(frozen=True)
class FeatureTable:
    """A table of the feature set: its key columns and its value columns, in order."""

    name: str
    keys: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return [*self.keys, *self.values]


def _window_columns(prefix: str) -> tuple[str, ...]:
    return tuple(
        f"{prefix}{stat}_{w}d" for w in WINDOWS for stat in ("impressions", "clicks", "ctr")
    )


USER_FEATURES = FeatureTable(
    "user_features",
    ("user_id",),
    (
        *(col for s in SURFACE_PREFIX.values() for col in _window_columns(f"{s}_")),
        "plays_28d",
        "watch_time_s_28d",
        "days_since_last_event",
    ),
)
ITEM_FEATURES = FeatureTable("item_features", ("item_id", "surface"), _window_columns(""))
CONTEXT_FEATURES = FeatureTable(
    "context_features",
    ("surface", "device", "hour"),
    (f"impressions_{CONTEXT_WINDOW}d", f"clicks_{CONTEXT_WINDOW}d", f"ctr_{CONTEXT_WINDOW}d"),
)
FEATURE_TABLES = (USER_FEATURES, ITEM_FEATURES, CONTEXT_FEATURES)


def _recent(events: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The events that arrived in the longest window before `as_of`, only the columns the
    features read, with each event's age in arrival days and impression and click flags: the
    one pass over the events every table starts from."""
    if "_age" in events.columns:
        return events  # already prepared by compute_features
    arrived = pd.to_datetime(events["ingest_date"]).to_numpy().astype("datetime64[D]")
    age = (np.datetime64(as_of, "D") - arrived).astype("int64")
    keep = (age >= 1) & (age <= max(WINDOWS))
    columns = ["event_type", "event_time", "user_id", "item_id", "surface", "device"]
    recent = events.loc[keep, [*columns, "watch_time_s", "ingest_date"]]
    return recent.assign(
        _age=age[keep],
        _imp=(recent["event_type"] == "impression").astype("int64"),
        _click=(recent["event_type"] == "click").astype("int64"),
    )


def _known_before(recent: pd.DataFrame, days: int) -> pd.DataFrame:
    """Events that arrived in the `days` days before the as-of day."""
    return recent[recent["_age"] <= days]


def user_features(events: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    events = _recent(events, as_of)
    parts = []
    for w in WINDOWS:
        recent = _known_before(events, w)
        for surface, prefix in SURFACE_PREFIX.items():
            g = recent[recent["surface"] == surface].groupby("user_id")[["_imp", "_click"]].sum()
            names = {"_imp": f"{prefix}_impressions_{w}d", "_click": f"{prefix}_clicks_{w}d"}
            parts.append(g.rename(columns=names))
    month = _known_before(events, max(WINDOWS))
    plays = month[month["event_type"] == "play"].groupby("user_id")["watch_time_s"]
    parts.append(plays.count().rename("plays_28d").to_frame())
    parts.append(plays.sum().rename("watch_time_s_28d").to_frame())
    last_age = month.groupby("user_id")["_age"].min()
    parts.append(last_age.rename("days_since_last_event").to_frame())
    frame = pd.concat(parts, axis=1).reset_index(names="user_id")
    return finish(frame, USER_FEATURES)


def item_features(events: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    events = _recent(events, as_of)
    parts = []
    for w in WINDOWS:
        recent = _known_before(events, w)
        g = recent.groupby(["item_id", "surface"])[["_imp", "_click"]].sum()
        parts.append(g.rename(columns={"_imp": f"impressions_{w}d", "_click": f"clicks_{w}d"}))
    frame = pd.concat(parts, axis=1).reset_index()
    return finish(frame, ITEM_FEATURES)


def context_features(events: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    recent = _known_before(_recent(events, as_of), CONTEXT_WINDOW)
    recent = recent.assign(hour=pd.to_datetime(recent["event_time"], utc=True).dt.hour)
    g = recent.groupby(["surface", "device", "hour"])[["_imp", "_click"]].sum()
    w = CONTEXT_WINDOW
    frame = g.rename(columns={"_imp": f"impressions_{w}d", "_click": f"clicks_{w}d"}).reset_index()
    return finish(frame, CONTEXT_FEATURES)


def ctr_columns(table: FeatureTable) -> list[tuple[str, str, str, str | None]]:
    """(ctr, clicks, impressions, surface) of each smoothed-CTR column of `table`; a surface
    of None means the row's own `surface` column. Both implementations derive their CTRs here."""
    if table is USER_FEATURES:
        return [
            (f"{p}_ctr_{w}d", f"{p}_clicks_{w}d", f"{p}_impressions_{w}d", surface)
            for surface, p in SURFACE_PREFIX.items()
            for w in WINDOWS
        ]
    windows = (CONTEXT_WINDOW,) if table is CONTEXT_FEATURES else WINDOWS
    return [(f"ctr_{w}d", f"clicks_{w}d", f"impressions_{w}d", None) for w in windows]


def finish(frame: pd.DataFrame, table: FeatureTable) -> pd.DataFrame:
    """Fill what a window did not see (zero counts, the capped recency), add the smoothed CTRs,
    and fix the types and the column and row order: the reference's last step. (The Spark job
    gets the same result in Spark: its conditional counts are already zero where nothing was
    seen, and it takes its CTR columns from `ctr_columns` as well.)"""
    frame = frame.copy()
    ctrs = ctr_columns(table)
    ctr_names = {c[0] for c in ctrs}
    for col in table.values:
        if col == "days_since_last_event":
            frame[col] = frame[col].fillna(RECENCY_CAP).astype("int64")
        elif col == "watch_time_s_28d":
            frame[col] = frame[col].astype("float64").fillna(0.0)
        elif col not in ctr_names:
            frame[col] = frame[col].fillna(0).astype("int64")
    for ctr, clicks, impressions, surface in ctrs:
        prior = PRIOR_CTR[surface] if surface else frame["surface"].map(PRIOR_CTR)
        frame[ctr] = (frame[clicks] + PRIOR_STRENGTH * prior) / (
            frame[impressions] + PRIOR_STRENGTH
        )
        frame[ctr] = frame[ctr].astype("float64")
    for key in table.keys:
        frame[key] = frame[key].astype("int64" if key == "hour" else object)
    return frame[table.columns].sort_values(list(table.keys), ignore_index=True)


def compute_features(events: pd.DataFrame, as_of: dt.date) -> tuple[pd.DataFrame, ...]:
    """The user, item and context feature tables as of `as_of`, from bronze events (the
    `EVENTS` columns plus `ingest_date`)."""
    recent = _recent(events, as_of)
    return (
        user_features(recent, as_of),
        item_features(recent, as_of),
        context_features(recent, as_of),
    )


# The training-set layout: what `data_mle/training.py` writes to `gold/training/{surface}` and
# what a model reads, trains on and serves with. One row per impression: these keys and the
# label, then every feature column, the item and context ones prefixed (user names are unique).
# `request_id` groups the slots of one ranked list (a home row, an ad pod) for ranking metrics.
TRAINING_KEYS = (
    "event_id", "event_time", "request_id", "user_id", "item_id", "surface", "position",
    "device", "hour", "context_title_id", "label",
)  # fmt: skip
FEATURE_PREFIX = {
    USER_FEATURES.name: "",
    ITEM_FEATURES.name: "item_",
    CONTEXT_FEATURES.name: "ctx_",
}


def feature_columns() -> list[str]:
    """The feature columns of a training row, in order."""
    return [FEATURE_PREFIX[t.name] + v for t in FEATURE_TABLES for v in t.values]


def feature_defaults(surface: str) -> dict[str, float]:
    """What each feature column holds for a key its table has never seen: zero counts, the
    prior click rate, the capped recency; the same values `finish` gives."""
    defaults: dict[str, float] = {}
    for table in FEATURE_TABLES:
        ctr_surface = {ctr: own or surface for ctr, _, _, own in ctr_columns(table)}
        for col in table.values:
            if col == "days_since_last_event":
                value: float = RECENCY_CAP
            elif col in ctr_surface:
                value = PRIOR_CTR[ctr_surface[col]]
            elif col == "watch_time_s_28d":
                value = 0.0  # the one float count
            else:
                value = 0
            defaults[FEATURE_PREFIX[table.name] + col] = value
    return defaults


def attach_features(
    rows: pd.DataFrame, features: tuple[pd.DataFrame, ...], surface: str
) -> pd.DataFrame:
    """`rows` of one surface (with `user_id`, `item_id`, `device` and `hour`) joined to the
    user, item and context tables of `compute_features`, unseen keys filled with
    `feature_defaults`: the pandas reference of the training set's join, also used to score
    candidates nobody has shown yet."""
    if (rows["surface"] != surface).any():
        raise ValueError(f"attach_features takes rows of one surface ({surface}) at a time")
    out = rows
    for table, frame in zip(FEATURE_TABLES, features, strict=True):
        prefix = FEATURE_PREFIX[table.name]
        right = frame.rename(columns={v: prefix + v for v in table.values})
        if "surface" in table.keys:
            right = right[right["surface"] == surface]
        out = out.merge(right, on=list(table.keys), how="left", validate="many_to_one")
    defaults = feature_defaults(surface)
    for col, value in defaults.items():
        kind = "float64" if isinstance(value, float) else "int64"
        out[col] = out[col].fillna(value).astype(kind)
    return out


def training_set(
    events: pd.DataFrame,
    day: dt.date,
    surface: str,
    features: tuple[pd.DataFrame, ...] | None = None,
) -> pd.DataFrame:
    """The pandas reference of `gold/training/{surface}/dt=day`: the impressions that arrived on
    `day`, labelled 1 when a click naming the impression arrived the same day, with the features
    as of `day` (computed here unless given). Rows are in (event_time, event_id) order."""
    arrived = events[pd.to_datetime(events["ingest_date"]).dt.date == day]
    clicked = arrived.loc[arrived["event_type"] == "click", "impression_id"].unique()
    rows = arrived[(arrived["event_type"] == "impression") & (arrived["surface"] == surface)]
    rows = rows.assign(
        label=rows["event_id"].isin(clicked).astype("int32"),
        hour=pd.to_datetime(rows["event_time"], utc=True).dt.hour.astype("int64"),
    )[list(TRAINING_KEYS)]
    if features is None:
        features = compute_features(events, day)
    out = attach_features(rows, features, surface)
    return out.sort_values(["event_time", "event_id"], ignore_index=True)


def write_snapshot(dest: Path, events: pd.DataFrame, as_of: dt.date) -> Path:
    """The online feature snapshot of `as_of` from bronze events, in the layout data_mle's publish
    step writes (`gold/online_snapshot/dt=D/`: one Parquet file per table and a manifest with the
    spec version and the day), written atomically: for services and demos that start from events
    instead of from the Spark pipeline."""
    import pyarrow as pa

    from shared.storage import atomic_partition

    with atomic_partition(dest) as part:
        for table, frame in zip(FEATURE_TABLES, compute_features(events, as_of), strict=True):
            part.write_table(
                f"{table.name}.parquet", pa.Table.from_pandas(frame, preserve_index=False)
            )
        part.extra.update(
            {"feature_spec_version": FEATURE_SPEC_VERSION, "as_of": as_of.isoformat()}
        )
    return dest
