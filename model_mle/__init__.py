"""The model-focused MLE (applied scientist): notebook experiments measured against the oracle.

Not built yet (issue "model_mle" of this round). It will import only `shared`."""
