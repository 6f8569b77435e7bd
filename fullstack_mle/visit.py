"""One visit to Marquee through the app: the home row from the batch job and an ad break ranked
in real time, both by infra_mle's service, logged as impression events.

The app is the ranking service's client, as a website's backend is: it chooses the eligible ads
(`candidates` live ones, at random: the ad server's job), asks the service to rank them, shows
the best `pod_size`, and logs every slot it showed, with the ids the clicks will point at.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd


class ServiceError(RuntimeError):
    """The ranking service cannot answer; the message says why, in words for the page."""


def new_id(nbytes: int = 12) -> str:
    return uuid.uuid4().hex[: 2 * nbytes]


@dataclass
class Catalogue:
    """The entity tables the app needs: users for the picker, ads for eligibility and bids."""

    users: pd.DataFrame
    ads: pd.DataFrame

    def live_ads(self, day: dt.date) -> np.ndarray:
        started = pd.to_datetime(self.ads["start_date"]).dt.date <= day
        return self.ads.loc[started, "ad_id"].to_numpy(object)


@dataclass
class Visit:
    """What one visit showed: the page's content, the impressions logged and the timings."""

    user_id: str
    device: str
    time: dt.datetime
    session_id: str
    home: dict
    ad_break: dict
    impressions: list[dict] = field(default_factory=list)
    service_ms: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "user_id": self.user_id,
            "device": self.device,
            "time": self.time.isoformat(),
            "session_id": self.session_id,
            "home": self.home,
            "ad_break": self.ad_break,
            "impressions": [_jsonable(i) for i in self.impressions],
            "service_ms": self.service_ms,
        }


def _jsonable(event: dict) -> dict:
    out = dict(event)
    out["event_time"] = _iso(event["event_time"])
    return out


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _log_slots(
    visit: Visit, surface: str, items: list[str], at: dt.datetime, title_id: str | None
) -> str:
    """Log one impression per item, in slot order one millisecond apart (as the business's log
    is), all under a new request id; returns the request id."""
    request_id = new_id(8)
    for position, item in enumerate(items, start=1):
        visit.impressions.append(
            {
                "event_id": new_id(),
                "event_type": "impression",
                "event_time": at + dt.timedelta(milliseconds=position),
                "user_id": visit.user_id,
                "session_id": visit.session_id,
                "request_id": request_id,
                "surface": surface,
                "item_id": item,
                "position": position,
                "device": visit.device,
                "context_title_id": title_id,
                "impression_id": None,
                "watch_time_s": None,
            }
        )
    return request_id


def _call(client: httpx.Client, method: str, path: str, **kwargs) -> tuple[dict, float]:
    started = time.perf_counter()
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TransportError as error:
        raise ServiceError(
            f"the ranking service at {client.base_url} is not reachable ({type(error).__name__}); "
            "start it with `make serve`, or run the whole loop with `make demo-fullstack`"
        ) from None
    ms = 1000 * (time.perf_counter() - started)
    if response.status_code == 503:
        raise ServiceError(
            f"the ranking service is up but not ready ({response.json().get('detail')}): "
            "it has no model or features loaded yet"
        )
    if response.status_code != 200:
        raise ServiceError(f"the ranking service answered {response.status_code}: {response.text}")
    return response.json(), ms


def make_visit(
    client: httpx.Client,
    catalogue: Catalogue,
    user_id: str,
    device: str,
    at: dt.datetime,
    rng: np.random.Generator,
    candidates: int = 20,
    pod_size: int = 3,
) -> Visit:
    """Ask the service for the user's home row and one ad break; log what is shown."""
    visit = Visit(user_id, device, at, new_id(8), {}, {})
    home, visit.service_ms["home"] = _call(client, "GET", f"/v1/home/{user_id}")
    titles = home["titles"]
    home_request = _log_slots(visit, "home_row", [t["title_id"] for t in titles], at, None)
    visit.home = {
        "request_id": home_request,
        "source": home["source"],
        "generated_for": home["generated_for"],
        "published_at": home["published_at"],
        "titles": titles,
    }

    live = catalogue.live_ads(at.date())
    offered = list(rng.choice(live, min(candidates, len(live)), replace=False))
    watching = titles[0]["title_id"] if titles else None  # they play the top title
    body = {
        "user_id": user_id,
        "device": device,
        "time": at.isoformat(),
        "title_id": watching,
        "candidate_ad_ids": offered,
    }
    ranked, visit.service_ms["ad_break"] = _call(client, "POST", "/v1/ad-break/rank", json=body)
    # Ten minutes into the title, or just before midnight: a visit's events stay on its day.
    midnight = dt.datetime.combine(at.date(), dt.time(23, 59, 59), at.tzinfo)
    break_at = min(at + dt.timedelta(minutes=10), midnight - dt.timedelta(milliseconds=pod_size))
    pod = ranked["ads"][:pod_size]
    ad_request = _log_slots(visit, "ad_break", [ad["ad_id"] for ad in pod], break_at, watching)
    visit.ad_break = {
        "request_id": ad_request,
        "model_version": ranked["model_version"],
        "feature_snapshot": ranked["feature_snapshot"],
        "user_known": ranked["user_known"],
        "candidates": offered,
        "ads": pod,
    }
    return visit


def click_event(impression: dict, after: dt.timedelta = dt.timedelta(seconds=3)) -> dict:
    """The click on `impression`, `after` it was shown, in the event schema's JSON form."""
    shown = impression["event_time"]
    if isinstance(shown, str):
        shown = dt.datetime.fromisoformat(shown.replace("Z", "+00:00"))
    return {
        **_jsonable({**impression, "event_time": shown + after}),
        "event_id": new_id(),
        "event_type": "click",
        "impression_id": impression["event_id"],
    }
