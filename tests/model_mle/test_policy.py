"""Offline policy evaluation: the oracle's choice is the best possible, a random pick the floor,
and a model that learned something lies between them."""

from __future__ import annotations

import numpy as np
import pytest

from model_mle.compare import bids
from model_mle.models import PopularityModel
from model_mle.policy import CANDIDATES, candidate_rows, evaluate_policies, world_of


def test_candidates_are_distinct_live_items_for_real_requests(tiny, in_experiment_lake):
    world = world_of(tiny)
    rows = candidate_rows(tiny, world, "home_row", n_requests=30)
    assert len(rows) == 30 * CANDIDATES["home_row"]
    assert rows.groupby("request")["item_id"].nunique().eq(CANDIDATES["home_row"]).all()
    assert set(rows["user_id"]) <= set(tiny.test["home_row"]["user_id"])
    assert (world.user_ids[rows["user_index"]] == rows["user_id"]).all()
    assert not rows.isna().drop(columns="context_title_id").any().any()


def test_the_oracle_bounds_every_policy_and_random_is_the_floor(tiny, in_experiment_lake):
    for surface, metric in (("ad_break", "revenue_per_1000"), ("home_row", "ctr")):
        models = {"popularity": PopularityModel(surface).fit(tiny.train[surface])}
        table = evaluate_policies(models, tiny, surface, bids(tiny), n_requests=400)
        assert table.loc["oracle", "share_of_oracle_pct"] == pytest.approx(100)
        assert (table[metric] <= table.loc["oracle", metric] + 1e-12).all()
        assert table.loc["random", metric] < table.loc["oracle", metric]
        low, high = table.loc["oracle", [f"{metric}_low", f"{metric}_high"]]
        assert low <= table.loc["oracle", metric] <= high
        assert np.isfinite(table[metric]).all()
