"""End to end: the three notebooks run under papermill on the tiny preset, land their key
figures within tolerance, write the report, track the runs and export a loadable model; the
committed `.ipynb` files are the `.py` sources' pairs."""

from __future__ import annotations

import json

import jupytext
import pytest

from model_mle.demo import NOTEBOOKS, ORDER, run
from model_mle.models import COMPARED_MODELS
from shared.artifacts import latest_model, load_model
from shared.lake import Lake
from shared.settings import get_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory, experiment_lake, tiny):
    reports = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MARQUEE_LAKE_ROOT", str(experiment_lake))
        mp.setenv("MARQUEE_REPORTS_DIR", str(reports))
        get_settings.cache_clear()
        report = run("tiny", days=6, epochs=3, seed=7)
    get_settings.cache_clear()
    return report, reports


def test_the_report_holds_every_model_against_the_oracle(demo):
    report, reports = demo
    assert json.loads((reports / "demo-model.json").read_text()) == report
    for surface in ("ad_break", "home_row"):
        s = report[surface]
        assert 0.75 < s["oracle_auc"] < 0.9  # tiny's test day: about 0.82
        assert set(s["models"]) == set(COMPARED_MODELS)
        assert s["best_model"] in COMPARED_MODELS
        for name, m in s["models"].items():
            assert 0.35 < m["auc"] < s["oracle_auc"], name  # no model beats the truth
            assert m["logloss"] > s["oracle_logloss"], name
            assert 0 <= m["ece"] < 0.2, name


def test_the_report_splits_each_gap_at_the_data_limited_ceiling(demo):
    report, _ = demo
    for surface in ("ad_break", "home_row"):
        s = report[surface]
        ceiling_gap = s["oracle_auc"] - s["ceiling_auc"]
        low, high = s["gap_data_ci"]
        assert low <= ceiling_gap <= high
        assert s["ceiling_auc"] > 0.5 and s["ceiling_logloss"] > 0
        for name, m in s["models"].items():
            assert m["gap_data"] == pytest.approx(ceiling_gap), name
            assert m["gap_data"] + m["gap_model"] == pytest.approx(m["auc_gap"]), name
    ads = report["ad_break"]
    assert ads["oracle_policy_revenue_per_1000"] > 0
    for name, m in ads["models"].items():  # eCPM ranking of fresh requests, per model
        low, high = m["policy_revenue_ci"]
        assert 0 < low <= m["policy_revenue_per_1000"] <= high, name


def test_executed_notebooks_and_code_free_html_are_written(demo):
    _, reports = demo
    for name in ORDER:
        assert (reports / "model_mle" / f"{name}.ipynb").exists()
        html = (reports / "model_mle" / f"{name}.html").read_text()
        assert "<img" in html or name == "03_tune_and_policy"  # the figures are there
        assert "load_experiment(" not in html, "the stakeholder report hides the code"


def test_the_search_exported_a_verified_model_and_mlflow_has_the_runs(demo, in_experiment_lake):
    artifact = latest_model(Lake(in_experiment_lake), "ad_break")
    model = load_model(artifact, surface="ad_break")
    assert model.manifest["model"] == "fm"
    assert (in_experiment_lake / "mlflow" / "mlflow.db").exists()
    import mlflow

    from model_mle.tracking import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    runs = mlflow.search_runs(experiment_names=["marquee-ad_break"])
    names = set(runs["tags.mlflow.runName"])
    assert {f"compare-{m}" for m in COMPARED_MODELS} <= names
    assert {"grid-search-fm", "trial", "chosen-fm"} <= names


@pytest.mark.parametrize("name", ORDER)
def test_the_paired_ipynb_matches_its_py_source(name):
    source = jupytext.read(NOTEBOOKS / f"{name}.py")
    paired = jupytext.read(NOTEBOOKS / f"{name}.ipynb")
    assert [c.source for c in paired.cells] == [c.source for c in source.cells], (
        f"{name}.ipynb is out of date: run `make notebooks`"
    )
