"""The known-structure fit: what learning the items' own numbers from these clicks costs.

The ceiling (`ceiling.py`) is given every item's true taste and appeal; a real model has to learn
them from the same clicks that teach it the users. How much does that cost? This fit is given
the world's *structure*: the base click rates, each item category's centre, the hour x category
and device x category crosses, examination by position, and the spread of every hidden number,
as its priors. It learns only what belongs to each user and each item: the user's taste vector
and bias, the item's offset from its category's centre and its appeal, from the training rows
of both surfaces at once. That is the joint model (`joint.py`) with every shared part known
exactly and its priors the world's, fitted to its most probable values (maximum a posteriori)
by L-BFGS.

    ceiling - structure fit   what learning the users' and items' own numbers from these clicks
                              costs a fit that knows everything else
    structure fit - model     what learning the structure costs the model, if it is positive

It is fitted two ways. Its most probable values are a yardstick, not a bound: the most
probable values of two uncertain factors shrink their product, and a model that learns its own
base rates and stops early can make up for that (on the small preset's home row the joint model
scores above them). Averaged over draws from its posterior (`posterior_draws`, Gibbs sampling
with a Laplace approximation per block), it scores what the same clicks are worth to an
estimator that weighs every taste they leave possible instead of the most probable one; on the
small preset that is 0.007 AUC more on ads and 0.014 on the home row (model_mle's README).

    fit = fit_structure(data, draws=60)     # 40 s for the fit, 3.5 s a draw (small preset)
    fit.predict(data.test["ad_break"])      # p(click) of each row, like any model
    fit.predict_mean(data.test["ad_break"]) # the same, averaged over the draws

Run by `benchmarks/model.py` (too slow for the demo's notebook).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from model_mle.ceiling import ItemSide, item_side, log_likelihood, minimise
from model_mle.data import ExperimentData
from model_mle.laplace import Pairing, Rows, laplace_block, with_bias
from model_mle.policy import world_of
from shared.click_model import INTERACTION_SCALE
from shared.schema import SURFACES
from shared.world import ITEM_BIAS_SPREAD, ITEM_OFFSET_SPREAD, World

# L-BFGS steps at most. The small preset's fit stops by itself after about 90 (40 s); run to 371
# evaluations (150 s), its loss moves by 5e-6 per row and its AUCs by at most 0.0003.
MAX_ITERATIONS = 300
NEWTON_STEPS = 2  # per Gibbs block, from the last draw: enough to reach the block's mode
BURN_IN = 3  # Gibbs sweeps dropped before the draws are kept


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


def prior_spreads(world: World) -> tuple[float, float, float, float]:
    """The world's spread of a user's taste numbers and bias, and of an item's offset numbers
    and appeal: the priors of `Parameters`' four tables, in order."""
    return (
        float(world.user_vectors.std()), float(world.user_bias.std()),
        ITEM_OFFSET_SPREAD, ITEM_BIAS_SPREAD,
    )  # fmt: skip


@dataclass
class StructureFit:
    """The fitted users and items, ready to score rows like any model: `predict` with their
    most probable values, `predict_mean` averaging over the posterior's draws (when drawn)."""

    world: World
    parameters: Parameters
    draws: list[Parameters] = field(default_factory=list)

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return self._probabilities(rows, [self.parameters])[0]

    def predict_mean(self, rows: pd.DataFrame) -> np.ndarray:
        if not self.draws:
            raise ValueError("no posterior draws: fit with fit_structure(data, draws=N)")
        return np.mean(self._probabilities(rows, self.draws), axis=0)

    def _probabilities(self, rows: pd.DataFrame, each: list[Parameters]) -> list[np.ndarray]:
        side, item = item_side(structure_of(self.world), rows), item_index(self.world, rows)
        with torch.no_grad():
            logits = [structure_logit(side, item, parameters).numpy() for parameters in each]
        return [side.exam / (1 + np.exp(-logit)) for logit in logits]


def fit_parameters(world: World, rows: pd.DataFrame) -> Parameters:
    """The maximum a posteriori users and items of `rows` (any surfaces) under the world's
    priors, from zero. Users or items without rows stay at the prior's mean, zero."""
    side, item = item_side(structure_of(world), rows), item_index(world, rows)
    label = torch.from_numpy(rows["label"].to_numpy(np.float64))
    n_users, k = world.user_vectors.shape
    n_items = sum(len(world.items[s].ids) for s in SURFACES)
    shapes = ((n_users, k), (n_users,), (n_items, k), (n_items,))
    tables = [torch.zeros(shape, dtype=torch.float64, requires_grad=True) for shape in shapes]
    spreads = prior_spreads(world)
    p = Parameters(*tables)

    def loss() -> torch.Tensor:
        prior = sum(t.pow(2).sum() / (2 * s**2) for t, s in zip(tables, spreads, strict=True))
        likelihood = log_likelihood(structure_logit(side, item, p), side.exam, label)
        return (prior - likelihood) / len(label)

    minimise(tables, loss, MAX_ITERATIONS)
    return Parameters(*(t.detach() for t in tables))


def posterior_draws(
    world: World, rows: pd.DataFrame, start: Parameters, draws: int, seed: int = 0
) -> list[Parameters]:
    """`draws` samples of the users' and items' own numbers from their posterior given `rows`,
    by Gibbs sampling in two blocks: every user given the items, then every item given the
    users. Given the other block, each user's (each item's) numbers are a small Bayesian
    logistic regression, approximated by a Gaussian around its most probable value (Newton's
    steps from the last draw: the Laplace approximation), from which the draw is taken.
    The chain starts at `start` (the most probable values); the first `BURN_IN` sweeps are
    dropped."""
    side, item = item_side(structure_of(world), rows), torch.from_numpy(item_index(world, rows))
    user, label = torch.from_numpy(side.user), torch.from_numpy(rows["label"].to_numpy(float))
    centre, offset = torch.from_numpy(side.vector), torch.from_numpy(side.offset)
    n_users, k = start.user_taste.shape
    n_items = len(start.item_bias)
    # every row of an item has its category's centre: one per item
    item_centre = torch.zeros((n_items, k), dtype=torch.float64).index_copy_(0, item, centre)
    of_users, of_items = (
        Pairing.of(user, item, n_users, n_items),
        Pairing.of(item, user, n_items, n_users),
    )
    taste, bias, item_offset, item_bias = (1 / torch.tensor(s, dtype=torch.float64) ** 2
                                           for s in prior_spreads(world))  # fmt: skip
    user_precision = torch.cat([taste.repeat(k), bias[None]])
    item_precision = torch.cat([item_offset.repeat(k), item_bias[None]])
    generator, data = torch.Generator().manual_seed(seed), Rows(torch.from_numpy(side.exam), label)
    p, out = start, []
    for sweep in range(BURN_IN + draws):
        item_vectors = item_centre + INTERACTION_SCALE * p.item_offset
        users = laplace_block(
            torch.cat([p.user_taste, p.user_bias[:, None]], 1), of_users,
            with_bias(item_vectors),
            offset + p.item_bias[item],
            data, user_precision, NEWTON_STEPS,
        ).draw(generator)  # fmt: skip
        p = replace(p, user_taste=users[:, :k], user_bias=users[:, k])
        items = laplace_block(
            torch.cat([p.item_offset, p.item_bias[:, None]], 1), of_items,
            with_bias(INTERACTION_SCALE * p.user_taste),
            offset + p.user_bias[user] + (p.user_taste[user] * centre).sum(1),
            data, item_precision, NEWTON_STEPS,
        ).draw(generator)  # fmt: skip
        p = replace(p, item_offset=items[:, :k], item_bias=items[:, k])
        if sweep >= BURN_IN:
            out.append(p)
    return out


def fit_structure(data: ExperimentData, draws: int = 0) -> StructureFit:
    """Fit the users and items of the experiment's training rows, both surfaces at once; with
    `draws`, also sample that many from their posterior (`predict_mean`)."""
    world = world_of(data)
    train = pd.concat(list(data.train.values()), ignore_index=True)
    parameters = fit_parameters(world, train)
    samples = posterior_draws(world, train, parameters, draws) if draws else []
    return StructureFit(world, parameters, samples)
