"""The true click probability of an impression: the simulator's ground truth.

    p(click) = examination(position) x sigmoid(relevance)
    relevance = base[surface] + user bias + item bias
                + scale x <user taste, item taste>        (a latent user x item interaction)
                + hour_cross[hour, item category]          (a context cross)
                + device_cross[device, item category]      (another one)

The examination term is the position bias real logs carry: lower slots are seen less, whatever
their content. A logistic regression on one-hot features can learn the biases but not the dot
product or the crosses, which is what the model comparison in `model_mle` is meant to show.
Every function is vectorised: arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

from shared.world import World

# Chosen so the click rates land where an ad-supported streamer's do: about 2% on ads (in the
# 1-3% band) and about 6% per home-row tile. `tests/shared/test_generator.py` keeps them there.
BASE_LOGIT = {"ad_break": -4.4, "home_row": -2.45}
INTERACTION_SCALE = 1.0
# examination(position) = position ** -decay: the first slot is always seen.
POSITION_DECAY = {"ad_break": 0.6, "home_row": 0.55}


def examination(surface: str, position: np.ndarray) -> np.ndarray:
    """Probability that a slot is looked at, by 1-based position."""
    return np.asarray(position, dtype=float) ** -POSITION_DECAY[surface]


def relevance_logit(
    world: World,
    surface: str,
    day: int,
    user: np.ndarray,
    item: np.ndarray,
    hour: np.ndarray,
    device: np.ndarray,
) -> np.ndarray:
    """The logit of a click once the slot has been seen. Indices, not ids, for every argument."""
    items = world.items[surface]
    tastes = world.tastes_on(day)
    interaction = np.einsum("ij,ij->i", tastes[user], items.vectors[item])
    category = items.category[item]
    return (
        BASE_LOGIT[surface]
        + world.user_bias[user]
        + items.bias[item]
        + INTERACTION_SCALE * interaction
        + items.hour_cross[hour, category]
        + items.device_cross[device, category]
    )


def click_probability(
    world: World,
    surface: str,
    day: int,
    user: np.ndarray,
    item: np.ndarray,
    hour: np.ndarray,
    device: np.ndarray,
    position: np.ndarray,
) -> np.ndarray:
    """The true probability that this user clicks this item in this slot and context."""
    logit = relevance_logit(world, surface, day, user, item, hour, device)
    return examination(surface, position) / (1.0 + np.exp(-logit))
