"""Alerts from the pipeline's gates and from the visitors' clicks, and the dashboard's charts."""

from __future__ import annotations

from data_mle.runs import DayReport, GateOutcome
from fullstack_mle.monitoring import calibration_z, day_alerts
from fullstack_mle.plots import line_chart
from fullstack_mle.visitors import SurfaceTally


def _pipeline(drift: float, passed: bool = True) -> DayReport:
    return DayReport(
        ok=passed,
        gates={
            "volume": GateOutcome(value=1.0, threshold="0.5..2", passed=True),
            "drift": GateOutcome(value=drift, threshold="<= 0.2", passed=passed),
        },
    )


def _tallies(clicks: int, predicted: float, slots: int) -> dict:
    ads = SurfaceTally(clicks_top=clicks, predicted_top=predicted, top_slots=slots)
    return {"ad_break": ads, "home_row": SurfaceTally()}


def test_a_quiet_day_raises_nothing():
    assert day_alerts(_pipeline(0.01), _tallies(20, 20.0, 1000)) == []


def test_drift_below_the_gate_but_above_the_alert_level_warns():
    alerts = day_alerts(_pipeline(0.15), None)
    assert [a["kind"] for a in alerts] == ["data drift"]
    assert "0.150" in alerts[0]["message"]


def test_a_failed_gate_is_an_alert():
    alerts = day_alerts(_pipeline(0.5, passed=False), None)
    assert [a["kind"] for a in alerts] == ["quality gate"]


def test_clicks_far_from_the_models_prediction_are_prediction_drift():
    alerts = day_alerts(_pipeline(0.01), _tallies(clicks=5, predicted=40.0, slots=1000))
    assert [a["kind"] for a in alerts] == ["prediction drift"]
    assert "z = -" in alerts[0]["message"]


def test_calibration_z_needs_enough_expected_clicks_and_a_sane_rate():
    assert calibration_z(1, 2.0, 100) is None  # too few expected for the approximation
    assert calibration_z(50, 50.0, 50) is None  # a rate of 1 has no variance
    assert calibration_z(0, 0.0, 0) is None
    assert abs(calibration_z(40, 20.0, 1000)) > 4


def test_a_chart_draws_one_line_per_series_and_leaves_gaps_for_missing_days():
    svg = str(
        line_chart(
            ["01-05", "01-06", "01-07"],
            {"online": [None, 0.05, 0.06], "oracle": [None, 0.2, 0.2]},
            "ctr",
            True,
        )
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2  # one segment per series: the first day is a gap
    assert svg.count("<circle") == 4
    assert "20.0%" in svg or "22.0%" in svg  # the axis is labelled in percent


def test_a_chart_without_data_says_so():
    assert "no data yet" in str(line_chart([], {"online": []}, "ctr"))


def test_chart_labels_are_escaped():
    svg = str(line_chart(["<b>"], {"<script>": [1.0]}, "t"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
