"""marquee_batch_recs parses cleanly, cheaply and the same way twice, waits for both inputs, and
retries its work but not its waits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "infra_mle" / "dags"
PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
bags = [DagBag(dag_folder=sys.argv[1]) for _ in range(2)]
LIGHT = {"shared", "shared.lake", "shared.settings"}  # the lake's names: path arithmetic only
heavy = sorted(m for m in set(sys.modules) - before - LIGHT
               if m.split(".")[0] in ("pyspark", "pandas", "torch", "infra_mle", "shared"))
def shape(bag):
    dag = bag.dags["marquee_batch_recs"]
    return {t.task_id: {"upstream": sorted(t.upstream_task_ids), "retries": t.retries,
                        "type": type(t).__name__} for t in dag.tasks}
print(json.dumps({"errors": {k: str(v) for k, v in bags[0].import_errors.items()},
                  "same": shape(bags[0]) == shape(bags[1]), "tasks": shape(bags[0]),
                  "heavy": heavy}))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow")
    env = {
        "PATH": str(Path(sys.executable).parent), "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAGS)], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["db_created"] = (home / "airflow.db").exists()
    return report


def test_the_dag_parses_without_errors_nothing_heavy_no_database(parsed):
    assert parsed["errors"] == {}
    assert parsed["heavy"] == []
    assert not parsed["db_created"]
    assert parsed["same"]


def test_it_waits_for_both_inputs_then_lands_then_scores(parsed):
    tasks = parsed["tasks"]
    assert tasks["land_inputs"]["upstream"] == ["wait_for_model", "wait_for_snapshot"]
    assert tasks["score_home_rows"]["upstream"] == ["land_inputs"]
    assert tasks["score_home_rows"]["type"] == "SparkSubmitOperator"
    assert tasks["score_home_rows"]["retries"] == 2 and tasks["land_inputs"]["retries"] == 2
    assert tasks["wait_for_snapshot"]["retries"] == 0 and tasks["wait_for_model"]["retries"] == 0
