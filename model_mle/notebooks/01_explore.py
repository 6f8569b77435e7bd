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
# # Marquee clicks: what the logs show
#
# Before any model: how often people click, where, when and on what. Every figure below is
# computed by `model_mle.explore` from the labelled impressions of the experiment
# (`model_mle.data`), the same rows the models are trained on.

# %% tags=["parameters"]
preset = "small"
days = 14
seed = 7

# %%
import pandas as pd
from IPython.display import display

from model_mle import explore, plots
from model_mle.data import DataConfig, load_experiment

data = load_experiment(DataConfig(preset=preset, days=days, seed=seed))
rows = pd.concat([data.train[s] for s in data.train], ignore_index=True)
print(f"{len(rows):,} labelled impressions over {len(data.days) - 2} training days")

# %% [markdown]
# ## Click rate by surface
# An ad is clicked far less often than a title in the home row: the two surfaces need their
# own models, and a model of ads learns from far fewer positives.

# %%
display(explore.ctr_by(rows, "surface").set_index(["surface"])[["impressions", "clicks", "ctr"]])

# %% [markdown]
# ## Click rate by position
# The first slot gets the most clicks whatever it shows: part of every click rate is the slot,
# not the item. A model must learn this position bias, and a ranking service should score
# every candidate at the same slot.

# %%
plots.ctr_bars(explore.ctr_by(rows, "position"), "position", "Click rate by slot")
# %% [markdown]
# ## Click rate by hour and by device
# The hour and the device move click rates only a little on their own; their effect in the
# simulator is on *which* genres and ad categories get clicked, which only crosses can learn.

# %%
plots.ctr_bars(explore.ctr_by(rows, "hour"), "hour", "Click rate by hour (UTC)")
# %%
plots.ctr_bars(explore.ctr_by(rows, "device"), "device", "Click rate by device")
# %% [markdown]
# ## The long tail
# Titles are shown by popularity, so a few get most impressions and many get few (a straight
# line on log-log axes is a power law); ads are shown uniformly. Rare items have little data,
# which is where smoothing and shared structure (embeddings) pay off.

# %%
tail = explore.long_tail(rows)
plots.long_tail_plot(tail)
print("share of impressions going to the top 10% of items:")
print(explore.top_share(tail).round(3).to_string())

# %% [markdown]
# ## Label balance
# Dozens of negatives per positive: accuracy would be meaningless (predicting "no click"
# is right 98% of the time), so the comparison uses AUC, log loss and calibration.

# %%
display(explore.label_balance(rows))
