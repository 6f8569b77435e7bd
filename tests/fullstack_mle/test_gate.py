"""The promotion gate: the rule that decides whether a candidate replaces the champion (the
registry it writes to: `test_registry.py`)."""

from __future__ import annotations

from fullstack_mle.gate import GateRule, decide

CHAMPION = {"logloss": 0.1000, "auc": 0.700}


def test_the_first_model_is_promoted_because_there_is_no_champion():
    verdict = decide({"logloss": 0.5, "auc": 0.5}, None)
    assert verdict.promote and "no champion" in verdict.reason, (
        f"with no champion (champion=None) the candidate must be promoted with a reason that "
        f"says 'no champion'; got {verdict}. Hint: check `champion is None` before reading it."
    )


def test_a_lower_log_loss_is_promoted_and_the_reason_gives_both_numbers():
    verdict = decide({"logloss": 0.0990, "auc": 0.701}, CHAMPION)
    assert verdict.promote, (
        f"log loss 0.1000 -> 0.0990 (1% lower) with AUC 0.700 -> 0.701 must be promoted; got "
        f"{verdict}"
    )
    assert "0.10000 -> 0.09900" in verdict.reason and "-1.00%" in verdict.reason, (
        f"the reason must give both log losses (5 decimals) and the relative change, as in "
        f"'log loss 0.10000 -> 0.09900 (-1.00%), AUC 0.7000 -> 0.7010'; got {verdict.reason!r}"
    )


def test_an_equal_or_worse_log_loss_keeps_the_champion():
    for logloss in (0.1000, 0.1010):
        verdict = decide({"logloss": logloss, "auc": 0.75}, CHAMPION)
        assert not verdict.promote, (
            f"log loss 0.1000 -> {logloss} is no improvement, so the champion stays whatever the "
            f"AUC does; got {verdict}. Hint: a gain equal to `min_logloss_gain` is not enough."
        )


def test_a_better_log_loss_that_costs_ranking_quality_is_refused():
    verdict = decide({"logloss": 0.0990, "auc": 0.690}, CHAMPION)
    assert not verdict.promote and "AUC fell" in verdict.reason, (
        f"log loss 1% lower but AUC 0.700 -> 0.690 (a drop of 0.010, more than max_auc_drop "
        f"0.005) must keep the champion, with 'AUC fell' in the reason; got {verdict}"
    )


def test_an_auc_drop_within_the_allowance_is_promoted():
    verdict = decide({"logloss": 0.0990, "auc": 0.697}, CHAMPION)
    assert verdict.promote, (
        f"AUC 0.700 -> 0.697 is a drop of 0.003, within max_auc_drop 0.005: the log loss win "
        f"counts; got {verdict}. Hint: compare champion AUC - candidate AUC with the allowance."
    )


def test_the_rule_can_ask_for_a_minimum_gain():
    candidate = {"logloss": 0.0995, "auc": 0.70}  # 0.5% better
    assert decide(candidate, CHAMPION, GateRule(min_logloss_gain=0.0)).promote, (
        "0.5% lower log loss passes a rule that asks for any gain (min_logloss_gain=0.0)"
    )
    assert not decide(candidate, CHAMPION, GateRule(min_logloss_gain=0.01)).promote, (
        "0.5% lower log loss must not pass a rule that asks for 1% (min_logloss_gain=0.01)"
    )


def test_the_minimum_gain_is_relative_to_the_champions_log_loss():
    candidate = {"logloss": 0.0980, "auc": 0.70}  # 2% lower, but only 0.002 in absolute terms
    verdict = decide(candidate, CHAMPION, GateRule(min_logloss_gain=0.01))
    assert verdict.promote, (
        f"log loss 0.1000 -> 0.0980 is 2% lower, more than the 1% the rule asks for, so it must "
        f"be promoted; got {verdict}. Hint: the gain is (old - new) / old, not old - new."
    )


def test_the_demos_third_day_ad_model_is_promoted_with_its_reason(record_property):
    champion = {"logloss": 0.09843, "auc": 0.6237}  # make demo, 2026-01-07, ad_break
    candidate = {"logloss": 0.09592, "auc": 0.6785}
    verdict = decide(candidate, champion)
    expected = "log loss 0.09843 -> 0.09592 (-2.55%), AUC 0.6237 -> 0.6785"
    assert verdict.promote and verdict.reason == expected, (
        f"the demo's third-day ad model must be promoted with the reason {expected!r}; got "
        f"{verdict}. Hint: f'{{-100 * gain:+.2f}}%' prints the sign."
    )
    record_property("figure", f"PROMOTED: {verdict.reason}")
