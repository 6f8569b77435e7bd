"""What each serving shape costs a day, and the machine the long-running service needs: a small
cost model whose inputs are measured (`benchmarks/sizing.py`, `make demo-infra`) and whose
prices and margins are stated assumptions.

    plan = realtime_plan(workload, Assumptions())    # instance, replicas, dollars a day
    batch = batch_cost_per_day(workload, Assumptions())

Memory decides the instance: the service holds its model, feature snapshot, ads and home rows,
and a reload loads the new ones beside the old (`routes.reload` swaps only when the new model is
ready), so at that moment it holds two copies. CPU decides the replicas: the peak hour's
predictions a second times the CPU a prediction costs, at a utilisation that keeps latency near
its unloaded value. A batch job pays only for the CPU it uses, billed by the second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.presets import Preset

DAY_S = 86_400
HOURS_A_DAY = 24


@dataclass(frozen=True)
class Instance:
    name: str
    vcpus: int
    memory_gib: float
    hourly_usd: float


# Assumed prices in the shape of on-demand general-purpose instances (4 GiB per vCPU, the price
# proportional to the size, $0.048 per vCPU-hour); put your provider's list here.
INSTANCES = (
    Instance("2 vCPU / 8 GiB", 2, 8, 0.096),
    Instance("4 vCPU / 16 GiB", 4, 16, 0.192),
    Instance("8 vCPU / 32 GiB", 8, 32, 0.384),
    Instance("16 vCPU / 64 GiB", 16, 64, 0.768),
)


@dataclass(frozen=True)
class Assumptions:
    """The model's stated assumptions; every figure it gives follows from these and the
    measurements."""

    instances: tuple[Instance, ...] = INSTANCES
    # The busiest hour over the average one: shared.simulate.HOUR_PROFILE's 10 against 4.02.
    peak_to_mean: float = 2.49
    # Past about half of the cores busy, requests start to queue behind each other and the p99
    # leaves its unloaded value (the knee in infra_mle/README.md's overload table).
    cpu_utilisation: float = 0.5
    memory_headroom: float = 0.25  # allocator fragmentation, traffic buffers, growth until resized
    reload_copies: int = 2  # the old model serves while the new one loads
    min_replicas: int = 2  # one can fail, or restart in a rolling reload, while one serves


@dataclass(frozen=True)
class Workload:
    """One product's daily work and the service's measured memory."""

    name: str
    requests_per_day: float
    predictions_per_request: int  # candidates scored per request in real time
    realtime_cpu_s_per_prediction: float  # measured on the running service, under load
    batch_rows_per_day: float  # users x items a daily batch scores
    batch_cpu_s_per_prediction: float  # measured on the batch job's process tree
    base_mib: float  # the service before loading anything (interpreter, libraries)
    data_mib: float  # what it loads: model, features, ads, home rows


@dataclass(frozen=True)
class Plan:
    instance: Instance
    replicas: int
    memory_needed_gib: float
    peak_cores: float
    usd_per_day: float


def memory_needed_gib(base_mib: float, data_mib: float, a: Assumptions) -> float:
    """The memory one replica needs: its base, `reload_copies` copies of what it loads, plus
    the headroom."""
    return (base_mib + a.reload_copies * data_mib) * (1 + a.memory_headroom) / 1024


def peak_cores(w: Workload, a: Assumptions) -> float:
    """Cores busy in the busiest hour, at the assumed utilisation."""
    per_s = w.requests_per_day / DAY_S * a.peak_to_mean
    return per_s * w.predictions_per_request * w.realtime_cpu_s_per_prediction / a.cpu_utilisation


def realtime_plan(w: Workload, a: Assumptions) -> Plan:
    """The smallest instance whose memory holds the service, as many replicas as the peak needs
    (at least `min_replicas`), running all day."""
    need = memory_needed_gib(w.base_mib, w.data_mib, a)
    fits = [i for i in a.instances if i.memory_gib >= need]
    if not fits:
        raise ValueError(f"no instance holds {need:.1f} GiB: shard the features or use a store")
    instance = fits[0]
    cores = peak_cores(w, a)
    replicas = max(a.min_replicas, math.ceil(cores / instance.vcpus))
    return Plan(instance, replicas, need, cores, replicas * HOURS_A_DAY * instance.hourly_usd)


def batch_cost_per_day(w: Workload, a: Assumptions) -> float:
    """The daily job's CPU time at the price of a vCPU-second of the assumed instances."""
    cpu_s = w.batch_rows_per_day * w.batch_cpu_s_per_prediction
    instance = a.instances[0]
    return cpu_s / 3600 * instance.hourly_usd / instance.vcpus


@dataclass(frozen=True)
class Measured:
    """What one preset's measurements give the model (`benchmarks/sizing.py`, the demo)."""

    ad_cpu_s_per_prediction: float  # the running service, 20 candidates a ranking, under load
    home_cpu_s_per_prediction: float  # ranking the whole catalogue for one visit, in process
    batch_cpu_s_per_prediction: float  # the home-row batch job's process tree
    base_mib: float
    data_mib: float


def product_workloads(preset: Preset, m: Measured, candidates: int = 20) -> dict[str, Workload]:
    """The two products' daily work at `preset`'s traffic: every session opens the home row
    once and sees `ad_breaks_per_session` ad breaks. A batch of ads scores every user x ad, a
    batch of home rows every user x title; both at the batch job's measured CPU a prediction."""
    memory = {"base_mib": m.base_mib, "data_mib": m.data_mib}
    return {
        "ad_break": Workload(
            "ad_break", preset.sessions_per_day * preset.ad_breaks_per_session, candidates,
            m.ad_cpu_s_per_prediction, preset.n_users * preset.n_ads,
            m.batch_cpu_s_per_prediction, **memory,
        ),
        "home_row": Workload(
            "home_row", preset.sessions_per_day, preset.n_titles, m.home_cpu_s_per_prediction,
            preset.n_users * preset.n_titles, m.batch_cpu_s_per_prediction, **memory,
        ),
    }  # fmt: skip


def cost_table(preset: Preset, m: Measured, a: Assumptions) -> dict[str, dict]:
    """Per product: the real-time plan (instance, replicas, memory, dollars a day) and the daily
    batch's dollars a day."""
    out = {}
    for name, w in product_workloads(preset, m).items():
        plan = realtime_plan(w, a)
        out[name] = {
            "requests_per_day": w.requests_per_day,
            "instance": plan.instance.name,
            "replicas": plan.replicas,
            "memory_needed_gib": round(plan.memory_needed_gib, 2),
            "peak_cores": round(plan.peak_cores, 3),
            "realtime_usd_per_day": round(plan.usd_per_day, 2),
            "batch_usd_per_day": round(batch_cost_per_day(w, a), 4),
            "batch_rows_per_day": w.batch_rows_per_day,
        }
    return out
