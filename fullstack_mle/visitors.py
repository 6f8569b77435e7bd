"""Simulated viewers: people of the Marquee world who visit through the app's HTTP API and click
the way the simulator's ground truth says they would.

Each visitor is drawn as the generator draws sessions (by activity, on their usual device three
times out of four, at an hour of the evening-heavy profile). They open the app (`POST /api/visits`:
a home row and an ad break), look at every slot, click with the true probability of that user,
item, slot and moment (`shared.click_model`), and send their clicks (`POST /api/events`). Beside
what they did, the simulator says what was possible: the oracle policy, which ranks by the true
probabilities (home row: the best titles; ad break: the best expected revenue among the same
eligible ads), and its expected clicks. The gap is the regret of the models in production.

    report = run_visitors("http://127.0.0.1:8080", truth, day, n=400, seed=7)
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import httpx
import numpy as np

from fullstack_mle.visit import click_event
from shared.click_model import examination, relevance_logit
from shared.schema import DEVICES
from shared.simulate import HOUR_PROFILE
from shared.world import World


@dataclass
class GroundTruth:
    """The simulator's view of one day: true click probabilities by id, and the oracle."""

    world: World
    day: dt.date
    bids: dict[str, float]

    def __post_init__(self) -> None:
        self.day_index = (self.day - self.world.start).days
        self.users = {u: i for i, u in enumerate(self.world.user_ids)}
        self.items = {
            s: {x: i for i, x in enumerate(self.world.items[s].ids)} for s in self.world.items
        }
        titles = self.world.items["home_row"]
        self.live_titles = np.flatnonzero(titles.release_day <= self.day_index)

    def relevance(self, surface: str, user: str, items: np.ndarray, hour: int, device: str):
        """p(click | the slot is seen) of each item index: the part a ranking can change."""
        n = len(items)
        logit = relevance_logit(
            self.world,
            surface,
            self.day_index,
            np.full(n, self.users[user]),
            items,
            np.full(n, hour),
            np.full(n, DEVICES.index(device)),
        )
        return 1.0 / (1.0 + np.exp(-logit))

    def shown(self, surface: str, user: str, ids: list[str], hour: int, device: str) -> np.ndarray:
        """True click probability of each shown id in its slot (1, 2, ...)."""
        items = np.array([self.items[surface][i] for i in ids], dtype=int)
        positions = np.arange(1, len(ids) + 1)
        return examination(surface, positions) * self.relevance(surface, user, items, hour, device)

    def oracle_home(self, user: str, hour: int, device: str, k: int) -> np.ndarray:
        rel = self.relevance("home_row", user, self.live_titles, hour, device)
        best = np.sort(rel)[::-1][:k]
        return examination("home_row", np.arange(1, k + 1)) * best

    def oracle_ads(self, user: str, candidates: list[str], hour: int, device: str, k: int):
        items = np.array([self.items["ad_break"][a] for a in candidates], dtype=int)
        rel = self.relevance("ad_break", user, items, hour, device)
        value = rel * np.array([self.bids[a] for a in candidates])
        best = rel[np.argsort(-value, kind="stable")][:k]
        return examination("ad_break", np.arange(1, len(best) + 1)) * best


@dataclass
class SurfaceTally:
    impressions: int = 0
    clicks: int = 0
    expected: float = 0.0  # sum of the true p of what was shown
    oracle: float = 0.0  # sum of the true p of what the oracle would have shown
    predicted_top: float = 0.0  # sum of the model's pCTR of first slots (ads: calibration)
    clicks_top: int = 0
    top_slots: int = 0


@dataclass
class VisitorsReport:
    visits: int = 0
    failed: int = 0
    seconds: float = 0.0
    by_surface: dict[str, SurfaceTally] = field(
        default_factory=lambda: {"home_row": SurfaceTally(), "ad_break": SurfaceTally()}
    )
    click_ids: list[str] = field(default_factory=list)
    service_ms: dict[str, list[float]] = field(default_factory=lambda: {"home": [], "ad_break": []})
    errors: list[str] = field(default_factory=list)
    model_versions: set[str] = field(default_factory=set)  # the ad models that ranked

    def summary(self) -> dict:
        total = {
            k: sum(getattr(t, k) for t in self.by_surface.values())
            for k in ("impressions", "clicks", "expected", "oracle")
        }
        n = max(total["impressions"], 1)
        ranking = np.array(self.service_ms["ad_break"]) if self.service_ms["ad_break"] else None
        return {
            "visits": self.visits,
            "failed_visits": self.failed,
            "impressions": total["impressions"],
            "clicks": total["clicks"],
            "online_ctr": total["clicks"] / n,
            "expected_ctr": total["expected"] / n,
            "oracle_ctr": total["oracle"] / n,
            "regret": (total["oracle"] - total["expected"]) / n,
            "by_surface": {
                s: {
                    "impressions": t.impressions,
                    "clicks": t.clicks,
                    "online_ctr": t.clicks / max(t.impressions, 1),
                    "expected_ctr": t.expected / max(t.impressions, 1),
                    "oracle_ctr": t.oracle / max(t.impressions, 1),
                    "first_slots": t.top_slots,
                    "first_slot_clicks": t.clicks_top,
                    "first_slot_predicted_clicks": round(t.predicted_top, 2),
                }
                for s, t in self.by_surface.items()
            },
            "latency_ms": None
            if ranking is None
            else {
                q: round(float(np.percentile(ranking, p)), 2)
                for q, p in (("p50", 50), ("p95", 95), ("p99", 99))
            },
            "throughput_vps": round(self.visits / max(self.seconds, 1e-9), 1),
            "seconds": round(self.seconds, 1),
            "errors": self.errors[:5],
            "model_versions": sorted(self.model_versions),
        }


def _visitor(
    world: World, activity: np.ndarray, rng: np.random.Generator, day: dt.date
) -> tuple[str, str, dt.datetime]:
    user = int(rng.choice(len(activity), p=activity))
    primary = int(world.user_device[user])
    device = primary if rng.random() < 0.75 else int(rng.integers(0, len(DEVICES)))
    hour = int(rng.choice(24, p=HOUR_PROFILE / HOUR_PROFILE.sum()))
    at = dt.datetime.combine(day, dt.time(hour), dt.UTC)
    at += dt.timedelta(seconds=int(rng.integers(0, 3000)))  # the break, ten minutes on, same hour
    return str(world.user_ids[user]), DEVICES[device], at


def run_visitors(app_url: str, truth: GroundTruth, n: int, seed: int) -> VisitorsReport:
    """`n` visits to the app on `truth.day`; every click is sent back through the app."""
    rng = np.random.default_rng([seed, 3, truth.day_index])
    report = VisitorsReport()
    activity = truth.world.user_activity / truth.world.user_activity.sum()  # who visits
    started = time.perf_counter()
    with httpx.Client(base_url=app_url, timeout=10.0) as client:
        for _ in range(n):
            user, device, at = _visitor(truth.world, activity, rng, truth.day)
            response = client.post(
                "/api/visits", json={"user_id": user, "device": device, "time": at.isoformat()}
            )
            if response.status_code != 200:
                report.failed += 1
                report.errors.append(f"{response.status_code}: {response.text[:300]}")
                continue
            visit = response.json()
            report.model_versions.add(visit["ad_break"]["model_version"])
            clicks = _look_and_click(visit, truth, at.hour, rng, report)
            if clicks:
                sent = client.post("/api/events", json={"events": clicks})
                if sent.status_code != 200:
                    report.errors.append(f"events {sent.status_code}: {sent.text[:300]}")
                else:
                    report.click_ids += [c["event_id"] for c in clicks]
            report.visits += 1
            for name, ms in visit["service_ms"].items():
                report.service_ms[name].append(ms)
    report.seconds = time.perf_counter() - started
    return report


def _look_and_click(
    visit: dict, truth: GroundTruth, hour: int, rng: np.random.Generator, report: VisitorsReport
) -> list[dict]:
    user, device = visit["user_id"], visit["device"]
    impressions = {
        s: [i for i in visit["impressions"] if i["surface"] == s] for s in ("home_row", "ad_break")
    }
    clicks = []
    for surface, shown in impressions.items():
        if not shown:
            continue
        p = truth.shown(surface, user, [i["item_id"] for i in shown], hour, device)
        if surface == "home_row":
            oracle = truth.oracle_home(user, hour, device, len(shown))
        else:
            oracle = truth.oracle_ads(
                user, visit["ad_break"]["candidates"], hour, device, len(shown)
            )
        clicked = rng.random(len(p)) < p
        tally = report.by_surface[surface]
        tally.impressions += len(shown)
        tally.clicks += int(clicked.sum())
        tally.expected += float(p.sum())
        tally.oracle += float(oracle.sum())
        if surface == "ad_break":
            tally.top_slots += 1
            tally.predicted_top += visit["ad_break"]["ads"][0]["p_click"]
            tally.clicks_top += int(clicked[0])
        clicks += [click_event(i) for i, c in zip(shown, clicked, strict=True) if c]
    return clicks
