"""Model behaviour of the joint model: a taste learned on one surface carries to the other."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from model_mle.joint import train_joint
from model_mle.train import TrainConfig, train_model
from shared.features import feature_defaults
from shared.schema import DEVICES

GROUPS = 4  # tastes; user i likes category i % 4 on both surfaces
ITEMS = {"ad_break": ("ad", 20), "home_row": ("t", 40)}


def categories() -> dict[str, pd.Series]:
    """Item j of a surface is in category j % GROUPS; ads' and titles' categories have
    different names, as in the world: only the users connect them."""
    out = {}
    for surface, (prefix, n) in ITEMS.items():
        kind = "adcat" if surface == "ad_break" else "genre"
        out[surface] = pd.Series(
            [f"{kind}{j % GROUPS}" for j in range(n)], index=[f"{prefix}{j}" for j in range(n)]
        )
    return out


def liked_rows(surface: str, users: range, per_user: int, seed: int) -> pd.DataFrame:
    """Rows in the training-set layout: a user clicks 30% of the items of their category and
    2% of the others; the features carry no signal."""
    rng = np.random.default_rng(seed)
    prefix, n_items = ITEMS[surface]
    user = np.repeat(np.array(users), per_user)
    item = rng.integers(0, n_items, len(user))
    rows = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in user],
            "item_id": [f"{prefix}{j}" for j in item],
            "hour": rng.integers(0, 24, len(user)),
            "device": rng.choice(DEVICES, len(user)),
            "position": 1,
            "surface": surface,
        }
    )
    for col, value in feature_defaults(surface).items():
        rows[col] = value
    p = np.where(item % GROUPS == user % GROUPS, 0.3, 0.02)
    rows["label"] = (rng.random(len(p)) < p).astype(np.int32)
    return rows


def test_the_joint_model_carries_a_taste_from_the_home_row_to_ads():
    """Users 100-199 never saw an ad in training; their tastes show only in the titles they
    clicked. Ranking ads for them takes a user shared across surfaces: the same model trained
    on ads alone knows nothing of them and ranks by chance."""
    everyone, ad_viewers, newcomers = range(200), range(100), range(100, 200)
    train = {
        "ad_break": liked_rows("ad_break", ad_viewers, 60, seed=1),
        "home_row": liked_rows("home_row", everyone, 60, seed=2),
    }
    valid = {
        "ad_break": liked_rows("ad_break", ad_viewers, 10, seed=3),
        "home_row": liked_rows("home_row", everyone, 10, seed=4),
    }
    test = liked_rows("ad_break", newcomers, 30, seed=5)
    config = TrainConfig(model="joint", batch_size=512, max_epochs=15, lr=0.03, seed=0)
    joint = train_joint(config, train, valid, categories(), progress=False)["ad_break"]
    alone = train_model(
        config, "ad_break", train["ad_break"], valid["ad_break"], False, categories()["ad_break"]
    )
    y = test["label"].to_numpy()
    group = test["user_id"].str[1:].astype(int) % GROUPS
    liked = test["item_id"].str[2:].astype(int) % GROUPS == group
    best = roc_auc_score(y, liked)  # knowing every user's taste
    auc_joint = roc_auc_score(y, joint.predict(test))
    auc_alone = roc_auc_score(y, alone.predict(test))
    assert auc_joint > best - 0.05, (auc_joint, best)
    assert auc_alone < 0.6, auc_alone
