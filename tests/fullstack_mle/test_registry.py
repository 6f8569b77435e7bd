"""The model registry in MLflow: every candidate a version, the alias `champion` moved only by a
promotion, the decisions read back in order, from a store of its own per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from fullstack_mle.dashboard import dashboard_context
from fullstack_mle.registry import ALIAS, Decision, Registry, model_name
from model_mle.tracking import tracking_uri


def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(store(tmp_path))


def decision(
    version: str,
    promoted: bool,
    champion: str | None = None,
    day: str = "2026-01-06",
    surface: str = "ad_break",
) -> Decision:
    return Decision(
        day=day,
        surface=surface,
        candidate=version,
        champion=champion,
        promoted=promoted,
        reason=f"{version}: {'better' if promoted else 'worse'} log loss",
        candidate_metrics={"auc": 0.61, "logloss": 0.1234},
        champion_metrics={"auc": 0.6, "logloss": 0.125} if champion else None,
        gate_rows=400,
        training_rows=3_000,
        training_window=("2026-01-05", day),
        train_seconds=1.2,
    )


def record(registry: Registry, d: Decision, root: Path) -> int:
    return registry.record(d, root / "artifacts" / d.candidate)


def test_a_promoted_and_a_rejected_candidate_are_both_registered(registry, tmp_path):
    record(registry, decision("v1", promoted=True), tmp_path)
    record(registry, decision("v2", promoted=False, champion="v1"), tmp_path)
    versions = registry.client.search_model_versions(f"name = '{model_name('ad_break')}'")
    by_artifact = {v.tags["artifact_version"]: v for v in versions}
    assert sorted(by_artifact) == ["v1", "v2"]
    assert by_artifact["v1"].tags["promoted"] == "true"
    assert by_artifact["v2"].tags["promoted"] == "false"
    assert by_artifact["v2"].tags["compared_with"] == "v1"
    assert by_artifact["v2"].tags["candidate.logloss"] == "0.1234"
    assert by_artifact["v2"].tags["day"] == "2026-01-06"
    assert "worse" in by_artifact["v2"].tags["reason"]
    # the served thing stays the artifact folder: the version points at it
    assert by_artifact["v1"].source == (tmp_path / "artifacts" / "v1").resolve().as_uri()


def test_the_champion_alias_moves_only_on_a_promotion(registry, tmp_path):
    assert registry.champion("ad_break") is None
    first = record(registry, decision("v1", promoted=True), tmp_path)
    record(registry, decision("v2", promoted=False, champion="v1"), tmp_path)
    assert registry.champion("ad_break") == "v1"
    aliases = registry.client.get_registered_model(model_name("ad_break")).aliases
    assert aliases == {ALIAS: first}
    third = record(registry, decision("v3", promoted=True, champion="v1"), tmp_path)
    assert registry.champion("ad_break") == "v3"
    champion = registry.client.get_model_version_by_alias(model_name("ad_break"), ALIAS)
    assert int(champion.version) == third
    assert registry.champion("home_row") is None  # each surface has its own model


def test_a_fresh_registry_on_the_same_store_sees_the_same_champion(registry, tmp_path):
    record(registry, decision("v1", promoted=True), tmp_path)
    record(registry, decision("v2", promoted=False, champion="v1"), tmp_path)
    reread = Registry(store(tmp_path))  # persisted, not held in memory
    assert reread.champion("ad_break") == "v1"
    assert [d.candidate for d in reread.decisions()] == ["v1", "v2"]


def test_decisions_come_back_in_order_with_their_metrics_and_reason(registry, tmp_path):
    recorded = [
        decision("a1", promoted=True, day="2026-01-05"),
        decision("h1", promoted=True, day="2026-01-05", surface="home_row"),
        decision("a2", promoted=False, champion="a1"),
        decision("h2", promoted=True, champion="h1", surface="home_row"),
    ]
    for d in recorded:
        record(registry, d, tmp_path)
    assert registry.decisions() == recorded  # every field, metrics and reason included
    assert registry.champion("home_row") == "h2" and registry.champion("ad_break") == "a1"


def test_a_store_not_created_yet_is_empty_and_reading_it_creates_nothing(tmp_path):
    registry = Registry(store(tmp_path))
    assert registry.champion("ad_break") is None and registry.decisions() == []
    assert not (tmp_path / "mlflow").exists()


def test_a_decision_is_registered_with_its_own_artifact_only(registry, tmp_path):
    with pytest.raises(ValueError, match="not the artifact"):
        registry.record(decision("v1", promoted=True), tmp_path / "v2")


def test_the_dashboard_shows_the_registry(registry, tmp_path):
    record(registry, decision("v1", promoted=True, day="2026-01-05"), tmp_path)
    record(registry, decision("v2", promoted=False, champion="v1"), tmp_path)
    context = dashboard_context(tmp_path / "history.json", registry)
    assert context["champions"] == {"ad_break": "v1"}
    assert [d.candidate for d in context["decisions"]] == ["v2", "v1"]  # the newest first
    assert context["decisions"][0].champion_metrics == {"auc": 0.6, "logloss": 0.125}
    assert context["history"] == []


def test_the_store_is_the_lakes_unless_mlflow_tracking_uri_names_another(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(tmp_path) == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking_uri(tmp_path) == "http://mlflow.internal:5000"
