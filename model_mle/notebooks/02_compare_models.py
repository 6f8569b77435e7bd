# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Which model predicts clicks best, and how far from the best possible?
#
# Five models per surface, from a popularity baseline to a factorization machine and DCN-v2,
# trained on the first days, chosen on the next day, measured on the last day. The simulator
# knows every impression's true click probability, so we also know the **oracle**: the best
# AUC and log loss any model could reach on these very impressions. Each figure has a 95%
# bootstrap interval.

# %% tags=["parameters"]
preset = "small"
days = 14
seed = 7
epochs = 8
surface = "all"  # "ad_break", "home_row" or "all"
output_json = "reports/model_mle/comparison.json"

# %%
from pathlib import Path

from IPython.display import display

from model_mle import plots
from model_mle.compare import compare_surface, write_summary
from model_mle.data import DataConfig, load_experiment
from shared.schema import SURFACES

data = load_experiment(DataConfig(preset=preset, days=days, seed=seed))
surfaces = list(SURFACES) if surface == "all" else [surface]
results = {s: compare_surface(data, s, epochs=epochs, progress=False) for s in surfaces}
summary = write_summary(results, Path(output_json))

# %% [markdown]
# ## The comparison
# AUC: how well a model orders clicked above unclicked impressions. Log loss: how good its
# probabilities are. ECE: the average gap between predicted and observed click rates.
# `auc_gap` and `logloss_gap_pct` are the distance to the oracle. For the home row, NDCG@10
# says whether clicked titles come first when the model orders the row; for ad breaks, the
# expected revenue per 1,000 breaks when the model orders each pod by eCPM (pCTR x bid).

# %%
columns = ["auc", "auc_low", "auc_high", "logloss", "ece", "auc_gap", "logloss_gap_pct"]
for s, r in results.items():
    ranking = "ndcg10" if s == "home_row" else "revenue_per_1000"
    print(f"{s}: best on the validation day: {r.best_model}")
    display(r.table[[*columns, ranking, f"{ranking}_low", f"{ranking}_high"]].round(4))

# %% [markdown]
# ## Distance to the oracle
# Logistic regression learns each user's and item's own appeal but no pair of them, so it
# stays well below the oracle. The factorization machine can represent the hidden user x item
# taste; what it still misses is data: each user has only a few clicks to learn a taste from.

# %%
for s, r in results.items():
    plots.gap_plot(r.table, "auc", f"{s}: AUC with 95% interval")

# %% [markdown]
# ## Calibration
# Points on the diagonal mean a predicted 5% is clicked 5% of the time. Calibration matters
# for ads because the price of an impression is pCTR x bid.

# %%
for s, r in results.items():
    plots.reliability_plot(r.curves, f"{s}: reliability")
