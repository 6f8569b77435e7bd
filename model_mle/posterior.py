"""The Bayesian joint model: the joint model's users and items averaged over their posterior.

The joint model (`joint.py`) keeps one most probable value of every user's taste and every
item's offset. With two clicks a viewer on ad breaks and 37 an ad, those values are uncertain,
and the most probable values of two uncertain factors shrink their product. This model starts
from the joint model and replaces its users, items and category centres by draws from their
posterior given the training rows of both surfaces, keeping its structure (base rate, hour and
device crosses, the weight of each number, examination by position). That structure was
learned beside the most probable users and items, which it partly makes up for, so it is
first refitted to draws (Monte Carlo EM: a short chain, then the structure that best explains
the clicks averaged over its draws, `refit_structure`), and the chain is run again.

    Gibbs sampling, one sweep = three blocks
      users given items       each user's taste and bias: a Bayesian logistic regression on
                              the user's rows of both surfaces, drawn from its Laplace
                              approximation (`laplace.py`)
      items given users       each item's offset and appeal, the same way
      centres given items     each category's centre, from its items (Gaussian, exact)
    and after each sweep the spread of every table's columns is drawn from its posterior too
    (an inverse-gamma prior), so the priors are learned from the tables they govern.

Each kept sweep leaves `draws_per_block` copies of the tables drawn from each block's Laplace
approximation; the exported network (`ClickNetworkSpec.draws`) averages the click probability
over all of them, so the services serve it like any other artifact.

    bayes = sample_joint(joint, data.train)            # joint: train_joint's models
    bayes["ad_break"].predict(rows)                    # a TrainedModel per surface

About 60 s after the joint model's training on the small preset (2 cores; model_mle's README
has the measured figures). Each kept copy adds the user and item tables once more to the
artifact: 256 copies, about 60 MB per surface on the small preset.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from torch import nn

from model_mle.laplace import Pairing, Rows, laplace_block, with_bias
from model_mle.train import TrainedModel
from shared.click_network import DRAWN_TABLES, ITEM, POSITION, USER, ClickNetwork

NAME = "joint_bayes"
# A column's spread s has prior 1/s^2 ~ Gamma(shape, rate): a weak prior centred near the
# joint model's own prior_std of 0.5; a few hundred rows of a table outweigh it.
SPREAD_SHAPE, SPREAD_RATE = 1.0, 0.25
# The structure's parts, which the Monte Carlo EM refits to the draws (`refit_structure`)
STRUCTURE = ("bias", "hour_category", "device_category", "taste_dense", "examination")
REFIT_ITERATIONS = 15  # L-BFGS iterations, per surface and refit


@dataclass(frozen=True)
class PosteriorConfig:
    """The sampler's settings. Measured on the small preset's ads (data seed 7, 2026-12-08):
    the refit is worth 0.0014-0.0015 AUC (sampler seeds 0 and 1: 0.7630 -> 0.7645, 0.7610 ->
    0.7624); 2 kept draws per block instead of 4 cost 0.002, 2 sweeps of burn-in instead of
    10 cost 0.001, and a second Newton step per block doubled the time for nothing (0.7625
    against 0.7626). Another sampler seed moves the AUC by about 0.002."""

    sweeps: int = 32  # Gibbs sweeps whose draws are kept
    burn_in: int = 10  # sweeps dropped first, while the chain leaves the most probable values
    draws_per_block: int = 4  # table copies kept per block and kept sweep
    newton_steps: int = 1  # per block, from the block's last mode
    refits: int = 1  # rounds of refitting the structure to a shorter chain's draws, first
    refit_sweeps: int = 2  # the kept sweeps of each such chain
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.sweeps, self.draws_per_block, self.newton_steps, self.refit_sweeps) < 1:
            raise ValueError(f"sweeps, draws, Newton steps and refit sweeps must be >= 1: {self}")
        if self.burn_in < 0 or self.refits < 0:
            raise ValueError(f"burn_in and refits must be >= 0: {self}")

    @property
    def draws(self) -> int:
        return self.sweeps * 2 * self.draws_per_block


@dataclass
class Tables:
    """Every surface's users, items and categories stacked: items and categories of the
    surfaces one after the other, in the order of `sample_joint`'s models."""

    user: torch.Tensor  # (users, k + 1): taste and bias
    item: torch.Tensor  # (items, k + 1): offset and appeal
    centre: torch.Tensor  # (categories, k)


@dataclass(frozen=True)
class Layout:
    """Where each training row, item and category sits in `Tables`."""

    user: torch.Tensor  # each row's user
    item: torch.Tensor  # each row's item
    category: torch.Tensor  # each row's category
    offset: torch.Tensor  # each row's logit from the structure (all but users and items)
    rows: Rows
    item_category: torch.Tensor  # each item's category
    item_surface: torch.Tensor  # each item's surface (0, 1, ...)
    item_start: dict[str, int]  # a surface's first item
    category_start: dict[str, int]


def sample_joint(
    models: dict[str, TrainedModel],
    train: dict[str, pd.DataFrame],
    config: PosteriorConfig | None = None,
) -> dict[str, TrainedModel]:
    """The Bayesian joint model of each surface of `models` (`train_joint`'s), sampled from the
    posterior given `train`, the rows the joint model was trained on. The joint model's own
    networks are left as they are."""
    config = config or PosteriorConfig()
    started = time.perf_counter()
    networks: dict[str, ClickNetwork] = {}
    for surface, model in models.items():
        if model.network is None or not model.network.spec.taste or model.network.spec.draws > 1:
            raise ValueError("sample_joint needs the joint model's networks (train_joint)")
        networks[surface] = copy.deepcopy(model.network)
    rows = {s: encoded(m, train[s]) for s, m in models.items()}
    prior_std = next(iter(models.values())).config.prior_std
    tables = tables_of(networks)
    for _ in range(config.refits):  # Monte Carlo EM: draws given the structure, and back
        layout = layout_of(networks, rows)
        kept = gibbs(tables, layout, replace(config, sweeps=config.refit_sweeps), prior_std)
        refit_structure(networks, rows, kept, layout)
    layout = layout_of(networks, rows)
    kept = gibbs(tables, layout, config, prior_std)
    seconds = time.perf_counter() - started
    return {
        s: TrainedModel(
            NAME, s, m.config, m.encoder, drawn_network(networks[s], kept, layout, s),
            history=m.history, seconds=m.seconds + seconds,
        )
        for s, m in models.items()
    }  # fmt: skip


Encoded = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # categorical, dense, label


def encoded(model: TrainedModel, rows: pd.DataFrame) -> Encoded:
    assert model.encoder is not None
    categorical, dense = (torch.from_numpy(a) for a in model.encoder.transform(rows))
    return categorical, dense, torch.from_numpy(rows["label"].to_numpy(np.float64))


def layout_of(networks: dict[str, ClickNetwork], rows: dict[str, Encoded]) -> Layout:
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("user", "item", "cat", "off", "exam")}
    labels, item_category, item_surface = [], [], []
    item_start, category_start, items, categories = {}, {}, 0, 0
    for number, (surface, network) in enumerate(networks.items()):
        categorical, dense, label = rows[surface]
        item = categorical[:, ITEM]
        with torch.no_grad():
            offset, log_exam = structure_logits(network, categorical, dense)
        item_start[surface], category_start[surface] = items, categories
        parts["user"].append(categorical[:, USER])
        parts["item"].append(item + items)
        parts["cat"].append(network.item_category[item] + categories)
        parts["off"].append(offset.double())
        parts["exam"].append(log_exam.double().exp())
        labels.append(label)
        item_category.append(network.item_category + categories)
        item_surface.append(torch.full((network.spec.vocab_sizes[ITEM],), number))
        items += network.spec.vocab_sizes[ITEM]
        categories += network.spec.item_categories
    return Layout(
        *(torch.cat(parts[k]) for k in ("user", "item", "cat", "off")),
        Rows(torch.cat(parts["exam"]), torch.cat(labels)),
        torch.cat(item_category), torch.cat(item_surface), item_start, category_start,
    )  # fmt: skip


def structure_logits(
    network: ClickNetwork, categorical: torch.Tensor, dense: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's logit from the structure (every part but the user's and the item's own
    numbers) and its log examination probability."""
    offset = network.logit_without_taste(categorical, dense)
    offset = offset + network.context_logit(categorical, dense)
    return offset, nn.functional.logsigmoid(network.examination[categorical[:, POSITION]])


def refit_structure(
    networks: dict[str, ClickNetwork], rows: dict[str, Encoded], kept: list[Tables], layout: Layout
) -> None:
    """The structure's most probable values given the draws (Monte Carlo EM's M step): the
    base rate, the crosses, the numbers' weights and the examination curve that maximise the
    log-likelihood averaged over `kept`, each surface by L-BFGS, in place. The joint model
    learned them beside the most probable users and items, which they partly make up for."""
    start = 0
    for surface, network in networks.items():
        categorical, dense, label = rows[surface]
        mine = slice(start, start + len(label))
        start += len(label)
        fit_structure(network, categorical, dense, label, taste_terms(kept, layout, mine))


def taste_terms(kept: list[Tables], layout: Layout, mine: slice) -> torch.Tensor:
    """The users' and items' own terms in the logit of the training rows `mine`, one column
    per draw (float32)."""
    k = kept[0].centre.shape[1]
    user, item, category = layout.user[mine], layout.item[mine], layout.category[mine]
    return torch.stack([
        (t.user[user, :k] * (t.centre[category] + t.item[item, :k])).sum(1)
        + t.user[user, k] + t.item[item, k]
        for t in kept
    ], 1).float()  # fmt: skip


def fit_structure(
    network: ClickNetwork,
    categorical: torch.Tensor,
    dense: torch.Tensor,
    label: torch.Tensor,
    tastes: torch.Tensor,
) -> None:
    """`network`'s structure fitted to rows whose users' and items' terms are `tastes`, one
    column per draw: the mean log-likelihood over the draws, maximised by L-BFGS."""
    parts = [getattr(network, name) for name in STRUCTURE]
    parameters = [p.weight if isinstance(p, nn.Module) else p for p in parts]
    optimiser = torch.optim.LBFGS(
        parameters, max_iter=REFIT_ITERATIONS, line_search_fn="strong_wolfe"
    )
    y = label.float()[:, None]

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        offset, log_exam = structure_logits(network, categorical, dense)
        log_p = log_exam[:, None] + nn.functional.logsigmoid(offset[:, None] + tastes)
        log_p = log_p.clamp(max=-1e-6)
        value = -(y * log_p + (1 - y) * torch.log(-torch.expm1(log_p))).mean()
        value.backward()
        return value

    optimiser.step(loss)
    network.zero_grad(set_to_none=True)


def tables_of(networks: dict[str, ClickNetwork]) -> Tables:
    first = next(iter(networks.values()))
    with torch.no_grad():
        user = torch.cat([first.user_taste.weight, first.user_bias.weight], 1)
        item = torch.cat(
            [torch.cat([n.item_taste.weight, n.item_bias.weight], 1) for n in networks.values()]
        )
        centre = torch.cat([n.category_taste.weight for n in networks.values()])
    return Tables(user.double(), item.double(), centre.double())


def gibbs(
    tables: Tables, layout: Layout, config: PosteriorConfig, prior_std: float
) -> list[Tables]:
    """Run the sampler from `tables` (the joint model's most probable values); return the
    kept copies of the tables."""
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    k = tables.centre.shape[1]
    n_surfaces = int(layout.item_surface.max()) + 1
    user_precision = torch.full((k + 1,), prior_std**-2, dtype=torch.float64)
    item_precision = torch.full((n_surfaces, k + 1), prior_std**-2, dtype=torch.float64)
    with_users = torch.bincount(layout.user, minlength=len(tables.user)) > 0
    with_items = torch.bincount(layout.item, minlength=len(tables.item)) > 0
    of_users = Pairing.of(layout.user, layout.item, len(tables.user), len(tables.item))
    of_items = Pairing.of(layout.item, layout.user, len(tables.item), len(tables.user))
    t, kept = tables, []
    # Each block's Newton steps start from its last mode, which the other block's new draw
    # moves only a little: one step then lands close to the new mode.
    user_mode, item_mode = t.user, t.item
    for sweep in range(config.burn_in + config.sweeps):
        keep = sweep >= config.burn_in
        item_vectors = t.centre[layout.item_category] + t.item[:, :k]
        users = laplace_block(
            user_mode, of_users, with_bias(item_vectors),
            layout.offset + t.item[layout.item, k],
            layout.rows, user_precision, config.newton_steps,
        )  # fmt: skip
        if keep:
            kept += [replace(t, user=users.draw(generator)) for _ in range(config.draws_per_block)]
        t, user_mode = replace(t, user=users.draw(generator)), users.mode
        user = t.user[layout.user]
        items = laplace_block(
            item_mode, of_items, with_bias(t.user[:, :k]),
            layout.offset + user[:, k] + (user[:, :k] * t.centre[layout.category]).sum(1),
            layout.rows, item_precision[layout.item_surface], config.newton_steps,
        )  # fmt: skip
        if keep:
            kept += [replace(t, item=items.draw(generator)) for _ in range(config.draws_per_block)]
        t, item_mode = replace(t, item=items.draw(generator)), items.mode.clone()
        moved = t.centre
        t = draw_centres(t, layout, item_precision, prior_std, generator)
        item_mode[:, :k] -= (t.centre - moved)[layout.item_category]  # offsets follow the centres
        user_precision = draw_precision(t.user[with_users], rng)
        for s in range(n_surfaces):
            item_precision[s] = draw_precision(t.item[with_items & (layout.item_surface == s)], rng)
    return kept


def draw_centres(
    t: Tables,
    layout: Layout,
    item_precision: torch.Tensor,
    prior_std: float,
    generator: torch.Generator,
) -> Tables:
    """Each category's centre given its items' vectors (centre + offset, held fixed): a
    Gaussian prior of spread `prior_std` times the items' Gaussian around it. The offsets
    move by what the centre moves, so no item's vector changes."""
    k = t.centre.shape[1]
    vectors = t.centre[layout.item_category] + t.item[:, :k]
    weight = item_precision[layout.item_surface, :k]
    precision = torch.full_like(t.centre, prior_std**-2).index_add_(0, layout.item_category, weight)
    mean = torch.zeros_like(t.centre).index_add_(0, layout.item_category, weight * vectors)
    mean = mean / precision
    noise = torch.randn(mean.shape, dtype=mean.dtype, generator=generator)
    centre = mean + noise / precision.sqrt()
    offsets = vectors - centre[layout.item_category]
    return replace(t, item=torch.cat([offsets, t.item[:, k:]], 1), centre=centre)


def draw_precision(rows: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each column's prior precision 1/s^2 given the table's rows (zero-mean Gaussian): a
    draw from its Gamma posterior."""
    shape = SPREAD_SHAPE + len(rows) / 2
    rate = SPREAD_RATE + rows.pow(2).sum(0).numpy() / 2
    return torch.from_numpy(rng.gamma(shape, 1 / rate))


def drawn_network(
    network: ClickNetwork, kept: list[Tables], layout: Layout, surface: str
) -> ClickNetwork:
    """`network` (the joint model's, of `surface`) with its users, items and centres replaced
    by the kept draws, one after the other."""
    spec = replace(network.spec, draws=len(kept))
    k, items, categories = spec.embedding_dim, spec.vocab_sizes[ITEM], spec.item_categories
    first_item, first_category = layout.item_start[surface], layout.category_start[surface]

    def stack(part) -> torch.Tensor:
        return torch.cat([part(t) for t in kept]).float()

    item = slice(first_item, first_item + items)
    tables = (
        stack(lambda t: t.user[:, :k]),
        stack(lambda t: t.user[:, k:]),
        stack(lambda t: t.item[item, :k]),
        stack(lambda t: t.item[item, k:]),
        stack(lambda t: t.centre[first_category : first_category + categories]),
    )  # in DRAWN_TABLES' order
    state = network.state_dict()
    state |= {f"{name}.weight": t for name, t in zip(DRAWN_TABLES, tables, strict=True)}
    drawn = ClickNetwork(spec)
    drawn.load_state_dict(state)
    return drawn.eval()
