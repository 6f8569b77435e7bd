"""The pipeline's steps by name: what every orchestrator runs, the same function each time.

    run_step("ingest", lake, day)      # -> a one-line summary, or a StepError

Airflow's DAG (`dags/marquee_daily_etl.py`) runs each step as a task, the Step Functions worker
(`data_mle.stepfunctions.worker`) runs it when a state machine asks, and each Spark step is also a
script of its own for `spark-submit` on a cluster (`python -m data_mle.ingest --day D`). The
Spark steps connect to the Spark Connect server named by `MARQUEE_SPARK_REMOTE`, so no step
starts a JVM of its own, and the steps a process runs back to back share one session
(`_open_session`).

A step fails in one of two ways, and the orchestrators treat them differently:
- `StepError(permanent=True)`: a verdict on the data (a quality gate, a reconciliation that does
  not add up, a partition its manifest does not describe). Retrying gives the same answer.
- anything else: possibly transient (a lost connection, a killed worker). Retried.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from shared.lake import Lake

STEPS = ("land", "ingest", "quality_gates", "features", "training_sets", "publish")


class StepError(RuntimeError):
    """A step that failed, with the step's name and whether a retry could help."""

    def __init__(self, step: str, message: str, permanent: bool, kind: str = "StepFailed"):
        super().__init__(f"{step}: {message}")
        self.step, self.message, self.permanent, self.kind = step, message, permanent, kind


def _land(lake: Lake, day: dt.date) -> str:
    from data_mle.land import land_day

    return f"landed {land_day(lake, day)['rows']:,} lines"


def _spark_jobs() -> dict[str, tuple[Callable[[Any, Lake, dt.date], Any], Callable[[Any], str]]]:
    """Each Spark step's job and how its result reads in one line (imported when first run)."""
    from data_mle.features import build_features
    from data_mle.ingest import ingest_day
    from data_mle.publish import publish_day
    from data_mle.quality import run_gates
    from data_mle.training import build_training_sets

    return {
        "ingest": (ingest_day, lambda c: f"ingest: {c['input_lines']:,} lines, "
                   f"{c['accepted']:,} accepted, reconciled {c['reconciled']}"),
        "quality_gates": (run_gates, lambda r: f"{len(r.gates)} gates passed"),
        "features": (build_features, lambda f: f"features: {len(f)} tables"),
        "training_sets": (build_training_sets, lambda t: f"training sets: {', '.join(t)}"),
        "publish": (publish_day, lambda keys: f"published {len(keys)} objects"),
    }  # fmt: skip


def permanent_errors() -> dict[type[Exception], str]:
    """The exceptions that are verdicts on the data, by the error name orchestrators report."""
    from data_mle.ingest import ManifestMismatch, ReconciliationError
    from data_mle.quality import QualityGateError

    return {
        QualityGateError: "QualityGateFailed",
        ReconciliationError: "ReconciliationFailed",
        ManifestMismatch: "ManifestMismatch",
        FileNotFoundError: "InputMissing",
    }


# The Spark Connect session the last step left open: (session, server, when it was left).
_kept: tuple[Any, str, float] | None = None
# How long a session may wait for the next step and still be used: days run back to back (a
# backfill, a demo) share it; a daily run opens a new one (the server closes a session idle for
# an hour).
SESSION_IDLE_S = 600.0


def _open_session(name: str) -> Any:
    """A Spark session for a step. Through Spark Connect, the one the last step left open when
    it is on the same server and not idle too long: a new session's first query costs the
    server about 0.1 s more than a used one's (it builds the session's state), in each of a
    day's five Spark steps. Otherwise a new one (`shared.spark.spark_session`)."""
    from shared.spark import spark_remote, spark_session

    global _kept
    kept, _kept = _kept, None
    if kept is not None:
        spark, remote, left = kept
        if remote == spark_remote() and time.monotonic() - left < SESSION_IDLE_S:
            return spark
        # Idle too long: released. On another server: only closed here, since that server may
        # be gone, and asking it to release the session would retry for minutes.
        spark.release_session_on_close = remote == spark_remote()
        spark.stop()
    return spark_session(name)


def _close_session(spark: Any, failed: bool) -> None:
    """After a step: keep a Connect session for the next step; stop it when the step failed (a
    retry starts from a new session, in case the error was the session's), and stop a local
    session (the JVM of this process) as a job of its own would."""
    from shared.spark import spark_remote, stop_session

    global _kept
    if failed or not (remote := spark_remote()):
        stop_session(spark)
    else:
        _kept = (spark, remote, time.monotonic())


def _failed_step(spark: Any, error: BaseException) -> Exception | None:
    """Close the session of a step that raised `error`; return the error to raise in its place
    when the cause is a Spark Connect server that no longer answers (`SparkConnectionError`: one
    line naming it, instead of a gRPC trace; not permanent, a retry may find it again), else
    None."""
    from shared.spark import SparkConnectionError, connect_reachable, spark_remote

    _close_session(spark, failed=True)
    remote = spark_remote()
    if remote and isinstance(error, Exception) and not connect_reachable(remote):
        return SparkConnectionError(remote)
    return None


def run_step(name: str, lake: Lake, day: dt.date) -> str:
    """Run step `name` for `day` and return its one-line summary. A permanent failure is raised
    as a `StepError`; any other exception passes through as it is (a retry may help)."""
    if name not in STEPS:
        raise ValueError(f"unknown step {name!r}; the steps are {', '.join(STEPS)}")
    try:
        if name == "land":
            return _land(lake, day)
        job, show = _spark_jobs()[name]
        spark = _open_session(f"{name}-{day}")
        try:
            summary = show(job(spark, lake, day))
        except BaseException as error:
            if (unreachable := _failed_step(spark, error)) is not None:
                raise unreachable from error
            raise
        _close_session(spark, failed=False)
        return summary
    except Exception as error:
        for kind_of, kind in permanent_errors().items():
            if isinstance(error, kind_of):
                raise StepError(name, str(error), permanent=True, kind=kind) from error
        raise
