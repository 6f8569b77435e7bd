"""`python -m model_mle.train`: trains, reports against the oracle, exports, tracks."""

from __future__ import annotations

import pytest

from model_mle.train import main
from shared.artifacts import latest_model, load_model
from shared.lake import Lake

pytestmark = pytest.mark.slow


def test_train_exports_a_model_other_archetypes_can_load(in_experiment_lake, tiny, capsys):
    assert main(["--surface", "home_row", "--preset", "tiny", "--days", "6", "--epochs", "2",
                 "--model", "logreg", "--export"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "oracle" in out and "artifact:" in out and "MLflow run" in out
    model = load_model(latest_model(Lake(in_experiment_lake), "home_row"), "home_row")
    assert model.manifest["model"] == "logreg"
    assert model.predict(tiny.test["home_row"]).shape == (len(tiny.test["home_row"]),)

    # `make models` asks again with --if-missing: the exported model stays, nothing is trained.
    assert main(["--surface", "home_row", "--preset", "tiny", "--if-missing", "--export"]) == 0
    assert "exported already" in capsys.readouterr().out
    assert latest_model(Lake(in_experiment_lake), "home_row") == model.path


def test_bad_arguments_get_one_line_and_status_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--surface", "ad_break", "--preset", "tiny", "--days", "3"])
    assert exit_.value.code == 2
    assert "leave no training days" in capsys.readouterr().err
