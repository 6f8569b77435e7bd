"""The joint model: one viewer, two surfaces, one taste.

The same person browses the home row and sits through ad breaks, and the simulator (like life)
gives them one taste for both. A per-surface model learns each user's taste from that surface's
clicks alone; on ad breaks a small-preset user clicks about two ads in the training days, far too
few to place them in an 8-dimensional taste space. The joint model trains both surfaces'
networks at once with one user table (taste vector and bias), so the home row's clicks, about
seven times as many, teach the ad model who the user is. Each surface keeps its own items (built
from their public category plus an offset), its own hour x category and device x category
crosses and its own examination curve (`shared.click_network`, the `taste` and `examination`
parts), and is exported as an ordinary per-surface artifact: nothing changes for the services.

    models = train_joint(TrainConfig(model="joint"), data.train, data.valid, categories)
    models["ad_break"].predict(rows)        # a TrainedModel per surface, as train_model gives

Regularisation is a Gaussian prior on the whole tables, the maximum a posteriori fit: the
objective per row is the mean log loss plus sum(weights^2) / (2 x prior_std^2 x training rows).
The usual penalty on the rows a batch touches is, in effect, a prior that grows with how often a
row is seen: it holds popular items back hardest and barely touches the rare users, the opposite
of what the evidence calls for.

About 30 s for both surfaces of the small preset on 2 cores (11 training days; 26 s in the
measured `make demo-model`, 19-67 s for 6-23 training days in `make bench`, on a busy machine).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from model_mle.evaluate import row_log_loss
from model_mle.models import build_network
from model_mle.train import BestEpoch, TrainConfig, TrainedModel, pick_device, predict_arrays
from shared.click_network import ClickNetwork
from shared.encoding import CATEGORICAL_FIELDS, FeatureEncoder, dense_columns
from shared.lake import Lake

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # categorical, dense, label


def item_categories(lake: Lake) -> dict[str, pd.Series]:
    """Each item's public category, per surface (item id -> name): the ads' category and the
    titles' genre, from the business's entity tables."""
    ads = pd.read_parquet(lake.entity("ads"))
    titles = pd.read_parquet(lake.entity("titles"))
    return {
        "ad_break": ads.set_index("ad_id")["category"],
        "home_row": titles.set_index("title_id")["genre"],
    }


def joint_encoders(train: dict[str, pd.DataFrame]) -> dict[str, FeatureEncoder]:
    """One encoder per surface (its own items and features), all with the same user
    vocabulary, the users of every surface: user index i is the same person everywhere."""
    users = sorted(set().union(*(set(rows["user_id"].astype(str)) for rows in train.values())))
    encoders = {}
    for surface, rows in train.items():
        encoder = FeatureEncoder.fit(rows, CATEGORICAL_FIELDS, dense_columns(surface))
        encoders[surface] = replace(encoder, categorical={**encoder.categorical, "user_id": users})
    return encoders


class JointNetwork(nn.Module):
    """One taste network per surface, the user tables shared: the same Python objects, so a
    gradient from either surface moves the one table."""

    def __init__(self, networks: dict[str, ClickNetwork]) -> None:
        super().__init__()
        self.surfaces = nn.ModuleDict(networks)
        first, *others = networks.values()
        for network in others:
            network.user_taste, network.user_bias = first.user_taste, first.user_bias

    def prior(self) -> torch.Tensor:
        """Sum of squares of every taste table, each shared table counted once."""
        tables = {id(t): t for n in self.surfaces.values() for t in n.taste_tables()}
        return sum((t.weight.pow(2).sum() for t in tables.values()), torch.zeros(()))


def fit_joint(
    joint: JointNetwork,
    train: dict[str, Arrays],
    valid: dict[str, Arrays],
    config: TrainConfig,
    progress: bool = True,
) -> list[dict]:
    """Adam on the log loss of both surfaces plus the prior. Every step takes the same share
    of each surface's shuffled rows, so an epoch is one pass over both; keeps the weights of
    the epoch with the best validation log loss over both surfaces. Returns the history."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = pick_device(config.device)
    joint.to(device)
    tensors = {
        s: tuple(torch.from_numpy(a).to(device) for a in arrays) for s, arrays in train.items()
    }
    n_rows = sum(len(arrays[2]) for arrays in train.values())
    steps = max(1, math.ceil(n_rows / config.batch_size))
    prior_weight = 1.0 / (2.0 * config.prior_std**2 * n_rows)
    optimizer = torch.optim.Adam(joint.parameters(), lr=config.lr)
    best, history = BestEpoch(joint, config.patience), []
    epochs = tqdm(range(config.max_epochs), desc="joint", unit="epoch", disable=not progress)
    for epoch in epochs:
        joint.train()
        started, total = time.perf_counter(), 0.0
        orders = {
            s: torch.from_numpy(rng.permutation(len(t[2]))).tensor_split(steps)
            for s, t in tensors.items()
        }
        for step in range(steps):
            loss, rows = torch.zeros((), device=device), 0
            for surface, (cat, dense, label) in tensors.items():
                batch = orders[surface][step].to(device)
                logits = joint.surfaces[surface](cat[batch], dense[batch])
                loss = loss + nn.functional.binary_cross_entropy_with_logits(
                    logits, label[batch], reduction="sum"
                )
                rows += len(batch)
            optimizer.zero_grad(set_to_none=True)
            (loss / rows + prior_weight * joint.prior()).backward()
            optimizer.step()
            total += loss.item()
        losses = {
            s: row_log_loss(v[2], predict_arrays(joint.surfaces[s], v[0], v[1])).sum()
            for s, v in valid.items()
        }
        valid_loss = float(sum(losses.values()) / sum(len(v[2]) for v in valid.values()))
        history.append(
            {
                "epoch": epoch + 1,
                "train_logloss": total / n_rows,
                "valid_logloss": valid_loss,
                **{f"valid_logloss_{s}": float(v / len(valid[s][2])) for s, v in losses.items()},
                "seconds": time.perf_counter() - started,
            }
        )
        epochs.set_postfix(train=f"{total / n_rows:.5f}", valid=f"{valid_loss:.5f}")
        if best.should_stop(valid_loss):
            break
    best.restore()
    joint.cpu().eval()
    return history


def train_joint(
    config: TrainConfig,
    train: dict[str, pd.DataFrame],
    valid: dict[str, pd.DataFrame],
    categories: dict[str, pd.Series] | None = None,
    progress: bool = True,
) -> dict[str, TrainedModel]:
    """Fit one taste network per surface of `train` with a shared user table, choosing the
    epoch on `valid`. Given one surface, it is the same model trained on that surface alone."""
    started = time.perf_counter()
    encoders = joint_encoders(train)
    torch.manual_seed(config.seed)  # the initial weights, too, come from the seed
    networks = {}
    for surface, encoder in encoders.items():
        network = build_network(
            "joint", encoder, config.embedding_dim, categories=(categories or {}).get(surface)
        )
        rate = float(np.clip(train[surface]["label"].mean(), 1e-4, 1 - 1e-4))
        with torch.no_grad():  # start at the base rate: the first epoch then learns the tastes
            network.bias.fill_(float(np.log(rate / (1 - rate))))
        networks[surface] = network
    joint = JointNetwork(networks)

    def arrays(surface: str, rows: pd.DataFrame) -> Arrays:
        return (*encoders[surface].transform(rows), rows["label"].to_numpy(np.float32))

    history = fit_joint(
        joint,
        {s: arrays(s, rows) for s, rows in train.items()},
        {s: arrays(s, valid[s]) for s in train},
        config,
        progress,
    )
    seconds = time.perf_counter() - started
    return {
        s: TrainedModel("joint", s, config, encoders[s], networks[s], history=history,
                        seconds=seconds)
        for s in train
    }  # fmt: skip
