"""The cost model's arithmetic, on examples worked by hand."""

from __future__ import annotations

import pytest

from infra_mle.cost import (
    Assumptions,
    Instance,
    Workload,
    batch_cost_per_day,
    memory_needed_gib,
    realtime_plan,
)

SMALL, LARGE = Instance("2/8", 2, 8, 0.10), Instance("4/16", 4, 16, 0.20)
A = Assumptions(
    instances=(SMALL, LARGE), peak_to_mean=2.5, cpu_utilisation=0.5, memory_headroom=0.25,
    reload_copies=2, min_replicas=2,
)  # fmt: skip


def workload(**changes) -> Workload:
    base = dict(
        name="ads", requests_per_day=86_400, predictions_per_request=20,
        realtime_cpu_s_per_prediction=1e-4, batch_rows_per_day=9e8,
        batch_cpu_s_per_prediction=4e-6, base_mib=400, data_mib=300,
    )  # fmt: skip
    return Workload(**{**base, **changes})


def test_a_small_service_gets_the_smallest_instance_twice_for_a_day():
    plan = realtime_plan(workload(), A)
    # (400 + 2 x 300) MiB x 1.25 = 1,250 MiB = 1.2207 GiB: the 8 GiB instance holds it.
    assert plan.memory_needed_gib == pytest.approx(1250 / 1024)
    assert plan.instance == SMALL
    # 1 request/s on average, 2.5/s at peak, x 20 predictions x 0.1 ms = 5 ms of CPU a second,
    # at 50% utilisation 0.01 cores: one replica would do, the minimum is two.
    assert plan.peak_cores == pytest.approx(0.01)
    assert plan.replicas == 2
    assert plan.usd_per_day == pytest.approx(2 * 24 * 0.10)  # $4.80


def test_memory_picks_the_instance_and_cpu_the_replicas():
    # (4,000 + 2 x 2,000) x 1.25 = 10,000 MiB = 9.77 GiB: over 8, so the 16 GiB instance.
    assert memory_needed_gib(4000, 2000, A) == pytest.approx(10000 / 1024)
    # 2,000 requests/s on average, 5,000/s at peak:
    busy = workload(requests_per_day=86_400 * 2000, base_mib=4000, data_mib=2000)
    plan = realtime_plan(busy, A)
    assert plan.instance == LARGE
    assert plan.peak_cores == pytest.approx(20.0)  # 5,000/s x 20 x 1e-4 / 0.5
    assert plan.replicas == 5  # 20 cores / 4 vCPUs
    assert plan.usd_per_day == pytest.approx(5 * 24 * 0.20)  # $24.00


def test_a_service_no_instance_holds_is_refused():
    with pytest.raises(ValueError, match="no instance holds"):
        realtime_plan(workload(data_mib=40_000), A)


def test_the_batch_pays_for_its_cpu_seconds():
    # 9e8 rows x 4 us = 3,600 CPU s = 1 vCPU-hour at $0.10 / 2 vCPUs = $0.05.
    assert batch_cost_per_day(workload(), A) == pytest.approx(0.05)
