"""Ad breaks served from a daily batch: the serving shape ads do not use, built so that it can be
measured against the one they do (`staleness.py` does).

    batch = AdBatch.build(scorer, users, ad_ids, bids)        # once a day, before traffic
    batch.order("u0000042", candidates)                       # no hour, no device: none known
    realtime_order(scorer, bids, "u0000042", "tv", 21, candidates)   # what the service does

The batch scores every user against every ad it knows when it runs, in one fixed context (the
user's primary device at `BATCH_HOUR`, as the home-row job does), and keeps the eCPM. At request
time it can only look the candidates up: `order` takes no request context by construction, so
two ad breaks of one user at 09:00 and at 21:00 get the same order. An ad launched after the
batch ran has no entry and comes last, whatever it bids; a bid changed since keeps its old value.
The real-time order is the service's own: `rank_by_ecpm` over scores of this very request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from infra_mle.batch_score import BATCH_HOUR
from infra_mle.online import OnlineScorer
from infra_mle.ranking import PER_MILLE, rank_by_ecpm

USERS_PER_PASS = 256  # x the ads: one forward pass, as the home-row job batches users


@dataclass(frozen=True)
class AdBatch:
    """Each user's eCPM of every ad the batch knew, in the batch's fixed context."""

    users: dict[str, int]  # user id -> row of `ecpm`
    ads: dict[str, int]  # ad id -> column of `ecpm`
    ecpm: np.ndarray  # (users, ads) dollars per 1,000 showings

    @classmethod
    def build(
        cls,
        scorer: OnlineScorer,
        users: pd.DataFrame,
        ad_ids: Sequence[str],
        bids: Mapping[str, float],
        hour: int = BATCH_HOUR,
    ) -> AdBatch:
        """Score `users` (user_id, device: their primary one) x `ad_ids` at `hour`, with the
        `bids` of the moment the batch runs."""
        ad_ids = np.asarray(ad_ids, dtype=object)
        bid = np.array([bids[a] for a in ad_ids])
        user_ids = users["user_id"].to_numpy(object)
        devices = users["device"].to_numpy(object)
        n_ads = len(ad_ids)
        ecpm = np.empty((len(users), n_ads))
        for i in range(0, len(users), USERS_PER_PASS):
            u, d = user_ids[i : i + USERS_PER_PASS], devices[i : i + USERS_PER_PASS]
            categorical, dense = scorer.inputs(
                np.repeat(u, n_ads), np.tile(ad_ids, len(u)), np.repeat(d, n_ads),
                np.full(len(u) * n_ads, hour),
            )  # fmt: skip
            p = scorer.score_arrays(categorical, dense).reshape(len(u), n_ads)
            ecpm[i : i + len(u)] = p * bid * PER_MILLE
        return cls(
            {u: i for i, u in enumerate(user_ids)}, {a: j for j, a in enumerate(ad_ids)}, ecpm
        )

    def order(self, user_id: str, candidates: Sequence[str]) -> list[str]:
        """The candidates by the eCPM the batch stored for this user, highest first; ads the
        batch did not know last. Ties and unknown ads by ad id, as `rank_by_ecpm` orders them."""
        row = self.ecpm[self.users[user_id]]
        known = [a in self.ads for a in candidates]
        value = [row[self.ads[a]] if k else 0.0 for a, k in zip(candidates, known, strict=True)]
        keys = sorted(
            zip(known, value, candidates, strict=True), key=lambda t: (not t[0], -t[1], t[2])
        )
        return [a for _, _, a in keys]


def realtime_order(
    scorer: OnlineScorer,
    bids: Mapping[str, float],
    user_id: str,
    device: str,
    hour: int,
    candidates: Sequence[str],
) -> list[str]:
    """The candidates as the real-time service orders them: scored for this request's device
    and hour, ranked by eCPM with the bids of this moment."""
    p = scorer.score(user_id, list(candidates), device, hour)
    return [a.ad_id for a in rank_by_ecpm(candidates, p, bids)]
