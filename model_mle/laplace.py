"""One block of a Gibbs sampler over a taste model's own numbers, by the Laplace approximation.

Given everything else, each user's numbers (taste vector and bias) are a small Bayesian
logistic regression on that user's rows, and so are each item's. `laplace_block` finds every
row's most probable numbers at once (Newton's steps from `current`) and the Cholesky factor of
the posterior's precision there: the Gaussian that approximates each posterior. `draw` samples
from those Gaussians. The known-structure fit (`structure_fit.py`) and the Bayesian joint model
(`posterior.py`) alternate the two blocks, users given items and items given users.

The click model is p = exam x sigmoid(logit), logit = offset + <theta[index], features[other]>,
with a Gaussian prior of the given precision (per column) on every row of theta.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Rows:
    """The data rows a block is fitted to: each row's examination probability and label."""

    exam: torch.Tensor  # (n,) float64
    label: torch.Tensor  # (n,) float64, 0 or 1


@dataclass(frozen=True)
class Laplace:
    """Per row of a table: the Gaussian approximation of its posterior."""

    mode: torch.Tensor  # (rows, d)
    cholesky: torch.Tensor  # (rows, d, d): lower factor of the posterior precision

    def draw(self, generator: torch.Generator, index: torch.Tensor | None = None) -> torch.Tensor:
        """One draw of every row (or of the rows `index` picks, each independently)."""
        mode, cholesky = (self.mode, self.cholesky) if index is None else (
            self.mode[index], self.cholesky[index])  # fmt: skip
        noise = torch.randn((*mode.shape, 1), dtype=mode.dtype, generator=generator)
        return mode + torch.linalg.solve_triangular(cholesky.mT, noise, upper=True)[..., 0]


def with_bias(features: torch.Tensor) -> torch.Tensor:
    """`features` and a column of ones: the features of a row's taste numbers and its bias."""
    return torch.cat([features, torch.ones((len(features), 1), dtype=features.dtype)], 1)


# The largest dense table x other-table matrix built at once (entries; 64 MB in float64)
CHUNK_ENTRIES = 1 << 23


@dataclass(frozen=True)
class Pairing:
    """The data rows of a block: each row's `index` in the table being drawn and `other`, its
    row of the table its features come from (a user's features are its item's, and an item's
    its user's). Fixed for the whole chain, so the grouping is computed once.

    Sums over a table row's data rows of value x (feature function of `other`) are then a
    dense matrix product: per table row, the values summed per other row, times the other
    rows' features. On the small preset that is a 5,884 x 1,302 matrix instead of 1.65
    million outer products, in chunks of at most `CHUNK_ENTRIES` for larger presets."""

    index: torch.Tensor
    other: torch.Tensor
    size: int  # rows of the table being drawn
    other_size: int
    order: torch.Tensor  # the data rows sorted by `index`
    flat: torch.Tensor  # per sorted data row: its place in its chunk's matrix
    chunks: tuple[tuple[int, int, int, int], ...]  # table rows r0:r1, sorted data rows s0:s1

    @classmethod
    def of(cls, index: torch.Tensor, other: torch.Tensor, size: int, other_size: int) -> Pairing:
        order = torch.argsort(index, stable=True)
        by_row = index[order]
        step = max(1, CHUNK_ENTRIES // other_size)
        starts = list(range(0, size, step))
        bounds = torch.searchsorted(by_row, torch.tensor([*starts, size])).tolist()
        chunks = tuple(
            (r0, min(r0 + step, size), bounds[i], bounds[i + 1]) for i, r0 in enumerate(starts)
        )
        first = (by_row // step) * step  # each sorted row's chunk's first table row
        flat = (by_row - first) * other_size + other[order]
        return cls(index, other, size, other_size, order, flat, chunks)

    def sum_by_row(self, values: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """out[r] = sum over the data rows j of table row r of values[j] x features[other[j]]."""
        out = torch.empty((self.size, features.shape[1]), dtype=features.dtype)
        values = values[self.order]
        for r0, r1, s0, s1 in self.chunks:
            counts = torch.zeros((r1 - r0) * self.other_size, dtype=values.dtype)
            counts.index_add_(0, self.flat[s0:s1], values[s0:s1])
            out[r0:r1] = counts.view(r1 - r0, self.other_size) @ features
        return out


def laplace_block(
    current: torch.Tensor,
    pairing: Pairing,
    features: torch.Tensor,
    offset: torch.Tensor,
    rows: Rows,
    precision: torch.Tensor,
    steps: int,
) -> Laplace:
    """The Laplace approximation of p(theta_r | data) for every row r of `current`, after
    `steps` Newton steps from `current`. Data row j has logit offset[j] + <theta[index[j]],
    features[other[j]]> (`pairing`). Rows of the table without data keep the prior: mode
    zero, precision `precision`."""
    n, d = current.shape
    outer = (features[:, :, None] * features[:, None, :]).reshape(len(features), d * d)
    theta, hessian = current, torch.diag_embed(precision.expand(n, d))
    for _ in range(steps):
        sig = torch.sigmoid(offset + (theta[pairing.index] * features[pairing.other]).sum(1))
        p = rows.exam * sig
        # d log p(label) / d logit, and its Fisher information (the Hessian's weight)
        slope = torch.where(rows.label > 0, 1 - sig, -rows.exam * sig * (1 - sig) / (1 - p))
        weight = rows.exam * sig * (1 - sig) ** 2 / (1 - p)
        gradient = pairing.sum_by_row(slope, features)
        hessian = pairing.sum_by_row(weight, outer).view(n, d, d)
        hessian = hessian + torch.diag_embed(precision.expand(n, d))
        theta = theta + torch.linalg.solve(hessian, gradient - precision * theta)
    return Laplace(theta, torch.linalg.cholesky(hessian))
