"""The aggregations the exploration notebook plots: click rates by slice, the long tail, the
label balance. Pure functions of the labelled rows (`model_mle.data`), one table each."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ctr_by(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Impressions, clicks and click rate per surface and value of `column`."""
    keys = ["surface"] if column == "surface" else ["surface", column]
    g = rows.groupby(keys, observed=True)["label"].agg(["count", "sum"])
    g = g.rename(columns={"count": "impressions", "sum": "clicks"})
    return g.assign(ctr=g["clicks"] / g["impressions"]).reset_index()


def long_tail(rows: pd.DataFrame) -> pd.DataFrame:
    """Per surface, items ranked by impressions with their share and cumulative share."""
    counts = rows.groupby(["surface", "item_id"], observed=True).size().rename("impressions")
    out = []
    for surface, c in counts.groupby(level=0):
        c = c.sort_values(ascending=False).reset_index(level=0, drop=True)
        share = c / c.sum()
        out.append(
            pd.DataFrame(
                {
                    "surface": surface,
                    "rank": np.arange(1, len(c) + 1),
                    "share": share.to_numpy(),
                    "cumulative_share": share.cumsum().to_numpy(),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def top_share(tail: pd.DataFrame, fraction: float = 0.1) -> pd.Series:
    """Share of impressions that go to the top `fraction` of items, per surface."""
    return tail.groupby("surface").apply(
        lambda t: float(t["cumulative_share"].iloc[max(0, int(len(t) * fraction) - 1)])
    )


def label_balance(rows: pd.DataFrame) -> pd.DataFrame:
    """Positives, negatives and the negatives per positive, per surface."""
    g = rows.groupby("surface", observed=True)["label"].agg(["count", "sum"])
    g = g.rename(columns={"sum": "positives"})
    g["negatives"] = g["count"] - g["positives"]
    g["negatives_per_positive"] = g["negatives"] / g["positives"]
    return g.drop(columns="count")
