"""The click network's parts do what their names say: examination scales the probability by
slot, and the taste part builds an item from its category."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from shared.click_network import (
    DEVICE,
    DRAWN_TABLES,
    HOUR,
    ITEM,
    POSITION,
    USER,
    ClickNetwork,
    ClickNetworkSpec,
)  # fmt: skip

VOCAB = (5, 4, 25, 5, 4)  # users, items, hours, devices, positions; index 0 is "unknown"


def joint_network() -> ClickNetwork:
    torch.manual_seed(0)
    spec = ClickNetworkSpec(
        VOCAB, n_dense=2, linear=False, taste=True, item_categories=3, examination=True
    )
    network = ClickNetwork(spec)
    network.item_category[:] = torch.tensor([0, 1, 1, 2])
    with torch.no_grad():
        for table in network.taste_tables():
            table.weight.normal_(0, 0.5)
        network.examination.copy_(torch.tensor([0.0, 4.0, 0.5, -1.0]))
    return network.eval()


def inputs(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    categorical = torch.stack([torch.randint(0, v, (n,), generator=g) for v in VOCAB], 1)
    return categorical, torch.randn(n, 2, generator=g)


def test_examination_multiplies_the_probability_of_a_seen_slot():
    network = joint_network()
    categorical, dense = inputs()
    with torch.no_grad():
        p = torch.sigmoid(network(categorical, dense))
        seen = torch.sigmoid(network.relevance(categorical, dense))
        exam = torch.sigmoid(network.examination[categorical[:, POSITION]])
    torch.testing.assert_close(p, exam * seen, atol=1e-6, rtol=1e-5)


def test_the_slot_changes_the_probability_not_the_order_of_items():
    network = joint_network()
    categorical, dense = inputs()
    with torch.no_grad():
        first = network(categorical.index_fill(1, torch.tensor([POSITION]), 1), dense)
        third = network(categorical.index_fill(1, torch.tensor([POSITION]), 3), dense)
    assert (third < first).all()
    assert torch.equal(first.argsort(), third.argsort())


def test_an_item_without_an_offset_is_its_categorys_item():
    network = joint_network()
    with torch.no_grad():
        network.item_taste.weight[1:3] = 0  # items 1 and 2: both category 1, no offset
        network.item_bias.weight[1:3] = 0
    categorical, dense = inputs()
    one = categorical.index_fill(1, torch.tensor([ITEM]), 1)
    two = categorical.index_fill(1, torch.tensor([ITEM]), 2)
    with torch.no_grad():
        torch.testing.assert_close(network(one, dense), network(two, dense))
    assert (USER, HOUR, DEVICE) == (0, 2, 3)  # the encoder's field order the parts rely on


def drawn_network(draws: int) -> ClickNetwork:
    """`joint_network` with its taste tables as `draws` different posterior draws."""
    single = joint_network()
    spec = replace(single.spec, draws=draws)
    network = ClickNetwork(spec)
    drawn = {f"{name}.weight" for name in DRAWN_TABLES}
    network.load_state_dict(
        {k: v for k, v in single.state_dict().items() if k not in drawn}, strict=False
    )
    with torch.no_grad():
        for name in DRAWN_TABLES:
            getattr(network, name).weight.normal_(0, 0.5)
    return network.eval()


def one_draw(network: ClickNetwork, d: int) -> ClickNetwork:
    """Draw `d` of a drawn network, as a network of its own."""
    single = ClickNetwork(replace(network.spec, draws=1))
    state = network.state_dict()
    for name in DRAWN_TABLES:
        table = getattr(network, name)
        rows = table.num_embeddings // network.spec.draws
        state[f"{name}.weight"] = table.weight[d * rows : (d + 1) * rows]
    single.load_state_dict(state)
    return single.eval()


def test_a_drawn_network_averages_the_probability_of_a_seen_slot_over_its_draws():
    network = drawn_network(draws=4)
    categorical, dense = inputs()
    with torch.no_grad():
        seen = torch.sigmoid(network.relevance(categorical, dense))
        each = [torch.sigmoid(one_draw(network, d).relevance(categorical, dense)) for d in range(4)]
        p = torch.sigmoid(network(categorical, dense))
        exam = torch.sigmoid(network.examination[categorical[:, POSITION]])
    torch.testing.assert_close(seen, torch.stack(each).mean(0), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(p, exam * seen, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(each[0], each[1])  # the draws differ, so the mean is a real one


def test_a_drawn_network_of_identical_draws_is_the_single_network():
    single = joint_network()
    network = ClickNetwork(replace(single.spec, draws=3)).eval()
    state = single.state_dict()
    for name in DRAWN_TABLES:
        state[f"{name}.weight"] = state[f"{name}.weight"].repeat(3, 1)
    network.load_state_dict(state)
    categorical, dense = inputs()
    with torch.no_grad():
        torch.testing.assert_close(network(categorical, dense), single(categorical, dense))


def test_draws_need_the_taste_part_and_at_least_one():
    with pytest.raises(ValueError, match="draws"):
        ClickNetworkSpec(VOCAB, n_dense=2, fm=True, draws=2)
    with pytest.raises(ValueError, match="draws"):
        ClickNetworkSpec(VOCAB, n_dense=2, taste=True, item_categories=3, draws=0)
    old = ClickNetworkSpec(VOCAB, n_dense=2, taste=True, item_categories=3).to_json()
    del old["draws"]  # an artifact written before draws existed reads as one draw
    assert ClickNetworkSpec.from_json(old).draws == 1
