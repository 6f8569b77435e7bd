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
# Seven models per surface, from a popularity baseline to a factorization machine, DCN-v2, the
# **joint** model (one user taste shared by the home row and the ad breaks) and **joint_bayes**,
# the joint model averaged over its posterior instead of its single most probable fit, trained
# on the first days, chosen on the next day, measured on the last day. The simulator knows every
# impression's true click probability, so we also know the **oracle**: the best AUC and log
# loss any model could reach on these very impressions. Between the two sits the
# **data-limited ceiling**: the simulator's own click model with every item known and only the
# users learned from these days, the best any model could do with this much data. Each figure
# has a 95% bootstrap interval.

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
from model_mle.ceiling import fit_ceiling
from model_mle.compare import compare_surface, write_summary
from model_mle.data import DataConfig, load_experiment
from model_mle.joint import item_categories, train_joint
from model_mle.posterior import sample_joint
from model_mle.train import TrainConfig
from shared.lake import Lake
from shared.schema import SURFACES

data = load_experiment(DataConfig(preset=preset, days=days, seed=seed))
surfaces = list(SURFACES) if surface == "all" else [surface]
# The joint model learns from both surfaces whichever is compared: that is its point.
joint = train_joint(
    TrainConfig(model="joint", max_epochs=epochs, seed=seed), data.train, data.valid,
    item_categories(Lake(data.dataset)), progress=False,
)  # fmt: skip
# The same model averaged over its posterior: its users and items drawn given the clicks.
joint_bayes = sample_joint(joint, data.train)
ceiling = fit_ceiling(data)
results = {
    s: compare_surface(
        data, s, epochs=epochs, progress=False, ceiling=ceiling,
        trained={"joint": joint[s], "joint_bayes": joint_bayes[s]},
    )
    for s in surfaces
}  # fmt: skip
summary = write_summary(results, Path(output_json))

# %% [markdown]
# ## The comparison
# AUC: how well a model orders clicked above unclicked impressions. Log loss: how good its
# probabilities are. ECE: the average gap between predicted and observed click rates.
# `auc_gap` and `logloss_gap_pct` are the distance to the oracle; `gap_model` is the distance
# to the ceiling. For the home row, NDCG@10 says whether clicked titles come first when the
# model orders the row; for ad breaks, the expected revenue per 1,000 breaks when the model
# orders each logged pod by eCPM (pCTR x bid).

# %%
columns = ["auc", "auc_low", "auc_high", "logloss", "ece", "auc_gap", "logloss_gap_pct",
           "gap_model", "gap_model_low", "gap_model_high"]  # fmt: skip
for s, r in results.items():
    ranking = "ndcg10" if s == "home_row" else "revenue_per_1000"
    print(f"{s}: best on the validation day: {r.best_model}")
    display(r.table[[*columns, ranking, f"{ranking}_low", f"{ranking}_high"]].round(4))

# %% [markdown]
# ## Where the gap to the oracle comes from
# **Data-limited** (oracle minus ceiling): what no model can recover from these days of logs,
# because each user has clicked too few things to pin their taste down; only more history
# (more days, or more of each user's activity) closes it. **Model-limited** (ceiling minus
# model): what a better model could still recover from the very same data. A large
# model-limited gap asks for a better model; a large data-limited gap asks for more data, and
# no amount of modelling will close it.

# %%
for s, r in results.items():
    t = r.table
    oracle, ceil = t.loc["oracle"], t.loc["ceiling"]
    best = t.loc[r.best_model]
    print(
        f"{s}: oracle AUC {oracle['auc']:.3f}, ceiling {ceil['auc']:.3f}, "
        f"chosen model ({r.best_model}) {best['auc']:.3f}.\n"
        f"  data-limited gap {ceil['gap_data']:.3f} "
        f"[{ceil['gap_data_low']:.3f}, {ceil['gap_data_high']:.3f}]: more history would close it;\n"
        f"  model-limited gap {best['gap_model']:.3f} "
        f"[{best['gap_model_low']:.3f}, {best['gap_model_high']:.3f}]: a better model would."
    )
    plots.gap_plot(t, "auc", f"{s}: AUC with 95% interval")

# %% [markdown]
# ## What it earns: revenue per 1,000 ad requests
# Each model ranks 20 fresh candidate ads for real test-day ad breaks by eCPM (pCTR x bid) and
# shows the top 3; the simulator's true click model says what that would earn. The oracle
# ranks by the true click probability; `random` shows the candidates unranked.

# %%
if "ad_break" in results:
    policy = results["ad_break"].policy
    revenue = ["revenue_per_1000", "revenue_per_1000_low", "revenue_per_1000_high"]
    display(policy[[*revenue, "share_of_oracle_pct", "ctr"]].round(3))

# %% [markdown]
# ## Calibration
# Points on the diagonal mean a predicted 5% is clicked 5% of the time. Calibration matters
# for ads because the price of an impression is pCTR x bid.

# %%
for s, r in results.items():
    plots.reliability_plot(r.curves, f"{s}: reliability")
