"""The Marquee world: users, titles and ads, and the hidden tastes that drive every click.

The public half (`World.users`, `.titles`, `.ads`) is what the business knows and what the
generator writes as entity tables. The hidden half (latent vectors, biases, the hour x category
and device x category effects) exists only in the simulator; models have to learn it from events,
and `shared.click_model` uses it to give the true click probability of any impression.

    world = build_world(get_preset("tiny"), seed=7, start=date(2026, 1, 1))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from shared.presets import Preset
from shared.schema import AD_CATEGORIES, COUNTRIES, DEVICES, GENRES


@dataclass(frozen=True)
class Drift:
    """A change of the world from `day` (0-based) on.

    `tastes`: every user's latent taste moves towards a new random direction by `strength`
    (0 = none, 1 = a new user). `catalogue`: a batch of new titles, `strength` times the
    catalogue's size, is released on that day and the home row starts showing them.
    """

    day: int
    kind: str = "tastes"
    strength: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in ("tastes", "catalogue"):
            raise ValueError(f"drift kind must be 'tastes' or 'catalogue', not {self.kind!r}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"drift strength must be within 0..1, not {self.strength}")
        if self.day < 0:
            raise ValueError(f"drift day must be 0 or later, not {self.day}")


@dataclass(frozen=True)
class ItemSet:
    """The items of one surface (ads for ad breaks, titles for the home row), hidden parts
    included. Index i of every array is the item with id `ids[i]`."""

    ids: np.ndarray  # str ids, as in the events
    category: np.ndarray  # int index into the surface's categories (genres or ad categories)
    vectors: np.ndarray  # (n, latent_dim) hidden tastes: the category's centre plus the item's own
    centres: np.ndarray  # (n_categories, latent_dim) each category's share of its items' tastes
    bias: np.ndarray  # (n,) hidden appeal beyond the tastes
    popularity: np.ndarray  # (n,) the logging policy's relative sampling weights
    release_day: np.ndarray  # (n,) first day index the item can be shown (negative: before day 0)
    hour_cross: np.ndarray  # (24, n_categories) logit effect of hour x category
    device_cross: np.ndarray  # (n_devices, n_categories) logit effect of device x category


@dataclass(frozen=True)
class World:
    """Everything the simulator knows. Build it with `build_world`."""

    preset: Preset
    seed: int
    start: dt.date
    users: pd.DataFrame
    titles: pd.DataFrame
    ads: pd.DataFrame
    user_ids: np.ndarray
    user_vectors: np.ndarray  # (n_users, latent_dim)
    user_bias: np.ndarray
    user_activity: np.ndarray  # probability that a session belongs to each user
    user_device: np.ndarray  # index into DEVICES of the primary device
    items: dict[str, ItemSet]
    drift: Drift | None = None
    drifted_user_vectors: np.ndarray | None = field(default=None, repr=False)

    def tastes_on(self, day: int) -> np.ndarray:
        """The users' latent vectors in force on `day` (drifted ones from the drift day)."""
        if (
            self.drift is not None
            and self.drifted_user_vectors is not None
            and day >= self.drift.day
        ):
            return self.drifted_user_vectors
        return self.user_vectors

    def date_of(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n)])


# The spread of the items' hidden numbers (standard deviations of the normal draws): a category
# centre's coordinates, an item's offset from its centre, an item's appeal. A model's priors can
# be compared with them (`model_mle.structure_fit` takes them as its own).
CATEGORY_SPREAD = 0.6
ITEM_OFFSET_SPREAD = 0.45
ITEM_BIAS_SPREAD = 0.3


def _zipf_weights(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Weights following a power law over a random order: a few hits, a long tail."""
    ranks = rng.permutation(n) + 1
    return ranks.astype(float) ** -exponent


def _items(
    rng: np.random.Generator,
    ids: np.ndarray,
    n_categories: int,
    dim: int,
    release_day: np.ndarray,
    popularity_exponent: float,
) -> ItemSet:
    n = len(ids)
    category = rng.integers(0, n_categories, n)
    # Items of one category share a centre, so the category explains part of the taste and the
    # rest is item-specific: models that only see the category leave signal on the table.
    centres = rng.normal(0.0, CATEGORY_SPREAD, (n_categories, dim))
    vectors = centres[category] + rng.normal(0.0, ITEM_OFFSET_SPREAD, (n, dim))
    # A smooth daily rhythm per category (kids in the afternoon, horror late at night, ...):
    # a cross effect a linear model on hour and category separately cannot express.
    hours = np.arange(24)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_categories)[None, :]
    amplitude = rng.uniform(0.3, 0.9, n_categories)[None, :]
    hour_cross = amplitude * np.sin(2 * np.pi * hours / 24 + phase)
    device_cross = rng.normal(0.0, 0.35, (len(DEVICES), n_categories))
    return ItemSet(
        ids=ids,
        category=category,
        vectors=vectors,
        centres=centres,
        bias=rng.normal(0.0, ITEM_BIAS_SPREAD, n),
        popularity=_zipf_weights(rng, n, popularity_exponent),
        release_day=release_day,
        hour_cross=hour_cross,
        device_cross=device_cross,
    )


def build_world(preset: Preset, seed: int, start: dt.date, drift: Drift | None = None) -> World:
    """Draw the whole world from `seed`; the same arguments always give the same world."""
    rng = np.random.default_rng([seed, 0])
    dim = preset.latent_dim

    user_ids = _ids("u", preset.n_users, 7)
    user_device = rng.choice(len(DEVICES), preset.n_users, p=[0.45, 0.35, 0.12, 0.08])
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "country": rng.choice(COUNTRIES, preset.n_users),
            "primary_device": np.asarray(DEVICES)[user_device],
            "signup_date": [start - dt.timedelta(days=int(d))
                            for d in rng.integers(1, 1500, preset.n_users)],
        }
    )  # fmt: skip
    user_vectors = rng.normal(0.0, 1.0 / np.sqrt(dim) * 1.6, (preset.n_users, dim))
    activity = rng.lognormal(0.0, 1.0, preset.n_users)

    titles_set = _items(rng, _ids("t", preset.n_titles, 6), len(GENRES), dim,
                        -rng.integers(1, 3000, preset.n_titles), 1.0)  # fmt: skip
    titles = pd.DataFrame(
        {
            "title_id": titles_set.ids,
            "genre": np.asarray(GENRES)[titles_set.category],
            "duration_min": rng.integers(22, 150, preset.n_titles).astype(np.int32),
            "release_date": [start + dt.timedelta(days=int(d)) for d in titles_set.release_day],
        }
    )

    ad_ids = _ids("ad", preset.n_ads, 5)
    ads_set = _items(rng, ad_ids, len(AD_CATEGORIES), dim, np.full(preset.n_ads, -1), 0.0)
    advertisers = max(1, preset.n_ads // 5)
    ads = pd.DataFrame(
        {
            "ad_id": ad_ids,
            "advertiser": [f"adv{a:04d}" for a in rng.integers(0, advertisers, preset.n_ads)],
            "category": np.asarray(AD_CATEGORIES)[ads_set.category],
            # A few dollars per click at most, heavy-tailed like real auctions.
            "bid": np.round(rng.lognormal(np.log(0.8), 0.5, preset.n_ads), 2),
            "start_date": [start - dt.timedelta(days=1)] * preset.n_ads,
        }
    )

    world = World(
        preset=preset,
        seed=seed,
        start=start,
        users=users,
        titles=titles,
        ads=ads,
        user_ids=user_ids,
        user_vectors=user_vectors,
        user_bias=rng.normal(0.0, 0.3, preset.n_users),
        user_activity=activity / activity.sum(),
        user_device=user_device,
        items={"ad_break": ads_set, "home_row": titles_set},
    )
    return world if drift is None else _drifted(world, drift)


def _drifted(world: World, drift: Drift) -> World:
    """`world` changed from `drift.day` on. Drift draws from its own random stream, so before
    the drift day a drifted world produces exactly the events of the plain one."""
    rng = np.random.default_rng([world.seed, 3])
    if drift.kind == "tastes":
        vectors = world.user_vectors
        new_direction = rng.normal(0.0, vectors.std(), vectors.shape)
        s = drift.strength
        drifted = np.sqrt(1 - s) * vectors + np.sqrt(s) * new_direction
        return replace(world, drift=drift, drifted_user_vectors=drifted)

    # Catalogue: new titles, like existing ones but not the same, released on the drift day and
    # promoted by the home row as much as the biggest hits.
    titles = world.items["home_row"]
    n_old = len(titles.ids)
    n_new = round(n_old * drift.strength)
    like = rng.integers(0, n_old, n_new)
    new = replace(
        titles,
        ids=np.concatenate([titles.ids, _ids("t", n_old + n_new, 6)[n_old:]]),
        category=np.concatenate([titles.category, titles.category[like]]),
        vectors=np.concatenate(
            [
                titles.vectors,
                titles.vectors[like]
                + rng.normal(0, ITEM_OFFSET_SPREAD, (n_new, titles.vectors.shape[1])),
            ]
        ),
        bias=np.concatenate([titles.bias, rng.normal(0.0, ITEM_BIAS_SPREAD, n_new)]),
        popularity=np.concatenate([titles.popularity, np.full(n_new, titles.popularity.max())]),
        release_day=np.concatenate([titles.release_day, np.full(n_new, drift.day)]),
    )
    new_rows = pd.DataFrame(
        {
            "title_id": new.ids[n_old:],
            "genre": np.asarray(GENRES)[new.category[n_old:]],
            "duration_min": rng.integers(22, 150, n_new).astype(np.int32),
            "release_date": [world.date_of(drift.day)] * n_new,
        }
    )
    return replace(
        world,
        titles=pd.concat([world.titles, new_rows], ignore_index=True),
        items={**world.items, "home_row": new},
        drift=drift,
    )
