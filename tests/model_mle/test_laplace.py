"""The Laplace block's sums by table row: a dense product, chunked, equal to the plain sums."""

from __future__ import annotations

import pytest
import torch

from model_mle import laplace
from model_mle.laplace import Pairing


@pytest.mark.parametrize("chunk_entries", [1 << 23, 7, 50])  # one chunk; one row each; a few
def test_sums_by_row_are_the_sums_over_each_rows_data(monkeypatch, chunk_entries):
    monkeypatch.setattr(laplace, "CHUNK_ENTRIES", chunk_entries)
    g = torch.Generator().manual_seed(0)
    size, other_size, n = 23, 9, 500
    index = torch.randint(0, size - 3, (n,), generator=g)  # the last 3 rows have no data
    other = torch.randint(0, other_size, (n,), generator=g)
    values = torch.randn(n, dtype=torch.float64, generator=g)
    features = torch.randn((other_size, 4), dtype=torch.float64, generator=g)
    expected = torch.zeros((size, 4), dtype=torch.float64).index_add_(
        0, index, values[:, None] * features[other]
    )
    pairing = Pairing.of(index, other, size, other_size)
    assert len(pairing.chunks) == -(-size // max(1, chunk_entries // other_size))
    torch.testing.assert_close(pairing.sum_by_row(values, features), expected)
    assert (pairing.sum_by_row(values, features)[-3:] == 0).all()
