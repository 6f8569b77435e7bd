"""The infra-focused MLE: a real-time FastAPI service and a Spark batch-scoring job, side by side.

Not built yet (issue "infra_mle" of this round). It will import only `shared`."""
