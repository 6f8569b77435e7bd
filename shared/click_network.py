"""The click-prediction network: the scoring half of the model contract.

One configurable architecture covers the classic click-through-rate models, so that a model
artifact is weights plus a small JSON spec, and the service that loads it needs no code from the
team that trained it (`infra_mle` never imports `model_mle`):

    linear            a weight per categorical value and per number: logistic regression
    fm                factorization machine: <v_i, v_j> for every pair of fields, which is how a
                      user x item taste or an hour x item effect can be learned
    cross_layers = L  DCN-v2 cross network: x_{l+1} = x_0 * (W_l x_l + b_l) + x_l
    hidden = (64, 32) a deep network over the field embeddings and the numbers (an MLP)

The logit is the sum of the parts that are switched on. `model_mle/models.py` names the
combinations it compares (logreg, mlp, fm, dcn).

    model = ClickNetwork(ClickNetworkSpec(vocab_sizes=(6001, 301, 25, 5, 4), n_dense=17, fm=True))
    logits = model(categorical, dense)      # (n,) from int64 (n, 5) and float32 (n, 17)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ClickNetworkSpec:
    vocab_sizes: tuple[int, ...]  # per categorical field, index 0 being "unknown"
    n_dense: int
    embedding_dim: int = 8  # the simulator's hidden tastes have 8 dimensions
    linear: bool = True
    fm: bool = False
    cross_layers: int = 0
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not (self.linear or self.fm or self.cross_layers or self.hidden):
            raise ValueError("a click network needs at least one part: linear, fm, cross or hidden")
        if not self.vocab_sizes or min(self.vocab_sizes) < 1:
            raise ValueError(f"every field needs a vocabulary, got {self.vocab_sizes}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ClickNetworkSpec:
        data = dict(data)
        data["vocab_sizes"] = tuple(data["vocab_sizes"])
        data["hidden"] = tuple(data["hidden"])
        return cls(**data)


class ClickNetwork(nn.Module):
    def __init__(self, spec: ClickNetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        offsets = torch.tensor([0, *spec.vocab_sizes[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)  # field index -> table row
        total, n_fields = sum(spec.vocab_sizes), len(spec.vocab_sizes)
        self.bias = nn.Parameter(torch.zeros(1))
        if spec.linear:
            self.weights = nn.Embedding(total, 1)
            nn.init.zeros_(self.weights.weight)
            self.dense_weights = nn.Linear(spec.n_dense, 1, bias=False)
        wide = n_fields * spec.embedding_dim + spec.n_dense  # the stacked input x_0
        if spec.fm or spec.cross_layers or spec.hidden:
            self.embedding = nn.Embedding(total, spec.embedding_dim)
            nn.init.normal_(self.embedding.weight, std=0.01)  # small: pairs start near zero
        self.cross = nn.ModuleList(nn.Linear(wide, wide) for _ in range(spec.cross_layers))
        layers: list[nn.Module] = []
        width = wide
        for size in spec.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(spec.dropout)]
            width = size
        self.deep = nn.Sequential(*layers)
        head_width = (wide if spec.cross_layers else 0) + (width if spec.hidden else 0)
        self.head = nn.Linear(head_width, 1) if head_width else None

    def forward(self, categorical: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        rows = categorical + self.offsets
        logit = self.bias.expand(rows.shape[0])
        if self.spec.linear:
            logit = logit + self.weights(rows).sum((1, 2)) + self.dense_weights(dense)[:, 0]
        if not hasattr(self, "embedding"):
            return logit
        v = self.embedding(rows)  # (n, fields, k)
        if self.spec.fm:
            # sum over pairs <v_i, v_j> = ((sum v)^2 - sum v^2) / 2, in O(fields x k)
            logit = logit + 0.5 * (v.sum(1).pow(2) - v.pow(2).sum(1)).sum(1)
        if self.head is None:
            return logit
        x0 = torch.cat([v.flatten(1), dense], dim=1)
        parts = []
        if self.spec.cross_layers:
            x = x0
            for layer in self.cross:
                x = x0 * layer(x) + x
            parts.append(x)
        if self.spec.hidden:
            parts.append(self.deep(x0))
        return logit + self.head(torch.cat(parts, dim=1))[:, 0]

    def penalty(self, categorical: torch.Tensor) -> torch.Tensor:
        """Mean squared size of the embeddings a batch touched: L2 regularisation that leaves
        the rows of users and items not in the batch alone."""
        rows = categorical + self.offsets
        total = torch.zeros((), device=categorical.device)
        if hasattr(self, "embedding"):
            total = total + self.embedding(rows).pow(2).sum() / len(rows)
        if self.spec.linear:
            total = total + self.weights(rows).pow(2).sum() / len(rows)
        return total
