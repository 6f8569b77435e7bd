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
# # Tuning the factorization machine, and what each model would earn
#
# First a small grid search over the factorization machine's size and regularisation, every
# trial an MLflow run, the winner chosen on the validation day and exported as the model
# artifact that `infra_mle` serves. Then an offline policy evaluation: for real test-day
# requests, each model picks from fresh candidates, and the simulator's true click model says
# how many clicks and how much revenue that choice would bring, against the oracle's choice.

# %% tags=["parameters"]
preset = "small"
days = 14
seed = 7
epochs = 8
surface = "ad_break"  # the surface whose model is tuned and exported
requests = 2000  # requests per surface in the policy evaluation
comparison_json = "reports/model_mle/comparison.json"

# %%
import json
from pathlib import Path

from IPython.display import display

from model_mle.compare import bids
from model_mle.data import DataConfig, load_experiment
from model_mle.models import PopularityModel
from model_mle.policy import evaluate_policies
from model_mle.search import grid_search
from shared.artifacts import load_model
from shared.schema import SURFACES

data = load_experiment(DataConfig(preset=preset, days=days, seed=seed))

# %% [markdown]
# ## Grid search
# Each trial trains the factorization machine with early stopping; the table is sorted by the
# validation log loss, the only figure the choice may look at.

# %%
search = grid_search(data, surface, epochs=epochs, seed=seed)
display(search.trials.round(5))
print(f"chosen: {search.best}; exported to {search.artifact}")

# %% [markdown]
# ## Offline policy evaluation
# `share_of_oracle_pct` is each policy's clicks (home row) or revenue (ad breaks) as a share of
# what ranking by the true probabilities would give; `random` is what showing the candidates
# unranked gives. The models come from notebook 2's candidate artifacts, loaded and verified
# through `shared.artifacts`, as a service would load them.

# %%
comparison = json.loads(Path(comparison_json).read_text())
for s in SURFACES:
    if s not in comparison:
        continue
    models = {"popularity": PopularityModel(s).fit(data.train[s])}
    models |= {name: load_model(Path(p)) for name, p in comparison[s]["artifacts"].items()}
    table = evaluate_policies(models, data, s, bids(data), n_requests=requests)
    print(s)
    display(table.round(4))
