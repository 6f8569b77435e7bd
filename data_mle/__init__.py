"""The data-focused MLE: a Spark ETL scheduled by Airflow, with quality gates and quarantine.

Raw events land in S3; `marquee_daily_etl` (in `dags/`) lands, ingests, gates, featurises and
publishes them day by day. Each step is a plain script (`python -m data_mle.<step> --day D` or
`spark-submit data_mle/<step>.py --day D`). Imports only `shared`; see README.md.
"""
