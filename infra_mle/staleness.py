"""What each serving shape is worth, judged by the simulator's truth: ads and home rows ranked in
real time, from a daily batch, and from scores of a given age.

    python -m infra_mle.staleness [--lake lake/infra_demo]   # after make demo-infra; about 30 s
    result = evaluate(lake, world_dir, day, last_day_events)  # what demo.py calls

The value of an ad break is the expected revenue of the 3 ads it shows (eCPM ranking, position
bias included: `shared.true_value`), per 1,000 ad breaks; the value of a home row is its expected
click rate per slot. Both are asked of the same requests (real contexts from the last logged day,
moved to the serving day) under every shape, so the differences are the shapes' alone.

A score's age matters only if something changes while it waits. The simulator's tastes do not
drift by default, so what changes is the catalogue, as it does at any ad server: `Churn` launches
ads and titles and changes bids during the days, at rates stated as its assumptions. A ranking of
age `a` for a request at time `t` knows the catalogue and the bids as of `t - a`: an ad launched
since is unknown to it (ranked last, as `rank_by_ecpm` ranks an ad without a bid), a changed bid
keeps its old value. A launched item has an id the model never saw, so every shape scores it with
the contract's defaults for an unseen item; the model and the features are the same at every age.

Each curve comes twice: scored in the request's context (device and hour: what a service knows)
and in one fixed context (primary device, 20:00 UTC: all a precomputed batch can know). At age 0
the first is the real-time service; the daily batch (`ad_batch.AdBatch` for ads) is the second
with the catalogue of the day's start, so its age is the time of day of each request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from infra_mle.ad_batch import AdBatch
from infra_mle.batch_score import BATCH_HOUR, K
from infra_mle.online import OnlineScorer
from infra_mle.ranking import PER_MILLE, rank_by_ecpm
from shared.schema import DEVICES
from shared.true_value import shown_click_probability
from shared.world import World

AGES_H = (0, 1, 6, 24, 72, 168)  # the ages of the staleness curves
DAY_S = 86_400
WINDOW_S = max(AGES_H) * 3600  # the churn history the oldest score needs
CANDIDATES = 20  # ads per ad break, as the ad server asks the service
AD_REQUESTS, HOME_VISITS = 2000, 500  # enough for differences of a few percent to be stable
SHAPES = ("request_context", "fixed_context")


@dataclass(frozen=True)
class Churn:
    """How fast the catalogues change: the scenario's assumptions, in one place."""

    ad_launches_per_day: float = 0.02  # share of the ad inventory that launches each day
    bid_changes_per_day: float = 0.2  # expected bid changes per ad per day (campaign pacing)
    bid_change_sigma: float = 0.5  # log-normal: about a third of changes move the bid by over 50%
    title_launches_per_day: float = 0.002  # 2 new titles a day in a catalogue of 1,000
    seed: int = 0


@dataclass(frozen=True)
class Catalogue:
    """One surface's items over the scenario's window (seven days before the serving day, and
    the day itself): the id the serving side sees, the world's hidden item behind it, when it
    launched, and its bid at any moment. Times are seconds from the serving day's start."""

    ids: np.ndarray  # str; a launched item's id ends in "n": the model never saw it
    item: np.ndarray  # index into the world's items, for the truth
    launch_s: np.ndarray  # -inf: live before the window
    bid0: np.ndarray  # dollars per click at the window's start (1 for titles)
    change_of: np.ndarray  # which item each bid change changes
    change_s: np.ndarray
    change_log_factor: np.ndarray

    def bid(self, which: np.ndarray, at_s: np.ndarray) -> np.ndarray:
        """The bids of items `which` at times `at_s` (arrays of one shape)."""
        log_bid = np.log(self.bid0[which])
        for item, when, factor in zip(
            self.change_of, self.change_s, self.change_log_factor, strict=True
        ):
            log_bid += np.where((which == item) & (when <= at_s), factor, 0.0)
        return np.exp(log_bid)


def make_catalogue(world: World, surface: str, churn: Churn) -> Catalogue:
    """The world's items of `surface`, with launches and bid changes drawn from `churn`."""
    rng = np.random.default_rng([churn.seed, 1 if surface == "ad_break" else 2])
    items = world.items[surface]
    n, days = len(items.ids), (WINDOW_S + DAY_S) / DAY_S
    is_ads = surface == "ad_break"
    rate = churn.ad_launches_per_day if is_ads else churn.title_launches_per_day
    new = rng.choice(n, round(rate * n * days), replace=False)
    ids = items.ids.astype(object)
    ids[new] = [f"{i}n" for i in ids[new]]
    launch_s = np.full(n, -np.inf)
    launch_s[new] = rng.uniform(-WINDOW_S, DAY_S, len(new))
    changes = rng.poisson(churn.bid_changes_per_day * n * days) if is_ads else 0
    return Catalogue(
        ids=ids,
        item=np.arange(n),
        launch_s=launch_s,
        bid0=world.ads["bid"].to_numpy(float) if is_ads else np.ones(n),
        change_of=rng.integers(0, n, changes),
        change_s=rng.uniform(-WINDOW_S, DAY_S, changes),
        change_log_factor=rng.normal(0.0, churn.bid_change_sigma, changes),
    )


@dataclass(frozen=True)
class Requests:
    """Requests of the serving day: who, on what, when, and (ads) the candidates asked about."""

    user_id: np.ndarray
    user: np.ndarray  # index into the world's users
    device: np.ndarray  # str
    hour: np.ndarray
    t_s: np.ndarray  # seconds from the serving day's start
    primary_device: np.ndarray  # str: all a batch knows of the device
    candidates: np.ndarray  # (requests, k) indices into the catalogue


def requests_of(
    events: pd.DataFrame, world: World, surface: str, catalogue: Catalogue, n: int, seed: int
) -> Requests:
    """`n` requests of `surface` from the logged day `events`, at the same time of day on the
    serving day. Ad breaks ask about 20 ads drawn from those live at that moment (the logging
    policy draws ads uniformly); a home row ranks the whole catalogue."""
    rng = np.random.default_rng([seed, 3])
    logged = events[(events["event_type"] == "impression") & (events["surface"] == surface)]
    picked = logged.drop_duplicates("request_id").sample(n, random_state=seed, replace=True)
    t = picked["event_time"]
    t_s = (t.dt.hour * 3600 + t.dt.minute * 60 + t.dt.second).to_numpy(float)
    if surface == "ad_break":
        candidates = np.stack(
            [rng.choice(np.flatnonzero(catalogue.launch_s <= s), CANDIDATES, replace=False)
             for s in t_s]
        )  # fmt: skip
    else:
        candidates = np.tile(np.arange(len(catalogue.ids)), (n, 1))
    user = pd.Series(np.arange(len(world.user_ids)), index=world.user_ids)
    users = picked["user_id"].to_numpy(object)
    return Requests(
        user_id=users,
        user=user[users].to_numpy(),
        device=picked["device"].to_numpy(object),
        hour=t.dt.hour.to_numpy(),
        t_s=t_s,
        primary_device=world.users.set_index("user_id")
        .loc[users, "primary_device"]
        .to_numpy(object),
        candidates=candidates,
    )


def candidate_scores(
    scorer: OnlineScorer, requests: Requests, catalogue: Catalogue, shape: str
) -> np.ndarray:
    """(requests, candidates) p(click) from the model, in the request's own context or in the
    batch's fixed one (primary device, `BATCH_HOUR`)."""
    n, k = requests.candidates.shape
    fixed = shape == "fixed_context"
    device = requests.primary_device if fixed else requests.device
    hour = np.full(n, BATCH_HOUR) if fixed else requests.hour
    categorical, dense = scorer.inputs(
        np.repeat(requests.user_id, k), catalogue.ids[requests.candidates.ravel()],
        np.repeat(device, k), np.repeat(hour, k),
    )  # fmt: skip
    return scorer.score_arrays(categorical, dense).reshape(n, k)


def _truth(world: World, surface: str, day: int, requests: Requests, shown_items: np.ndarray):
    device = pd.Series(np.arange(len(DEVICES)), index=DEVICES)[requests.device].to_numpy()
    return shown_click_probability(
        world, surface, day, requests.user, shown_items, requests.hour, device
    )


def ad_revenue_per_1000(
    world: World, day: int, requests: Requests, catalogue: Catalogue, shown: np.ndarray
) -> float:
    """Expected revenue per 1,000 ad breaks of showing `shown` (catalogue indices, best slot
    first): true click probability in each slot x the bid the advertiser pays at that moment."""
    p = _truth(world, "ad_break", day, requests, catalogue.item[shown])
    paid = catalogue.bid(shown, np.broadcast_to(requests.t_s[:, None], shown.shape))
    return float(PER_MILLE * (p * paid).sum(axis=1).mean())


def home_ctr(
    world: World, day: int, requests: Requests, catalogue: Catalogue, shown: np.ndarray
) -> float:
    """Expected click rate per slot of showing the home rows `shown`."""
    return float(_truth(world, "home_row", day, requests, catalogue.item[shown]).mean())


def stale_ad_pods(
    requests: Requests, catalogue: Catalogue, p: np.ndarray, known_at_s: np.ndarray, pod: int
) -> np.ndarray:
    """The `pod` ads shown by a ranking that knows the catalogue and the bids of the moments
    `known_at_s` (one per request), ordered as `rank_by_ecpm` orders: by eCPM, ads it has no
    bid for last, ties by ad id."""
    cand = requests.candidates
    then = np.broadcast_to(known_at_s[:, None], cand.shape)
    known = catalogue.launch_s[cand] <= then
    ecpm = np.where(known, p * catalogue.bid(cand, then) * PER_MILLE, 0.0)
    id_rank = np.argsort(np.argsort(catalogue.ids.astype(str)))[cand]
    order = np.lexsort((id_rank, -ecpm, ~known), axis=-1)
    return np.take_along_axis(cand, order[:, :pod], axis=1)


def stale_home_rows(
    requests: Requests, catalogue: Catalogue, p: np.ndarray, known_at_s: np.ndarray, k: int = K
) -> np.ndarray:
    """The top `k` titles among those launched by the moments `known_at_s` (one per visit);
    ties in catalogue order, as the batch job breaks them."""
    value = np.where(catalogue.launch_s[requests.candidates] <= known_at_s[:, None], p, -np.inf)
    best = np.argsort(-value, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(requests.candidates, best, axis=1)


def realtime_ad_pods(
    requests: Requests, catalogue: Catalogue, p: np.ndarray, pod: int
) -> np.ndarray:
    """The pods the real-time service shows: `rank_by_ecpm` per request, with the bids of the
    request's moment (every candidate is live then)."""
    bids = catalogue.bid(requests.candidates, np.broadcast_to(requests.t_s[:, None], p.shape))
    shown = []
    for cand, scores, bid in zip(requests.candidates, p, bids, strict=True):
        ids = catalogue.ids[cand]
        ranked = rank_by_ecpm(list(ids), scores, dict(zip(ids, bid, strict=True)))
        position = {a: j for j, a in enumerate(ids)}
        shown.append([cand[position[a.ad_id]] for a in ranked[:pod]])
    return np.array(shown)


def batch_ad_pods(
    scorer: OnlineScorer, requests: Requests, catalogue: Catalogue, pod: int
) -> np.ndarray:
    """The pods served from an `AdBatch` run at the start of the serving day."""
    live = np.flatnonzero(catalogue.launch_s <= 0)
    users = pd.DataFrame({"user_id": requests.user_id, "device": requests.primary_device})
    users = users.drop_duplicates("user_id")
    bids = dict(zip(catalogue.ids[live], catalogue.bid(live, np.zeros(len(live))), strict=True))
    batch = AdBatch.build(scorer, users, catalogue.ids[live], bids)
    shown = []
    for user, cand in zip(requests.user_id, requests.candidates, strict=True):
        ids = catalogue.ids[cand]
        position = {a: j for j, a in enumerate(ids)}
        shown.append([cand[position[a]] for a in batch.order(user, list(ids))[:pod]])
    return np.array(shown)


def evaluate(lake, world: World, day: dt.date, events: pd.DataFrame, churn: Churn = Churn(),
             seed: int = 0) -> dict:  # fmt: skip
    """Every figure of the comparison for the serving `day`, from the lake's models and that
    day's snapshot, for requests drawn from the logged `events` (the day before)."""
    from shared.artifacts import latest_model, load_model

    d, pod = (day - world.start).days, world.preset.ad_pod_size
    scorers = {
        s: OnlineScorer.load(load_model(latest_model(lake, s)), lake.online_snapshot(day))
        for s in ("ad_break", "home_row")
    }
    ads, titles = make_catalogue(world, "ad_break", churn), make_catalogue(world, "home_row", churn)
    breaks = requests_of(events, world, "ad_break", ads, AD_REQUESTS, seed)
    visits = requests_of(events, world, "home_row", titles, HOME_VISITS, seed)
    ad_p = {s: candidate_scores(scorers["ad_break"], breaks, ads, s) for s in SHAPES}
    home_p = {s: candidate_scores(scorers["home_row"], visits, titles, s) for s in SHAPES}
    ad_curves = {
        s: [ad_revenue_per_1000(world, d, breaks, ads,
                                stale_ad_pods(breaks, ads, ad_p[s], breaks.t_s - 3600 * h, pod))
            for h in AGES_H]
        for s in SHAPES
    }  # fmt: skip
    home_curves = {
        s: [home_ctr(world, d, visits, titles,
                     stale_home_rows(visits, titles, home_p[s], visits.t_s - 3600 * h))
            for h in AGES_H]
        for s in SHAPES
    }  # fmt: skip
    # The real-time service's own ranking, and a daily batch run at 00:00 (the catalogue and bids
    # of the day's start, one fixed context), each through the code that serves it.
    ads_realtime = ad_revenue_per_1000(
        world, d, breaks, ads, realtime_ad_pods(breaks, ads, ad_p["request_context"], pod)
    )
    ads_batch = ad_revenue_per_1000(
        world, d, breaks, ads, batch_ad_pods(scorers["ad_break"], breaks, ads, pod)
    )
    at_start = np.zeros(len(visits.t_s))
    home_batch = home_ctr(
        world, d, visits, titles, stale_home_rows(visits, titles, home_p["fixed_context"], at_start)
    )
    ads_fixed, home_fixed = ad_curves["fixed_context"][0], home_curves["fixed_context"][0]
    home_realtime = home_curves["request_context"][0]
    today = (ads.launch_s > 0) & (ads.launch_s < DAY_S)
    return {
        "serving_day": day.isoformat(),
        "ages_h": list(AGES_H),
        "churn": asdict(churn),
        "seed": seed,
        "ad_break": {
            "requests": AD_REQUESTS,
            "candidates": CANDIDATES,
            "pod": pod,
            "realtime_revenue_per_1000": ads_realtime,
            "batch_revenue_per_1000": ads_batch,
            # the batch's loss, split: not knowing the request's context, not knowing the day
            "context_cost_per_1000": ads_realtime - ads_fixed,
            "freshness_cost_per_1000": ads_fixed - ads_batch,
            "batch_mean_age_h": float(breaks.t_s.mean() / 3600),
            "live_ads_at_start": int((ads.launch_s <= 0).sum()),
            "launched_today": int(today.sum()),
            "bid_changes_today": int(((ads.change_s > 0) & (ads.change_s < DAY_S)).sum()),
            "curves": ad_curves,
        },
        "home_row": {
            "visits": HOME_VISITS,
            "slots": K,
            "realtime_ctr": home_realtime,
            "batch_ctr": home_batch,
            "context_cost": home_realtime - home_fixed,
            "freshness_cost": home_fixed - home_batch,
            "batch_mean_age_h": float(visits.t_s.mean() / 3600),
            "launched_today": int(((titles.launch_s > 0) & (titles.launch_s < DAY_S)).sum()),
            "curves": home_curves,
        },
    }


def plot(result: dict, path: Path, break_even_pct: dict[str, float] | None = None) -> None:
    """Both products on one chart: value against the age of the scores, as a share of the
    real-time value, in the request's context and in the batch's; the daily batch at its mean
    age; where given, the share below which real time pays for itself (`cost.py`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ages = [max(h, 0.25) for h in result["ages_h"]]  # age 0 drawn at 15 min on the log axis
    names = {"ad_break": "ads: revenue per 1,000 breaks", "home_row": "home row: click rate"}
    colours = {"ad_break": "tab:red", "home_row": "tab:blue"}
    for surface, label in names.items():
        r = result[surface]
        real = r["curves"]["request_context"][0]
        for shape, style in (("request_context", "-"), ("fixed_context", "--")):
            values = [100 * v / real for v in r["curves"][shape]]
            where = "request's context" if shape == "request_context" else "fixed context (batch)"
            ax.plot(ages, values, style, marker="o", color=colours[surface],
                    label=f"{label}, {where}")  # fmt: skip
        batch = r["batch_revenue_per_1000" if surface == "ad_break" else "batch_ctr"]
        short = label.split(":")[0]
        ax.plot([r["batch_mean_age_h"]], [100 * batch / real], marker="*", markersize=14,
                color=colours[surface], linestyle="none",
                label=f"{short}: daily batch")  # fmt: skip
        if break_even_pct and surface in break_even_pct:
            ax.axhline(
                break_even_pct[surface], color=colours[surface], linewidth=0.8, linestyle=":"
            )
            ax.annotate(f"{short}: below this line, real time pays for itself",
                        (ages[-1], break_even_pct[surface]), fontsize=7, ha="right", va="bottom",
                        color=colours[surface])  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(ages, ["0", "1 h", "6 h", "24 h", "3 d", "7 d"])
    ax.set_xlabel("age of the scores when served (catalogue and bids known as of then)")
    ax.set_ylabel("% of the real-time value")
    ax.set_title("What stale scores cost: ads against the home row")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from shared.generate import read_events
    from shared.lake import Lake
    from shared.settings import get_settings
    from shared.storage import atomic_write_json
    from shared.true_value import world_of

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", type=Path, default=None, help="default: <lake>/infra_demo")
    args = parser.parse_args(argv)
    settings = get_settings()
    lake = Lake(args.lake or settings.lake_root / "infra_demo")
    events = read_events(lake.root / "world")
    last = pd.to_datetime(events["ingest_date"]).dt.date.max()
    logged = events[pd.to_datetime(events["ingest_date"]).dt.date == last]
    day = last + dt.timedelta(days=1)
    result = evaluate(lake, world_of(lake.root / "world"), day, logged, seed=settings.seed)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(settings.reports_dir / "staleness.json", result)
    plot(result, settings.reports_dir / "staleness.png")
    for surface in ("ad_break", "home_row"):
        print(surface, {k: v for k, v in result[surface].items() if k != "curves"})
        for shape, values in result[surface]["curves"].items():
            print(f"  {shape:16}", " ".join(f"{v:.4f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
