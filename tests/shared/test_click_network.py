"""The click network's parts do what their names say: examination scales the probability by
slot, and the taste part builds an item from its category."""

from __future__ import annotations

import torch

from shared.click_network import DEVICE, HOUR, ITEM, POSITION, USER, ClickNetwork, ClickNetworkSpec

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
