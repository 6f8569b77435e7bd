"""eCPM ranking: the order of the candidate ads in one ad break, the lesson of the ad surface.

    bids = {"ad00001": 0.80, "ad00002": 3.00}                      # dollars per click
    ranked = rank_by_ecpm(["ad00001", "ad00002"], [0.05, 0.02], bids)
    [a.ad_id for a in ranked]            # ['ad00002', 'ad00001']: $60 beats $40 per 1,000

    python -m pytest tests/infra_mle/test_ranking.py

Marquee is paid per click, so the ad worth showing first is not the one most likely to be
clicked but the one expected to earn the most: the click probability (pCTR, from the model)
times the bid (dollars per click, from the advertiser). Per 1,000 showings that is the eCPM,
eCPM = pCTR x bid x 1000, the unit ad servers compare prices in. A 5% ad bidding $0.80 earns
$40 per 1,000 showings, a 2% ad bidding $3.00 earns $60: ordering by pCTR alone would show the
wrong one first and lose a third of that slot's revenue.

Two cases are not errors. An ad with no bid on record is still returned, with bid 0, eCPM 0 and
`known` false, and it is placed after every ad with a bid (even one bidding 0): the ad server
asked about it, and a ranking that silently dropped it would hide the gap in the bid table.
(An unknown user is handled before this step: the model scores it with default features.) Ties
are broken by the ad id, so the same request always gets the same order.

This module is pure: no I/O, no service state. `infra_mle.service.Service.rank` scores the
candidates and calls it; the offline evaluation in `model_mle/evaluate.py` orders logged pods by
the same product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from infra_mle.schemas import RankedAd

PER_MILLE = 1000  # eCPM is quoted per 1,000 showings


def rank_by_ecpm(
    ad_ids: Sequence[str],
    p_click: Sequence[float] | np.ndarray,
    bids: Mapping[str, float],
) -> list[RankedAd]:
    """The candidates `ad_ids`, with click probabilities `p_click` (same order), ranked by
    eCPM = p_click x bid x 1000, highest first. Ads missing from `bids` come last with bid 0
    and `known` false; equal eCPMs are ordered by ad id."""
    ranked = []
    for ad, p in zip(ad_ids, p_click, strict=True):
        bid = bids.get(ad)
        ranked.append(
            RankedAd(
                ad_id=ad,
                p_click=float(p),
                bid=bid or 0.0,
                ecpm=float(p) * (bid or 0.0) * PER_MILLE,
                known=bid is not None,
            )
        )
    ranked.sort(key=lambda a: (not a.known, -a.ecpm, a.ad_id))
    return ranked
