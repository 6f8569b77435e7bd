"""The data-focused MLE: a Spark ETL scheduled by Airflow, with quality gates and quarantine.

Not built yet (issue "data_mle" of this round). It will import only `shared`."""
