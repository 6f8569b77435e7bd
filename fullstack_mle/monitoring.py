"""Alerts the loop raises for a day, from what the pipeline measured and what the visitors did.

- data drift: data_mle's drift gate (the largest PSI of the day's traffic mix against the
  trailing days) above `PSI_ALERT`, half of what fails the gate: a warning before the stop;
- quality gate: any gate that failed (the run stopped);
- prediction drift: the ad model's pCTR in the first slot against the clicks it got there, as a
  binomial z-score: |z| above `Z_ALERT` means the model's probabilities no longer match the
  world (tastes moved, or a bug), even when no data gate notices.
"""

from __future__ import annotations

import math

from data_mle.runs import DayReport

PSI_ALERT = 0.1
Z_ALERT = 3.0


def calibration_z(clicks: int, predicted: float, slots: int) -> float | None:
    """(observed - predicted clicks) / sd, with the predicted rate as the null; None when too
    few clicks are expected for the normal approximation."""
    rate = predicted / slots if slots else 0.0
    if predicted < 5 or not 0.0 < rate < 1.0:
        return None
    return (clicks - predicted) / math.sqrt(slots * rate * (1 - rate))


def day_alerts(pipeline: DayReport, tallies: dict | None) -> list[dict]:
    alerts = []
    for name, gate in pipeline.gates.items():
        if not gate.passed:
            alerts.append(
                {
                    "kind": "quality gate",
                    "message": f"{name} failed: {gate.value} (allowed {gate.threshold})",
                }
            )
    drift = pipeline.gates.get("drift")
    if drift is not None and drift.value is not None and drift.value > PSI_ALERT and drift.passed:
        alerts.append(
            {
                "kind": "data drift",
                "message": f"traffic mix PSI {drift.value:.3f} > {PSI_ALERT} (gate fails at "
                f"{drift.threshold})",
            }
        )
    if tallies:
        ads = tallies["ad_break"]
        z = calibration_z(ads.clicks_top, ads.predicted_top, ads.top_slots)
        if z is not None and abs(z) > Z_ALERT:
            alerts.append(
                {
                    "kind": "prediction drift",
                    "message": f"first ad slots got {ads.clicks_top} clicks, the model "
                    f"predicted {ads.predicted_top:.1f} (z = {z:+.1f})",
                }
            )
    return alerts
