"""The known-structure fit: what learning the items from these clicks costs at best.

The ceiling (`ceiling.py`) is given every item's true taste and appeal; a real model has to learn
them from the same clicks that teach it the users. How much does that cost a model as good as it
could be? This fit is given the world's *structure*: the base click rates, each item category's
centre, the hour x category and device x category crosses, examination by position, and the
spread of every hidden number, as its priors. It learns only what is each user's and each item's
own: the user's taste vector and bias, the item's offset from its category's centre and its
appeal, from the training rows of both surfaces at once. That is the joint model (`joint.py`)
with every shared part known exactly and its priors the world's, fitted to the maximum a
posteriori by L-BFGS.

A model that must learn the structure as well should not be expected to beat it, so:

- ceiling - structure fit: what learning the items' own numbers from these clicks costs, even
  with everything else known;
- structure fit - model: what learning the structure (and the optimiser, and the priors) costs.

    fit = fit_structure(data)               # about 80 s for the small preset's 11 training days
    fit.predict(data.test["ad_break"])      # p(click) of each row, like any model

Run by `benchmarks/model.py` (too slow for the demo's notebook).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from model_mle.ceiling import ItemSide, item_side, log_likelihood, minimise
from model_mle.data import ExperimentData
from model_mle.policy import world_of
from shared.click_model import INTERACTION_SCALE
from shared.schema import SURFACES
from shared.world import ITEM_BIAS_SPREAD, ITEM_OFFSET_SPREAD, World

# L-BFGS steps at most. The small preset's fit stops by itself after about 90 (40 s); run to 371
# evaluations (150 s), its loss moves by 5e-6 per row and its AUCs by at most 0.0003.
MAX_ITERATIONS = 300


def structure_of(world: World) -> World:
    """`world` with every item reduced to its category: its taste the category's centre, its
    appeal zero. What stays is the structure a model could know in advance."""
    items = {
        surface: replace(s, vectors=s.centres[s.category], bias=np.zeros(len(s.ids)))
        for surface, s in world.items.items()
    }
    return replace(world, items=items)


def item_index(world: World, rows: pd.DataFrame) -> np.ndarray:
    """Each row's item as an index into every surface's items, stacked in `SURFACES` order."""
    index = np.empty(len(rows), dtype=np.int64)
    start = 0
    for surface in SURFACES:
        ids = world.items[surface].ids
        m = (rows["surface"] == surface).to_numpy()
        index[m] = start + pd.Index(ids).get_indexer(rows.loc[m, "item_id"].astype(str))
        start += len(ids)
    return index


@dataclass(frozen=True)
class Parameters:
    """Every user's and every item's own numbers."""

    user_taste: torch.Tensor  # (n_users, latent_dim)
    user_bias: torch.Tensor  # (n_users,)
    item_offset: torch.Tensor  # (n_items, latent_dim): the item's taste minus its centre
    item_bias: torch.Tensor  # (n_items,)


def structure_logit(side: ItemSide, item: np.ndarray, p: Parameters) -> torch.Tensor:
    """The relevance logit of each row: the structure's part plus the user's and item's own."""
    user, item_t = torch.from_numpy(side.user), torch.from_numpy(item)
    vector = torch.from_numpy(side.vector) + INTERACTION_SCALE * p.item_offset[item_t]
    return (
        torch.from_numpy(side.offset)
        + p.user_bias[user]
        + p.item_bias[item_t]
        + (p.user_taste[user] * vector).sum(1)
    )


@dataclass
class StructureFit:
    """The fitted users and items, ready to score rows like any model."""

    world: World
    parameters: Parameters

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        side = item_side(structure_of(self.world), rows)
        with torch.no_grad():
            logit = structure_logit(side, item_index(self.world, rows), self.parameters)
        return side.exam / (1 + np.exp(-logit.numpy()))


def fit_parameters(world: World, rows: pd.DataFrame) -> Parameters:
    """The maximum a posteriori users and items of `rows` (any surfaces) under the world's
    priors, from zero. Users or items without rows stay at the prior's mean, zero."""
    side, item = item_side(structure_of(world), rows), item_index(world, rows)
    label = torch.from_numpy(rows["label"].to_numpy(np.float64))
    n_users, k = world.user_vectors.shape
    n_items = sum(len(world.items[s].ids) for s in SURFACES)
    shapes_and_spreads = (  # each table and the spread of its prior
        ((n_users, k), float(world.user_vectors.std())),
        ((n_users,), float(world.user_bias.std())),
        ((n_items, k), ITEM_OFFSET_SPREAD),
        ((n_items,), ITEM_BIAS_SPREAD),
    )
    tables = [
        torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        for shape, _ in shapes_and_spreads
    ]
    spreads = [spread for _, spread in shapes_and_spreads]
    p = Parameters(*tables)

    def loss() -> torch.Tensor:
        prior = sum(t.pow(2).sum() / (2 * s**2) for t, s in zip(tables, spreads, strict=True))
        likelihood = log_likelihood(structure_logit(side, item, p), side.exam, label)
        return (prior - likelihood) / len(label)

    minimise(tables, loss, MAX_ITERATIONS)
    return Parameters(*(t.detach() for t in tables))


def fit_structure(data: ExperimentData) -> StructureFit:
    """Fit the users and items of the experiment's training rows, both surfaces at once."""
    world = world_of(data)
    train = pd.concat(list(data.train.values()), ignore_index=True)
    return StructureFit(world, fit_parameters(world, train))
