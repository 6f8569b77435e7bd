"""The promotion gate: a new model replaces the champion only if it is better offline.

Both models are scored on the same rows, which neither was trained on: a held-out share of the
newest day's requests (`retrain.py`). The candidate must lower the log loss (the metric the
models are trained on, and what makes pCTR x bid a fair auction price) by more than
`min_logloss_gain`, and may not lose more than `max_auc_drop` of ranking quality on the way.

    decide({"logloss": 0.101, "auc": 0.66}, {"logloss": 0.103, "auc": 0.65})
    # Verdict(promote=True, reason="log loss 0.10300 -> 0.10100 (-1.94%), AUC 0.6500 -> 0.6600")
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateRule:
    min_logloss_gain: float = 0.0  # relative: 0.01 asks for 1% lower log loss
    max_auc_drop: float = 0.005  # absolute: a calibration win must not cost the ranking


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str


def decide(candidate: dict, champion: dict | None, rule: GateRule | None = None) -> Verdict:
    """Whether `candidate` (metrics on the gate rows) should replace `champion` (the champion's
    metrics on the same rows; None when there is no champion yet)."""
    rule = rule or GateRule()
    if champion is None:
        return Verdict(True, "no champion yet: the first model is promoted")
    old, new = champion["logloss"], candidate["logloss"]
    gain = (old - new) / old
    change = (
        f"log loss {old:.5f} -> {new:.5f} ({-100 * gain:+.2f}%), "
        f"AUC {champion['auc']:.4f} -> {candidate['auc']:.4f}"
    )
    if gain <= rule.min_logloss_gain:
        return Verdict(False, f"{change}: the log loss must improve")
    if champion["auc"] - candidate["auc"] > rule.max_auc_drop:
        return Verdict(
            False, f"kept the champion: {change}; AUC fell by more than {rule.max_auc_drop}"
        )
    return Verdict(True, change)
