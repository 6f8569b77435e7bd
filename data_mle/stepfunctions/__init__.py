"""marquee_daily_etl as an AWS Step Functions state machine, run locally by moto's interpreter.

    python -m data_mle.stepfunctions.runner --from 2026-01-05 --to 2026-01-11

`marquee_daily_etl.asl.json` is the state machine (Amazon States Language): one Task state per
step of `data_mle.steps`, each sending its step to an SQS queue and waiting for a task token;
`worker.py` runs the steps it takes off the queue; `runner.py` deploys both and runs days in
order. Airflow's DAG (`data_mle/dags`) runs the same steps through the same `run_step`.
"""
