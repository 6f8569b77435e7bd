"""The model-focused MLE (applied scientist): notebook experiments measured against the oracle.

The notebooks in `notebooks/` tell the story; the logic is in `data.py`, `models.py`,
`train.py`, `evaluate.py` and `policy.py`; `make demo-model` runs it all. It imports only
`shared`; see README.md."""
