"""Offline policy evaluation with the simulator's ground truth: what would each model earn if it
ranked the candidates itself?

The logs only say how users reacted to what the old policy showed. Here the simulator answers
the counterfactual exactly: for real test-day requests (user, device, hour), each policy picks
from a fresh set of candidates (20 ads for an ad break, 50 titles for a home row), and the true
click model gives the expected clicks and revenue of its choice. The oracle ranks by the true
relevance (times the bid for ads); `random` is the floor.

    table = evaluate_policies(models, data, "ad_break", n_requests=2000)
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from model_mle.data import ExperimentData, load_features
from model_mle.evaluate import Predictor, bootstrap
from shared.click_model import click_probability, relevance_logit
from shared.encoding import SERVING_POSITION
from shared.features import attach_features
from shared.generate import DATASET_FILE
from shared.presets import get_preset
from shared.schema import DEVICES
from shared.world import World, build_world

CANDIDATES = {"ad_break": 20, "home_row": 50}
SHOWN = {"ad_break": 3, "home_row": 10}


def world_of(data: ExperimentData) -> World:
    """The simulator's world behind the experiment's dataset, rebuilt from how it was made
    (the experiment's datasets have no drift)."""
    made = json.loads((data.dataset / DATASET_FILE).read_text())["config"]
    start = dt.date.fromisoformat(made["start"])
    return build_world(get_preset(made["preset"]), made["seed"], start)


def candidate_rows(
    data: ExperimentData, world: World, surface: str, n_requests: int, seed: int = 0
) -> pd.DataFrame:
    """`n_requests` test-day requests, each with its candidates, in the training-set layout,
    plus `request` (0..n-1) and the `user_index` and `item_index` the true click model takes."""
    rng = np.random.default_rng(seed)
    day = data.days[-1]
    day_index = (day - world.start).days
    context = ["request_id", "user_id", "surface", "device", "hour", "context_title_id"]
    logged = data.test[surface].drop_duplicates("request_id")[context]
    requests = logged.sample(min(n_requests, len(logged)), random_state=seed)
    items = world.items[surface]
    live = np.flatnonzero(items.release_day <= day_index)
    # Candidates come the way the logging policy draws them: titles by popularity, ads uniformly.
    weights = items.popularity[live] if surface == "home_row" else np.ones(len(live))
    k = CANDIDATES[surface]
    picks = np.stack(
        [rng.choice(live, k, replace=False, p=weights / weights.sum()) for _ in requests.index]
    )
    user_index = pd.Series(np.arange(len(world.user_ids)), index=world.user_ids)
    rows = requests.loc[requests.index.repeat(k)].reset_index(drop=True)
    rows = rows.assign(
        item_id=items.ids[picks.ravel()],
        position=SERVING_POSITION,
        request=np.repeat(np.arange(len(requests)), k),
        item_index=picks.ravel(),
        user_index=user_index.reindex(rows["user_id"]).to_numpy(),
    )
    return attach_features(rows, load_features(data.config, day), surface)


def evaluate_policies(
    models: dict[str, Predictor],
    data: ExperimentData,
    surface: str,
    bids: pd.Series,
    n_requests: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Expected click rate per shown slot and, for ads, revenue per 1,000 ad breaks, with 95%
    intervals, of each model's choices against the oracle's and a random pick."""
    world = world_of(data)
    rows = candidate_rows(data, world, surface, n_requests, seed)
    day_index = (data.days[-1] - world.start).days
    device = pd.Series(np.arange(len(DEVICES)), index=DEVICES)[rows["device"]].to_numpy()
    hour = rows["hour"].to_numpy()
    user, item = rows["user_index"].to_numpy(), rows["item_index"].to_numpy()
    k, shown = CANDIDATES[surface], SHOWN[surface]
    bid = rows["item_id"].map(bids).to_numpy(float) if surface == "ad_break" else np.ones(len(rows))
    true_relevance = 1 / (
        1 + np.exp(-relevance_logit(world, surface, day_index, user, item, hour, device))
    )
    scores = {name: m.predict(rows) for name, m in models.items()}
    scores["oracle"] = true_relevance
    scores["random"] = -np.tile(np.arange(k), len(rows) // k)  # the first drawn candidates
    table = []
    for name, score in scores.items():
        value = (score * bid if surface == "ad_break" else score).reshape(-1, k)
        chosen = np.argsort(-value, axis=1, kind="stable")[:, :shown]  # the shown slots, in order
        flat = (chosen + np.arange(len(chosen))[:, None] * k).ravel()
        slot = np.tile(np.arange(1, shown + 1), len(chosen))
        p = click_probability(
            world, surface, day_index, user[flat], item[flat], hour[flat], device[flat], slot
        ).reshape(-1, shown)
        clicks = p.sum(1)
        entry = {"policy": name, "ctr": clicks.mean() / shown}
        entry["ctr_low"], entry["ctr_high"] = (
            v / shown for v in bootstrap(lambda w, c=clicks: np.sum(w * c) / w.sum(), len(clicks))
        )
        if surface == "ad_break":
            revenue = 1000 * (p * bid[flat].reshape(-1, shown)).sum(1)
            entry["revenue_per_1000"] = revenue.mean()
            entry["revenue_per_1000_low"], entry["revenue_per_1000_high"] = bootstrap(
                lambda w, r=revenue: np.sum(w * r) / w.sum(), len(revenue)
            )
        table.append(entry)
    frame = pd.DataFrame(table).set_index("policy")
    metric = "revenue_per_1000" if surface == "ad_break" else "ctr"
    frame["share_of_oracle_pct"] = 100 * frame[metric] / frame.loc["oracle", metric]
    return frame
