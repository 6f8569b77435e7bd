"""fullstack_mle: the full-stack ML engineer's closed loop. Data (data_mle's Airflow DAG), model
(model_mle's training library), serving (infra_mle's batch job and service) and a web app whose
visitors' clicks become the next day's training data, driven one day at a time by `loop.py`."""
