"""Train one click model, stop early on the validation day, and (with --export) write the model
artifact other archetypes serve.

    python -m model_mle.train --surface ad_break --preset small --export

About a minute on 2 cores for the small preset once the experiment's data is prepared (the first
run prepares it, about a minute more). Prints the test-day metrics against the oracle and the
artifact's path; the run is tracked in MLflow (`make mlflow-ui`). The notebooks call the same
`train_model`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from model_mle.evaluate import row_log_loss
from model_mle.models import ARCHITECTURES, MODEL_NAMES, PopularityModel, build_network
from shared.artifacts import LATEST
from shared.click_network import ClickNetwork
from shared.encoding import CATEGORICAL_FIELDS, FeatureEncoder, dense_columns
from shared.lake import Lake
from shared.schema import SURFACES
from shared.settings import get_settings


@dataclass(frozen=True)
class TrainConfig:
    model: str = "fm"
    embedding_dim: int = 8
    l2: float = 2e-3  # on the embeddings a batch touches; without it ids overfit in 2 epochs
    lr: float = 0.01
    batch_size: int = 4096
    max_epochs: int = 8
    patience: int = 1  # epochs without a better validation log loss before stopping
    dropout: float = 0.0
    # The joint model's Gaussian prior on its whole tables (instead of `l2`): about the size of
    # the tastes and biases it learns; chosen on the validation day (README, "The joint model").
    prior_std: float = 0.5
    seed: int = field(default_factory=lambda: get_settings().seed)
    device: str = "auto"  # "auto": CUDA when there is one, else the CPU

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {MODEL_NAMES}")
        if self.max_epochs < 1 or self.batch_size < 1:
            raise ValueError("max_epochs and batch_size must be at least 1")


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TrainedModel:
    """A fitted model of either kind, with what training saw."""

    name: str
    surface: str
    config: TrainConfig
    encoder: FeatureEncoder | None = None
    network: ClickNetwork | None = None
    baseline: PopularityModel | None = None
    history: list[dict] = field(default_factory=list)  # one entry per epoch
    seconds: float = 0.0

    def predict(self, rows: pd.DataFrame, batch_size: int = 65_536) -> np.ndarray:
        """p(click) of each row."""
        if self.baseline is not None:
            return self.baseline.predict(rows)
        assert self.network is not None and self.encoder is not None
        categorical, dense = self.encoder.transform(rows)
        return predict_arrays(self.network, categorical, dense, batch_size)


def predict_arrays(
    network: ClickNetwork, categorical: np.ndarray, dense: np.ndarray, batch_size: int = 65_536
) -> np.ndarray:
    device = next(network.parameters()).device
    network.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(categorical), batch_size):
            c = torch.from_numpy(categorical[start : start + batch_size]).to(device)
            d = torch.from_numpy(dense[start : start + batch_size]).to(device)
            out.append(torch.sigmoid(network(c, d)).double().cpu().numpy())
    return np.concatenate(out) if out else np.empty(0)


class BestEpoch:
    """Early stopping on the validation loss: keeps a copy of the weights of the best epoch so
    far, says when `patience` epochs in a row have not beaten it, and puts the best back."""

    def __init__(self, module: torch.nn.Module, patience: int) -> None:
        self.module, self.patience = module, patience
        self.loss, self.waited = np.inf, 0
        self.state: dict[str, torch.Tensor] | None = None

    def should_stop(self, valid_loss: float) -> bool:
        """Record an epoch's validation loss; True when training should stop."""
        if valid_loss < self.loss:
            self.loss, self.waited = valid_loss, 0
            self.state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            return False
        self.waited += 1
        return self.waited > self.patience

    def restore(self) -> None:
        """Load the best epoch's weights (no-op before the first epoch)."""
        if self.state is not None:
            self.module.load_state_dict(self.state)


def fit_network(
    network: ClickNetwork,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: TrainConfig,
    progress: bool = True,
) -> list[dict]:
    """Adam on the log loss plus the embedding penalty, one shuffled pass per epoch; keeps the
    weights of the epoch with the best validation log loss. Arrays: (categorical, dense, label).
    Returns the per-epoch history."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = pick_device(config.device)
    network.to(device)
    cat, dense, label = (torch.from_numpy(a).to(device) for a in train)
    y_valid = valid[2]
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    best, history = BestEpoch(network, config.patience), []
    epochs = tqdm(range(config.max_epochs), desc=config.model, unit="epoch", disable=not progress)
    for epoch in epochs:
        network.train()
        started, total = time.perf_counter(), 0.0
        for batch in torch.from_numpy(rng.permutation(len(label))).split(config.batch_size):
            batch = batch.to(device)
            c = cat[batch]
            logits = network(c, dense[batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, label[batch])
            optimizer.zero_grad(set_to_none=True)
            (loss + config.l2 * network.penalty(c)).backward()
            optimizer.step()
            total += loss.item() * len(batch)
        p_valid = predict_arrays(network, valid[0], valid[1])
        valid_loss = float(row_log_loss(y_valid, p_valid).mean())
        history.append(
            {
                "epoch": epoch + 1,
                "train_logloss": total / len(label),
                "valid_logloss": valid_loss,
                "seconds": time.perf_counter() - started,
            }
        )
        epochs.set_postfix(train=f"{total / len(label):.5f}", valid=f"{valid_loss:.5f}")
        if best.should_stop(valid_loss):
            break
    best.restore()
    network.cpu().eval()
    return history


def train_model(
    config: TrainConfig,
    surface: str,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    progress: bool = True,
    categories: pd.Series | None = None,
) -> TrainedModel:
    """Fit `config.model` on the training rows of `surface`, choosing the epoch on `valid`.
    The joint model trained here sees this surface only (`joint.train_joint` trains it on
    both); it reads each item's category from `categories`."""
    if config.model == "joint":
        from model_mle.joint import train_joint

        categories_of = {surface: categories} if categories is not None else None
        return train_joint(config, {surface: train}, {surface: valid}, categories_of, progress)[
            surface
        ]
    started = time.perf_counter()
    if config.model == "popularity":
        model = TrainedModel("popularity", surface, config, baseline=PopularityModel(surface))
        model.baseline.fit(train)  # type: ignore[union-attr]
    else:
        encoder = FeatureEncoder.fit(train, CATEGORICAL_FIELDS, dense_columns(surface))

        def arrays(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return (*encoder.transform(rows), rows["label"].to_numpy(np.float32))

        torch.manual_seed(config.seed)  # the initial weights, too, come from the seed
        network = build_network(config.model, encoder, config.embedding_dim, config.dropout)
        rate = float(np.clip(train["label"].mean(), 1e-4, 1 - 1e-4))
        with torch.no_grad():  # start at the base rate, not at 50%: the first epoch then learns
            network.bias.fill_(float(np.log(rate / (1 - rate))))  # the ranking, not the mean
        history = fit_network(network, arrays(train), arrays(valid), config, progress)
        model = TrainedModel(config.model, surface, config, encoder, network, history=history)
    model.seconds = time.perf_counter() - started
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surface", choices=SURFACES, required=True)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--days", type=int, default=14, help="days generated (default 14)")
    parser.add_argument("--model", choices=list(ARCHITECTURES), default="fm")
    parser.add_argument("--epochs", type=int, default=8, help="most epochs (default 8)")
    parser.add_argument("--seed", type=int, default=None, help="default: MARQUEE_SEED (7)")
    parser.add_argument("--export", action="store_true", help="write the model artifact")
    parser.add_argument(
        "--if-missing", action="store_true", help="do nothing when the lake has a model already"
    )
    args = parser.parse_args(argv)
    if args.if_missing and (Lake.from_settings().models(args.surface) / LATEST).exists():
        print(f"{args.surface}: a model is exported already ({Lake.from_settings().root})")
        return 0

    from model_mle.data import DataConfig, load_experiment
    from model_mle.evaluate import classification_metrics
    from model_mle.tracking import log_model_run

    seed = args.seed if args.seed is not None else get_settings().seed
    try:
        data = load_experiment(DataConfig(preset=args.preset, days=args.days, seed=seed))
        config = TrainConfig(model=args.model, max_epochs=args.epochs, seed=seed)
    except ValueError as e:
        parser.exit(2, f"error: {e}\n")
    s = args.surface
    model = train_model(config, s, data.train[s], data.valid[s])
    test = data.test[s]
    metrics = classification_metrics(test["label"].to_numpy(), model.predict(test))
    oracle = classification_metrics(test["label"].to_numpy(), test["p_click"].to_numpy())
    print(f"{s} {model.name} on the test day ({len(test):,} impressions), {model.seconds:.0f} s:")
    for key in ("auc", "logloss", "ece"):
        print(f"  {key:8} {metrics[key]:.4f}   oracle {oracle[key]:.4f}")
    artifact = None
    if args.export:
        artifact = export(model, data.training_window, metrics)
        print(f"artifact: {artifact}")
    run_id = log_model_run(
        experiment=f"marquee-{s}",
        run_name=f"train-{model.name}",
        params={**asdict(config), "surface": s, "preset": args.preset, "days": args.days},
        metrics={**metrics, **{f"oracle_{k}": v for k, v in oracle.items()}},
        artifact_dir=artifact,
    )
    print(f"MLflow run {run_id} (make mlflow-ui)")
    return 0


def export(model: TrainedModel, training_window: tuple[str, str], metrics: dict):
    """Write `model` as a model artifact under the lake's artifacts zone; return its folder."""
    from shared.artifacts import export_model
    from shared.lake import Lake

    if model.network is None or model.encoder is None:
        raise ValueError(f"{model.name} is not a network and has no artifact form")
    return export_model(
        Lake.from_settings(),
        model.network,
        model.encoder,
        surface=model.surface,
        model=model.name,
        metrics={k: float(v) for k, v in metrics.items()},
        training_window=training_window,
        extra={"train_config": asdict(model.config)},
    )


if __name__ == "__main__":
    sys.exit(main())
