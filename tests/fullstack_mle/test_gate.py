"""The promotion gate and the registry it writes to."""

from __future__ import annotations

from fullstack_mle.gate import GateRule, decide
from fullstack_mle.registry import Decision, Registry

CHAMPION = {"logloss": 0.1000, "auc": 0.700}


def test_the_first_model_is_promoted_because_there_is_no_champion():
    verdict = decide({"logloss": 0.5, "auc": 0.5}, None)
    assert verdict.promote and "no champion" in verdict.reason


def test_a_lower_log_loss_is_promoted_and_the_reason_gives_both_numbers():
    verdict = decide({"logloss": 0.0990, "auc": 0.701}, CHAMPION)
    assert verdict.promote
    assert "0.10000 -> 0.09900" in verdict.reason and "-1.00%" in verdict.reason


def test_an_equal_or_worse_log_loss_keeps_the_champion():
    assert not decide({"logloss": 0.1000, "auc": 0.75}, CHAMPION).promote
    assert not decide({"logloss": 0.1010, "auc": 0.75}, CHAMPION).promote


def test_a_better_log_loss_that_costs_ranking_quality_is_refused():
    verdict = decide({"logloss": 0.0990, "auc": 0.690}, CHAMPION)
    assert not verdict.promote and "AUC fell" in verdict.reason


def test_the_rule_can_ask_for_a_minimum_gain():
    candidate = {"logloss": 0.0995, "auc": 0.70}  # 0.5% better
    assert decide(candidate, CHAMPION, GateRule(min_logloss_gain=0.0)).promote
    assert not decide(candidate, CHAMPION, GateRule(min_logloss_gain=0.01)).promote


def _decision(version: str, promoted: bool) -> Decision:
    return Decision(
        day="2026-01-06",
        surface="ad_break",
        candidate=version,
        champion=None,
        promoted=promoted,
        reason="test",
    )


def test_the_champion_moves_only_on_a_promotion_and_every_decision_is_kept(tmp_path):
    registry = Registry(tmp_path / "registry.json")
    assert registry.champion("ad_break") is None
    registry.record(_decision("v1", promoted=True))
    registry.record(_decision("v2", promoted=False))
    assert registry.champion("ad_break") == "v1"
    assert registry.champion("home_row") is None
    reread = Registry(tmp_path / "registry.json")  # persisted, not held in memory
    assert [d["candidate"] for d in reread.decisions()] == ["v1", "v2"]
    assert [d["promoted"] for d in reread.decisions()] == [True, False]
