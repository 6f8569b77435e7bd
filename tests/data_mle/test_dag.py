"""The DAG: it parses cleanly and cheaply, the same way twice, with retries and the right order;
and one real run against moto and a Spark Connect server processes a day end to end."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_mle.airflow_runner import DAGS_FOLDER, DagTestProcess, airflow_env, metadata_query
from shared.lake import ONLINE_SNAPSHOT, Lake
from shared.storage import verify_partition
from tests.data_mle.conftest import START

PARSE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
started = time.perf_counter()
bags = [DagBag(dag_folder=sys.argv[1]) for _ in range(2)]
seconds = time.perf_counter() - started
HEAVY = ("pyspark", "pandas", "torch", "sklearn", "data_mle", "shared")
LIGHT = {"shared", "shared.lake", "shared.settings", "data_mle", "data_mle.steps"}  # names only
heavy = sorted(m for m in set(sys.modules) - before - LIGHT if m.split(".")[0] in HEAVY)
def shape(bag):
    dag = bag.dags["marquee_daily_etl"]  # get_dag() would ask the database
    return {t.task_id: {"upstream": sorted(t.upstream_task_ids), "retries": t.retries,
                        "type": type(t).__name__} for t in dag.tasks}
dag = bags[0].dags["marquee_daily_etl"]
print(json.dumps({
    "errors": {k: str(v) for k, v in bags[0].import_errors.items()},
    "same": shape(bags[0]) == shape(bags[1]),
    "tasks": shape(bags[0]),
    "tags": sorted(dag.tags), "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
    "sensor_timeout": dag.get_task("wait_for_raw").timeout,
    "heavy": heavy, "seconds": seconds,
}))
"""


def run_with_airflow(lake: Lake, script: str, timeout: float = 120) -> list[str]:
    """The output lines of `script`, run in a fresh interpreter with the runner's environment
    (a fresh, empty AIRFLOW_HOME inside `lake`) and the DAG folder as its argument."""
    env = airflow_env(lake)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", script, str(DAGS_FOLDER)],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    """Parse the DAG folder twice in a fresh interpreter with a fresh, empty AIRFLOW_HOME."""
    lake = Lake(tmp_path_factory.mktemp("lake"))
    report = json.loads(run_with_airflow(lake, PARSE, timeout=180)[-1])
    report["db_created"] = (Path(airflow_env(lake)["AIRFLOW_HOME"]) / "airflow.db").exists()
    return report


def test_the_dag_imports_without_errors(parsed):
    assert parsed["errors"] == {}


def test_parsing_imports_nothing_heavy_and_touches_no_database(parsed):
    assert parsed["heavy"] == []
    assert not parsed["db_created"]


def test_parsing_twice_gives_the_same_dag(parsed):
    assert parsed["same"]


def test_tasks_run_in_order_with_retries(parsed):
    tasks = parsed["tasks"]
    order = ["wait_for_raw", "land", "ingest", "quality_gates", "features", "training_sets",
             "publish"]  # fmt: skip
    assert list(tasks) == order or set(tasks) == set(order)
    for before, after in itertools.pairwise(order):
        assert tasks[after]["upstream"] == [before]
    # In-process tasks calling data_mle.steps.run_step: no spark-submit, no JVM per task.
    assert tasks["ingest"]["type"] == "_PythonDecoratedOperator"
    assert tasks["ingest"]["retries"] == 2 and tasks["publish"]["retries"] == 2
    assert tasks["quality_gates"]["retries"] == 0, "a failed gate is not retried"
    assert tasks["wait_for_raw"]["retries"] == 0


def test_schedule_settings(parsed):
    assert parsed["tags"] == ["data_mle", "etl", "marquee"]
    assert parsed["catchup"] is False and parsed["max_active_runs"] == 1
    assert parsed["sensor_timeout"] >= 6 * 3600  # a bound; the freshness deadline comes first


DEADLINE = """
import datetime as dt, sys
from unittest import mock
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk.exceptions import AirflowFailException
sys.path.insert(0, sys.argv[1])
from marquee_daily_etl import RawDaySensor
sensor = RawDaySensor(task_id="t", bucket_name="b", bucket_key="k")
def poke(found, day_end):
    context = {"ds": "2026-01-05", "data_interval_end": day_end}
    with mock.patch.object(S3KeySensor, "poke", return_value=found):
        try:
            return str(sensor.poke(context))
        except AirflowFailException as error:
            return "fail: " + str(error)
now = dt.datetime.now(dt.UTC)
print(poke(False, now - dt.timedelta(hours=1)))   # within 6 h of the day's end: keep waiting
print(poke(False, now - dt.timedelta(days=300)))  # long gone: fail on the first look
print(poke(True, now - dt.timedelta(days=300)))   # a backfill of a day that landed: go
"""


def test_the_sensor_waits_only_until_the_days_freshness_deadline(tmp_path):
    waiting, gone, landed = run_with_airflow(Lake(tmp_path), DEADLINE)[-3:]
    assert waiting == "False"
    assert gone.startswith("fail: no raw events for 2026-01-05") and "freshness deadline" in gone
    assert landed == "True"


PREPARE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from data_mle.airflow_dag_test import prepare
clients = []
get_conn = S3Hook.get_conn
S3Hook.get_conn = lambda hook: clients.append(hook.aws_conn_id) or get_conn(hook)
prepare(DagBag(dag_folder=sys.argv[1]).dags["marquee_daily_etl"])
spark_client = "pyspark.sql.connect.session" in sys.modules
print(json.dumps({"clients": clients, "spark_client": spark_client}))
"""


def test_the_airflow_process_prepares_the_first_days_clients_before_its_first_batch(tmp_path):
    report = json.loads(run_with_airflow(Lake(tmp_path), PREPARE)[-1])  # the API answered, too
    assert report == {"clients": ["aws_default"], "spark_client": True}


def test_the_airflow_process_creates_its_database_in_the_lake_and_leaves_a_current_one(tmp_path):
    lake = Lake(tmp_path)
    migrate = "from data_mle.airflow_dag_test import migrate_database; migrate_database()"
    run_with_airflow(lake, migrate)
    ((head,),) = metadata_query(lake, "SELECT version_num FROM alembic_version")
    tables = metadata_query(lake, "SELECT count(*) FROM sqlite_master WHERE type = 'table'")
    run_with_airflow(lake, migrate)  # a no-op on a current database
    assert metadata_query(lake, "SELECT version_num FROM alembic_version") == [(head,)]
    assert tables[0][0] > 20 and metadata_query(lake, "SELECT count(*) FROM dag_run") == [(0,)]


def test_the_airflow_process_exits_with_its_status_after_its_exit_handlers():
    script = (
        "import atexit, sys\n"
        "from data_mle.airflow_dag_test import exit_now\n"
        "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
        "print('batch done', end='')  # not flushed yet\n"
        "exit_now(3)\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (3, "batch done", "handler ran\n")


@pytest.mark.slow
def test_a_real_run_processes_a_day_end_to_end_and_the_same_process_runs_it_again(pipeline_lake):
    from shared.s3 import list_keys

    day, lake = START, pipeline_lake
    with DagTestProcess(lake) as airflow:
        pid = airflow.process.pid
        (run,) = airflow.run_days([day])
        published = list_keys("marquee-lake", "gold/")
        bronze = verify_partition(lake.bronze_events(day))
        (again,) = airflow.run_days([day])  # a second batch: no new Airflow process
        assert airflow.process.pid == pid and airflow.process.poll() is None
        child = airflow.process
    assert child.poll() is not None, "the Airflow process ends with the block"
    assert run.ok, run.error
    assert list(run.tasks) and all(t["state"] == "success" for t in run.tasks.values())
    assert bronze["reconciliation"]["reconciled"]
    assert f"{ONLINE_SNAPSHOT.key(day + dt.timedelta(days=1))}/_manifest.json" in published
    assert (lake.root / "airflow" / "airflow.db").exists(), "Airflow's state lives in the lake"
    assert again.ok, again.error
    assert verify_partition(lake.bronze_events(day)) == bronze, "a re-run writes the same bronze"


def test_an_airflow_process_that_dies_before_its_first_day_says_why(tmp_path):
    lake = Lake(tmp_path / "lake")
    dies = [sys.executable, "-c", "import sys; sys.exit('ImportError: no module named airflow')"]
    with DagTestProcess(lake, command=dies) as airflow:
        runs = airflow.run_days([START, START + dt.timedelta(days=1)])
    assert len(runs) == 1 and not runs[0].ok
    assert runs[0].error.startswith("the Airflow run did not start")
    assert "ImportError: no module named airflow" in runs[0].error
