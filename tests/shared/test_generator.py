"""The Marquee world generator: deterministic, sized as documented, realistic click rates,
a sane oracle, and drift that really changes the data."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from shared.generate import GenerateConfig, generate
from shared.lake import BUSINESS_EVENT_FILES
from shared.oracle import oracle_by_surface, read_truth
from shared.presets import PRESETS, get_preset
from shared.raw_log import read_business_lines
from shared.simulate import simulate_day
from shared.world import Drift, build_world

START = dt.date(2026, 1, 5)


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_and_preset_give_byte_identical_files(tmp_path: Path):
    config = GenerateConfig(preset="tiny", days=2, seed=3, faults=None)
    generate(config, tmp_path / "a")
    generate(config, tmp_path / "b")
    first, second = _digest_tree(tmp_path / "a"), _digest_tree(tmp_path / "b")
    assert len(first) > 10
    assert first == second


def test_a_different_seed_gives_different_events(tmp_path: Path):
    generate(GenerateConfig(preset="tiny", days=1, seed=3), tmp_path / "a")
    generate(GenerateConfig(preset="tiny", days=1, seed=4), tmp_path / "b")
    for name in BUSINESS_EVENT_FILES:
        path = f"raw/events/dt=2026-01-05/{name}"
        assert _digest_tree(tmp_path / "a")[path] != _digest_tree(tmp_path / "b")[path]


@pytest.mark.parametrize("name", list(PRESETS))
def test_entity_counts_match_the_preset(name: str):
    preset = get_preset(name)
    world = build_world(preset, seed=1, start=START)
    assert len(world.users) == preset.n_users
    assert len(world.titles) == preset.n_titles
    assert len(world.ads) == preset.n_ads
    assert world.users["user_id"].is_unique and world.ads["ad_id"].is_unique


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_a_day_has_one_home_row_per_session_and_whole_ad_pods(name: str):
    preset = get_preset(name)
    day = simulate_day(build_world(preset, seed=1, start=START), 0)  # a Monday: no weekend boost
    events = day.events.to_pandas()
    impressions = events[events.event_type == "impression"]
    home = impressions[impressions.surface == "home_row"]
    ads = impressions[impressions.surface == "ad_break"]
    assert len(home) == preset.sessions_per_day * preset.home_row_size
    assert len(ads) % preset.ad_pod_size == 0
    assert (
        home.groupby("request_id", observed=True).item_id.nunique().eq(preset.home_row_size).all()
    )
    # About 16 events per session, the figure the README's preset table is built on.
    assert 14 <= len(events) / preset.sessions_per_day <= 19
    assert events.event_id.is_unique
    assert (events.event_time.dt.date == START).all(), "a clean day's events all fall on that day"
    assert (events.event_time.diff().dropna() >= dt.timedelta(0)).all(), "log is in time order"


def test_clicks_and_plays_point_at_an_impression_of_the_same_day():
    day = simulate_day(build_world(get_preset("tiny"), seed=2, start=START), 0)
    events = day.events.to_pandas()
    impressions = events[events.event_type == "impression"].set_index("event_id")
    follow_ups = events[events.event_type != "impression"]
    assert follow_ups.impression_id.isin(impressions.index).all()
    source = impressions.loc[follow_ups.impression_id]
    assert (follow_ups.item_id.to_numpy() == source.item_id.to_numpy()).all()
    assert (follow_ups.event_time.to_numpy() >= source.event_time.to_numpy()).all()
    plays = events[events.event_type == "play"]
    assert (plays.surface == "home_row").all() and (plays.watch_time_s >= 0).all()
    clicks = events[events.event_type == "click"]
    truth = day.truth.to_pandas().set_index("event_id")
    assert truth.loc[clicks.impression_id].clicked.all()
    assert int(truth.clicked.sum()) == len(clicks)


def test_click_rates_per_surface_lie_in_the_stated_bands():
    truth = simulate_day(build_world(get_preset("small"), seed=7, start=START), 0).truth
    surface = truth.column("surface").cast("string")
    clicked = truth.column("clicked")
    rate = {
        s: pc.mean(pc.cast(pc.filter(clicked, pc.equal(surface, s)), "double")).as_py()
        for s in ("ad_break", "home_row")
    }
    assert 0.01 <= rate["ad_break"] <= 0.03  # the README: ads about 2%
    assert 0.04 <= rate["home_row"] <= 0.10  # the README: home row about 6-7%
    assert rate["home_row"] > rate["ad_break"]


def test_oracle_metrics_are_computed_and_sane(clean_dataset):
    out, summary = clean_dataset
    oracle = oracle_by_surface(read_truth(out))
    assert oracle.keys() == summary["oracle"].keys() == {"ad_break", "home_row"}
    for surface, metrics in summary["oracle"].items():
        assert oracle[surface] == pytest.approx(metrics)
    for metrics in oracle.values():
        assert 0.7 < metrics["auc"] < 0.95  # informative, far from perfect: clicks are random
        # The true probabilities are calibrated: the click rate is within 4 standard errors of
        # their mean...
        p, n = metrics["mean_p"], metrics["impressions"]
        assert abs(metrics["ctr"] - p) < 4 * np.sqrt(p * (1 - p) / n)
        # ...and they beat a constant guess of the click rate on log loss.
        ctr = metrics["ctr"]
        constant = -(ctr * np.log(ctr) + (1 - ctr) * np.log(1 - ctr))
        assert metrics["logloss"] < constant


def test_the_truth_is_kept_apart_from_the_raw_log(clean_dataset):
    out, _ = clean_dataset
    raw = list((out / "raw").rglob("*"))
    assert raw and not any("truth" in p.name or "latent" in p.name for p in raw)
    lines = read_business_lines(out / "raw/events/dt=2026-01-05")
    assert lines and not any(b"p_click" in line for line in lines)


def test_taste_drift_changes_the_click_distribution_after_the_drift_day():
    preset = get_preset("small")
    plain = build_world(preset, seed=5, start=START)
    drifted = build_world(
        preset, seed=5, start=START, drift=Drift(day=2, kind="tastes", strength=0.8)
    )

    def p_by_item(world, day):
        t = simulate_day(world, day).truth.to_pandas()
        return t.p_click.to_numpy()

    # Before the drift day the drifted world is the same world.
    assert np.array_equal(p_by_item(plain, 1), p_by_item(drifted, 1))
    # From it on, the same impressions get other click probabilities.
    after_plain, after_drift = p_by_item(plain, 2), p_by_item(drifted, 2)
    assert np.corrcoef(after_plain, after_drift)[0, 1] < 0.9


def test_catalogue_drift_releases_new_titles_that_the_home_row_shows():
    world = build_world(
        get_preset("tiny"), seed=5, start=START, drift=Drift(day=2, kind="catalogue", strength=0.25)
    )
    new_titles = set(world.titles.title_id[world.titles.release_date == START + dt.timedelta(2)])
    assert len(new_titles) == 30  # a quarter of the 120-title catalogue

    def shown(day: int) -> set[str]:
        e = simulate_day(world, day).events.to_pandas()
        return set(e.item_id[(e.surface == "home_row") & (e.event_type == "impression")])

    assert not shown(1) & new_titles
    assert len(shown(2) & new_titles) > 20


def test_a_drift_after_the_last_day_is_refused():
    with pytest.raises(ValueError, match="after the last day"):
        GenerateConfig(preset="tiny", days=3, drift=Drift(day=3))
