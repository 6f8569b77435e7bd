"""One day of Marquee traffic: sessions, impressions, clicks and plays, in columns.

Each session opens the home row (10 titles, logged as impressions) and watches a title, during
which 0 or more ad breaks each show a pod of 3 ads. Clicks are drawn from the true probability in
`shared.click_model`; a home-row click starts a play, whose watch time grows with relevance.
What ads and titles get shown is the *logging policy*: titles by popularity, ads uniformly at
random (so offline policy evaluation on these logs is unbiased).

Everything is vectorised with numpy, because the generator's budget is a million events per
second per core. `simulate_day` is pure: the same world, day and seed give the same columns.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from shared.click_model import click_probability
from shared.schema import DEVICES, EVENT_TYPES, SURFACES
from shared.world import ItemSet, World

MS_PER_DAY = 86_400_000
# Sessions per hour of day (UTC is the service's main time zone): a quiet night, an evening peak.
HOUR_PROFILE = np.array(
    [3, 2, 1.5, 1, 1, 1, 1.5, 2.5, 3, 3, 3, 3.5, 4, 4, 4, 4.5, 5, 6, 7.5, 9, 10, 9, 7, 5]
)
WEEKEND_FACTOR = 1.2  # people watch more on Saturdays and Sundays
AD, HOME = SURFACES.index("ad_break"), SURFACES.index("home_row")  # surface codes in the arrays


@dataclass(frozen=True)
class DayEvents:
    """A day's clean events (the `EVENTS` columns, string columns dictionary-encoded, in time
    order) and the ground truth of its impressions (the `TRUTH` columns)."""

    day: int
    events: pa.Table
    truth: pa.Table


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 12) -> pa.StringArray:
    """`n` random hex ids of `2 * nbytes` characters, built straight from one byte buffer."""
    width = 2 * nbytes
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = binascii.hexlify(rng.bytes(n * nbytes))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _distinct_rows(
    rng: np.random.Generator, weights: np.ndarray, rows: int, width: int
) -> np.ndarray:
    """`rows` x `width` item indices drawn by `weights`, no item twice in a row. Rows with a
    repeat are redrawn; with the presets' catalogue sizes that takes a few rounds."""
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    out = np.searchsorted(cdf, rng.random((rows, width)), side="right")
    for _ in range(100):
        ordered = np.sort(out, axis=1)
        bad = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not bad.any():
            return out
        out[bad] = np.searchsorted(cdf, rng.random((int(bad.sum()), width)), side="right")
    raise RuntimeError("could not draw distinct items; the catalogue is smaller than a row")


def _shown_weights(items: ItemSet, day: int, uniform: bool) -> np.ndarray:
    released = items.release_day <= day
    weights = np.where(released, 1.0 if uniform else items.popularity, 0.0)
    return weights / weights.sum()


def simulate_day(world: World, day: int) -> DayEvents:
    """Simulate day `day` (0-based) of `world`."""
    preset = world.preset
    rng = np.random.default_rng([world.seed, 1, day])
    date = world.date_of(day)
    day_start = int(pd.Timestamp(date, tz="UTC").value // 1_000_000)
    day_end = day_start + MS_PER_DAY - 1
    n = round(preset.sessions_per_day * (WEEKEND_FACTOR if date.weekday() >= 5 else 1.0))

    # Sessions: who, on what device, when.
    user = np.searchsorted(
        np.cumsum(world.user_activity), rng.random(n) * world.user_activity.sum()
    )
    user = np.minimum(user, preset.n_users - 1)
    device = np.where(
        rng.random(n) < 0.75, world.user_device[user], rng.integers(0, len(DEVICES), n)
    )
    hour = np.searchsorted(np.cumsum(HOUR_PROFILE / HOUR_PROFILE.sum()), rng.random(n))
    k = preset.home_row_size
    # A session starting in the day's last milliseconds still logs its whole home row that day.
    start = np.minimum(day_start + hour * 3_600_000 + rng.integers(0, 3_600_000, n), day_end - k)
    session_id = hex_ids(rng, n, 8)
    titles, ads = world.items["home_row"], world.items["ad_break"]
    watching = _distinct_rows(rng, _shown_weights(titles, day, uniform=False), n, 1)[:, 0]

    # Home row: one request per session, `home_row_size` slots.
    home_items = _distinct_rows(rng, _shown_weights(titles, day, uniform=False), n, k).ravel()
    home_session = np.repeat(np.arange(n), k)
    home_position = np.tile(np.arange(1, k + 1), n)
    home_time = start[home_session] + home_position  # one millisecond apart, in slot order
    home_request = np.repeat(np.arange(n), k)

    # Ad breaks: a Poisson number per session, each a pod of `ad_pod_size` ads.
    breaks = rng.poisson(preset.ad_breaks_per_session, n)
    break_session = np.repeat(np.arange(n), breaks)
    break_time = np.minimum(
        start[break_session] + rng.integers(5 * 60_000, 90 * 60_000, len(break_session)),
        day_end - preset.ad_pod_size,  # a session that runs past midnight ends at midnight
    )
    pod = preset.ad_pod_size
    ad_items = _distinct_rows(rng, _shown_weights(ads, day, uniform=True), len(break_session), pod)
    ad_session = np.repeat(break_session, pod)
    ad_position = np.tile(np.arange(1, pod + 1), len(break_session))
    ad_time = np.repeat(break_time, pod) + ad_position
    ad_request = n + np.repeat(np.arange(len(break_session)), pod)
    request_ids = hex_ids(rng, n + len(break_session), 8)  # home-row requests, then ad breaks

    # Impressions of both surfaces, with their true click probability and the drawn click.
    surface = np.concatenate(
        [np.full(len(ad_session), AD, np.int8), np.full(len(home_session), HOME, np.int8)]
    )
    session = np.concatenate([ad_session, home_session])
    item = np.concatenate([ad_items.ravel(), home_items])
    position = np.concatenate([ad_position, home_position])
    time = np.concatenate([ad_time, home_time])
    request = np.concatenate([ad_request, home_request])
    hour_of = (time - day_start) // 3_600_000
    p = np.empty(len(item))
    for code, name in enumerate(SURFACES):
        m = surface == code
        p[m] = click_probability(
            world, name, day, user[session[m]], item[m], hour_of[m], device[session[m]],
            position[m],
        )  # fmt: skip
    clicked = rng.random(len(p)) < p

    # Clicks follow their impression by a few seconds; a home-row click starts a play.
    c = np.flatnonzero(clicked)
    click_time = np.minimum(time[c] + rng.integers(500, 15_000, len(c)), day_end)
    plays = c[surface[c] == HOME]
    play_time = np.minimum(time[plays] + rng.integers(2_000, 20_000, len(plays)), day_end)
    duration_s = world.titles["duration_min"].to_numpy()[item[plays]] * 60.0
    share = rng.beta(1.0 + 4.0 * np.sqrt(p[plays]), 2.0)  # liked titles are watched longer
    n_imp, n_click, n_play = len(p), len(c), len(plays)

    # One row per event: impressions, then clicks, then plays, sorted by time below. The string
    # columns are dictionary-encoded (small integer indices into the id lists), which keeps a
    # day of millions of events in compact numpy buffers instead of Python strings.
    src = np.concatenate([np.arange(n_imp), c, plays])  # the impression each row comes from
    kind = np.repeat(np.arange(3, dtype=np.int8), [n_imp, n_click, n_play])
    ev_surface = surface[src]
    ev_session = session[src]
    is_ad = ev_surface == AD
    n_ads = len(ads.ids)
    event_id = hex_ids(rng, len(src))
    watch = np.full(len(src), np.nan)
    watch[n_imp + n_click :] = np.round(share * duration_s, 1)

    events = pa.table(
        {
            "event_id": event_id,
            "event_type": _coded(kind, EVENT_TYPES),
            "event_time": pa.array(
                np.concatenate([time, click_time, play_time]).astype("datetime64[ms]"),
                type=pa.timestamp("ms", tz="UTC"),
            ),
            "user_id": _coded(user[ev_session], world.user_ids),
            "session_id": _coded(ev_session, session_id),
            "request_id": _coded(request[src], request_ids),
            "surface": _coded(ev_surface, SURFACES),
            "item_id": _coded(
                np.where(is_ad, item[src], n_ads + item[src]), np.concatenate([ads.ids, titles.ids])
            ),
            "position": pa.array(position[src].astype(np.int32)),
            "device": _coded(device[ev_session], DEVICES),
            "context_title_id": _coded(watching[ev_session], titles.ids, valid=is_ad),
            "impression_id": _coded(src, event_id.slice(0, n_imp), valid=kind > 0),
            "watch_time_s": pa.array(watch, from_pandas=True),  # NaN means null: not a play
        }
    )
    order = np.lexsort((kind, np.concatenate([time, click_time, play_time])))
    truth = pa.table(
        {
            "event_id": event_id.slice(0, n_imp),
            "surface": _coded(surface, SURFACES),
            "p_click": pa.array(p),
            "clicked": pa.array(clicked),
        }
    )
    return DayEvents(day=day, events=events.take(order), truth=truth)


def _coded(
    indices: np.ndarray,
    values: Sequence[str] | np.ndarray | pa.Array,
    valid: np.ndarray | None = None,
) -> pa.DictionaryArray:
    """A dictionary-encoded string column: `values[indices]`, null where `valid` is False."""
    mask = None if valid is None else ~valid
    return pa.DictionaryArray.from_arrays(
        pa.array(indices.astype(np.int32), mask=mask), pa.array(values, pa.string())
    )
