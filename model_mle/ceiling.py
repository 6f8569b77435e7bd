"""The data-limited ceiling: the best a model could do with this much data, as opposed to the
oracle, the best it could do with unlimited data.

The oracle knows every user's hidden taste. No model can, from a dozen days of logs: a user's
taste is 8 numbers, and a small-preset user has clicked a handful of ads and titles. To split the
gap to the oracle into "more data would close this" and "a better model would close this", we
fit the model that knows *everything but the users*: every item-side part of the true click
model (item tastes and biases, the hour x category and device x category crosses, examination by
position) is taken from the simulator, and only each user's taste vector and bias are estimated,
by a logistic fit on that user's training impressions of both surfaces, with the world's own
Gaussian prior on users (its spread times a scale chosen on the validation day). No model that
has to learn the items as well can beat it by more than noise; a model close to it has used its
data about as well as it can be used.

    ceiling = fit_ceiling(data)              # 34 s for the small preset's 11 training days
    ceiling.predict(data.test["ad_break"])   # p(click) of each row, like any model

Run from notebook 2 (`compare.py` puts it in every table) and `benchmarks/model.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from model_mle.data import ExperimentData
from model_mle.evaluate import row_log_loss
from model_mle.policy import world_of
from shared.click_model import INTERACTION_SCALE, examination, relevance_logit
from shared.schema import DEVICES
from shared.world import World

PRIOR_SCALES = (0.5, 1.0, 2.0)  # times the world's spread of user tastes and biases
DAY = 0  # the experiment's worlds have no drift: every day's tastes are day 0's


@dataclass(frozen=True)
class ItemSide:
    """What the true click model says about each row, the user aside: the logit without the
    user's terms, the item's taste vector, the slot's examination probability."""

    user: np.ndarray  # index into world.user_ids
    offset: np.ndarray
    vector: np.ndarray  # (rows, latent_dim)
    exam: np.ndarray


def item_side(world: World, rows: pd.DataFrame) -> ItemSide:
    """The known item-side parts of the true click model for `rows` (any surfaces). Every
    user and item must be the world's: the ceiling is a yardstick for simulated data only."""
    without_users = replace(
        world,
        user_vectors=np.zeros_like(world.user_vectors),
        user_bias=np.zeros(len(world.user_ids)),
    )
    user = pd.Index(world.user_ids).get_indexer(rows["user_id"].astype(str))
    device = pd.Index(DEVICES).get_indexer(rows["device"])
    hour = rows["hour"].to_numpy()
    offset = np.empty(len(rows))
    vector = np.empty((len(rows), world.user_vectors.shape[1]))
    exam = np.empty(len(rows))
    for surface in rows["surface"].unique():
        m = (rows["surface"] == surface).to_numpy()
        items = world.items[surface]
        item = pd.Index(items.ids).get_indexer(rows.loc[m, "item_id"].astype(str))
        if (item < 0).any() or (user[m] < 0).any():
            raise ValueError(f"{surface} rows name users or items this world does not have")
        offset[m] = relevance_logit(without_users, surface, DAY, user[m], item, hour[m], device[m])
        vector[m] = INTERACTION_SCALE * items.vectors[item]
        exam[m] = examination(surface, rows.loc[m, "position"].to_numpy())
    return ItemSide(user, offset, vector, exam)


def log_likelihood(logit: torch.Tensor, exam: np.ndarray, label: torch.Tensor) -> torch.Tensor:
    """Sum over rows of log p(label), p = exam x sigmoid(logit)."""
    log_p = torch.log(torch.from_numpy(exam)) + torch.nn.functional.logsigmoid(logit)
    log_p = log_p.clamp(max=-1e-9)
    return torch.where(label > 0, log_p, torch.log(-torch.expm1(log_p))).sum()


def click_log_likelihood(
    side: ItemSide, vectors: torch.Tensor, bias: torch.Tensor, label: torch.Tensor
) -> torch.Tensor:
    """Sum over rows of log p(label), p = exam x sigmoid(offset + bias_u + <user, item>)."""
    user = torch.from_numpy(side.user)
    logit = torch.from_numpy(side.offset) + bias[user]
    logit = logit + (vectors[user] * torch.from_numpy(side.vector)).sum(1)
    return log_likelihood(logit, side.exam, label)


def fit_users(
    side: ItemSide,
    label: np.ndarray,
    n_users: int,
    taste_std: float,
    bias_std: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's taste vector and bias: the maximum a posteriori fit under Gaussian priors of
    spread `taste_std` and `bias_std`. The users are independent given the items, so this is
    many small logistic regressions solved as one, by L-BFGS on the whole set, from `start`
    (another fit's users) or from zero. A user with no rows ends at the prior's mean, zero."""
    if start is None:
        start = (np.zeros((n_users, side.vector.shape[1])), np.zeros(n_users))
    vectors = torch.tensor(start[0], dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(start[1], dtype=torch.float64, requires_grad=True)
    y = torch.from_numpy(np.asarray(label, dtype=np.float64))

    def loss() -> torch.Tensor:
        prior = vectors.pow(2).sum() / (2 * taste_std**2) + bias.pow(2).sum() / (2 * bias_std**2)
        return (prior - click_log_likelihood(side, vectors, bias, y)) / len(y)

    minimise([vectors, bias], loss, max_iter=300)
    return vectors.detach().numpy(), bias.detach().numpy()


def minimise(
    parameters: list[torch.Tensor], loss: Callable[[], torch.Tensor], max_iter: int
) -> None:
    """Minimise `loss()` over `parameters` in place: L-BFGS with a strong Wolfe line search,
    at most `max_iter` steps, until no gradient is above 1e-6 or the loss stops moving."""
    optimizer = torch.optim.LBFGS(
        parameters, lr=1, max_iter=max_iter, tolerance_grad=1e-6, line_search_fn="strong_wolfe"
    )

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        value = loss()
        value.backward()
        return value

    optimizer.step(objective)


@dataclass
class Ceiling:
    """The known-items fit, ready to score rows like any model."""

    world: World
    vectors: np.ndarray  # the fitted users' tastes, (n_users, latent_dim)
    bias: np.ndarray
    prior_scale: float
    valid_logloss: dict[float, float] = field(default_factory=dict)  # per scale tried

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        side = item_side(self.world, rows)
        logit = side.offset + self.bias[side.user]
        logit = logit + np.einsum("ij,ij->i", self.vectors[side.user], side.vector)
        return side.exam / (1 + np.exp(-logit))


def fit_ceiling(data: ExperimentData, scales: tuple[float, ...] = PRIOR_SCALES) -> Ceiling:
    """Fit every user on the training rows of both surfaces for each prior scale; keep the
    scale with the lowest validation log loss (both surfaces' rows)."""
    world = world_of(data)
    train = pd.concat(list(data.train.values()), ignore_index=True)
    valid = pd.concat(list(data.valid.values()), ignore_index=True)
    side, y = item_side(world, train), train["label"].to_numpy()
    taste_std, bias_std = float(world.user_vectors.std()), float(world.user_bias.std())
    best: Ceiling | None = None
    losses: dict[float, float] = {}
    fitted = None
    for scale in sorted(scales):  # each fit starts from the last: the next scale is near it
        fitted = fit_users(
            side, y, len(world.user_ids), scale * taste_std, scale * bias_std, start=fitted
        )
        vectors, bias = fitted
        candidate = Ceiling(world, vectors, bias, scale)
        losses[scale] = float(
            row_log_loss(valid["label"].to_numpy(), candidate.predict(valid)).mean()
        )
        if best is None or losses[scale] < losses[best.prior_scale]:
            best = candidate
    assert best is not None
    best.valid_logloss = losses
    return best
