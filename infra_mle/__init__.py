"""The infra-focused MLE: a real-time FastAPI service and a Spark batch-scoring job, side by side.

Start with `app.py` (the service), `batch_score.py` (the job) and `online.py` (the scoring both
share); `make demo-infra` measures them. It imports only `shared`; see README.md."""
