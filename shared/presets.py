"""Size presets of the Marquee world, from `tiny` (tests, about a second) to `large` (scaling).

The counts are the knobs; the events per day follow from them (about 16 per session: a home row
of 10 titles, one or two ad pods of 3 ads, and the clicks and plays those cause). The README's
table of presets is measured from these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """How big the world is and how busy each day is."""

    name: str
    n_users: int
    n_titles: int
    n_ads: int
    sessions_per_day: int
    latent_dim: int = 8  # the rank of the hidden user x item tastes
    home_row_size: int = 10  # titles in the home row, all logged as impressions
    ad_pod_size: int = 3  # ads shown back to back in one ad break
    ad_breaks_per_session: float = 1.5  # Poisson mean; a session may have none


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("tiny", n_users=300, n_titles=120, n_ads=40, sessions_per_day=400),
        Preset("small", n_users=6_000, n_titles=1_000, n_ads=300, sessions_per_day=10_000),
        Preset("medium", n_users=60_000, n_titles=5_000, n_ads=1_500, sessions_per_day=100_000),
        # About 6.5 million events a day: the largest day whose JSON text fits comfortably in
        # memory beside the rest on a 24 GiB laptop.
        Preset("large", n_users=400_000, n_titles=10_000, n_ads=3_000, sessions_per_day=400_000),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a `ValueError` that lists the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
