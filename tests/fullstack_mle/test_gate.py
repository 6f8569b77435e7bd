"""The promotion gate: the rule that decides whether a candidate replaces the champion (the
registry it writes to: `test_registry.py`)."""

from __future__ import annotations

from fullstack_mle.gate import GateRule, decide

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
