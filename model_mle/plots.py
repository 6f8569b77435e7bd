"""The figures of the notebooks and the MLflow runs. Each function returns a matplotlib figure
and leaves showing or saving it to the caller."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def ctr_bars(table: pd.DataFrame, column: str, title: str) -> Figure:
    """Click rate per value of `column`, one panel per surface."""
    surfaces = list(table["surface"].unique())
    fig, axes = plt.subplots(1, len(surfaces), figsize=(5 * len(surfaces), 3), squeeze=False)
    for ax, surface in zip(axes[0], surfaces, strict=True):
        t = table[table["surface"] == surface]
        ax.bar(t[column].astype(str), 100 * t["ctr"], color="tab:blue")
        ax.set_title(f"{surface}")
        ax.set_xlabel(column)
        ax.set_ylabel("click rate (%)")
        ax.tick_params(axis="x", labelrotation=90 if len(t) > 12 else 0)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def long_tail_plot(tail: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for surface, t in tail.groupby("surface"):
        ax.loglog(t["rank"], t["share"], label=surface)
    ax.set_xlabel("item rank by impressions")
    ax.set_ylabel("share of impressions")
    ax.legend()
    fig.tight_layout()
    return fig


def reliability_plot(curves: dict[str, pd.DataFrame], title: str) -> Figure:
    """Observed against predicted click rate per bin, one line per model; the diagonal is a
    perfectly calibrated model."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    top = max(float(c[["predicted", "observed"]].max().max()) for c in curves.values())
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    for name, c in curves.items():
        ax.plot(c["predicted"], c["observed"], marker="o", markersize=3, label=name)
    ax.set_xlabel("predicted click rate")
    ax.set_ylabel("observed click rate")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gap_plot(table: pd.DataFrame, metric: str, title: str) -> Figure:
    """Each model's metric with its 95% interval, the oracle's (and the data-limited
    ceiling's, when the table has it) as a line."""
    models = table.drop(index=["oracle", "ceiling"], errors="ignore")
    fig, ax = plt.subplots(figsize=(6, 3))
    errors = [models[metric] - models[f"{metric}_low"], models[f"{metric}_high"] - models[metric]]
    ax.errorbar(models.index, models[metric], yerr=errors, fmt="o", capsize=4)
    ax.axhline(table.loc["oracle", metric], color="tab:green", linestyle="--", label="oracle")
    if "ceiling" in table.index:
        ax.axhline(table.loc["ceiling", metric], color="tab:orange", linestyle=":", label="ceiling")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig
