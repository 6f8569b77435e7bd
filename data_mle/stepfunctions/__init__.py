"""marquee_daily_etl as an AWS Step Functions state machine, run locally by moto's interpreter.

    python -m data_mle.stepfunctions.runner --from 2026-01-05 --to 2026-01-11

`marquee_daily_etl.asl.json` is the state machine (Amazon States Language): one state per step
of `data_mle.steps`, each sending its step to an SQS queue and waiting for the task token to come
back (`sqs:sendMessage.waitForTaskToken`); `worker.py` runs the steps it takes off the queue;
`runner.py` deploys both and runs days in order. Airflow's DAG (`data_mle/dags`) runs the same
steps through the same `run_step`.

What moto 5.2.5 runs, and how the definition bends to it (read in moto's `stepfunctions/parser`):
- callback Tasks, `HeartbeatSecondsPath` (so a test can use 2 s), `TimeoutSeconds`, Retry, Catch
  and a Fail state's `CausePath`: supported. Activities (`GetActivityTask`) are not.
- a Task's own Retry keeps its task token, and the last answer to it: a retried attempt is
  answered at once with the previous attempt's failure. A heartbeat timeout leaves no answer, so
  the Task retries `States.Timeout` itself; a `TransientError` is retried by a one-branch Parallel
  around the Task, which starts a new Task with a new token. On AWS one Retry on the Task would do.
- a `States.*` error cannot leave a Parallel branch (moto turns it into `States.Runtime`): when a
  step's timeouts are all used up, the day fails with `States.Runtime`, not `States.Timeout`.
- `SendTaskFailure`'s cause is dropped, so the Fail state's cause is empty; the runner takes a
  failed gate's message from the day's quality report, as the Airflow runner does.
- moto checks no IAM role and keeps state machines, executions and queues in memory.
"""
