"""The closed loop, one business day at a time: the full-stack ML engineer's driver.

    with Loop(LoopConfig(preset="small", days=3), root) as loop:
        for record in loop.run():
            print(record.day, record.promoted)

Setting up (once): a moto S3 server and a Spark Connect server start; the world is generated
(the business's traffic and the ground truth the visitors follow); Airflow's database is created;
the entity tables are published; the web app starts.

Each business day D:
1. the business's own events of D land in S3 raw, and the app opens D;
2. once a model is deployed, simulated visitors use the app (`visitors.py`); the app logs what
   it showed and what they clicked, and ships it to S3 raw as `feedback-*.jsonl.gz` of D;
3. the raw partition is sealed (its manifest, written last) and data_mle's DAG runs D for real
   (Airflow: sensor, land, ingest, gates, features, training sets, publish);
4. every click the visitors sent is looked up in D's bronze table (`feedback_reconciled`);
5. model_mle's library trains the joint candidate on both surfaces, one network per surface;
   for each the gate promotes it or keeps the champion, and the candidate is registered in
   MLflow, with the alias `champion` moved on a promotion (`retrain.py`, `gate.py`,
   `registry.py`; the store is `<root>/mlflow/mlflow.db`);
6. the champions go to S3, infra_mle's batch job scores every user's home row for D+1, and
   infra_mle's service starts (the first time) or reloads: D+1 is served;
7. alerts are raised (`monitoring.py`) and the day's record (`history.DayRecord`) is appended
   to `history.json`; the dashboard shows it with the registry's decisions.
After the last day the app is left open on the day after, for people to click in (`--serve`).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import pyarrow.parquet as pq

from data_mle.airflow_runner import DagTestProcess
from data_mle.connect import SparkConnectServer
from data_mle.runs import day_report
from fullstack_mle.deploy import (
    publish_champions,
    reload_service,
    score_home_rows,
)
from fullstack_mle.history import DayRecord, Deployment, Reconciliation, write_history
from fullstack_mle.monitoring import day_alerts
from fullstack_mle.raw_day import land_business_events, seal_day
from fullstack_mle.registry import Decision, Registry
from fullstack_mle.retrain import retrain
from fullstack_mle.visitors import GroundTruth, run_visitors
from model_mle.tracking import tracking_uri
from model_mle.train import TrainConfig
from shared.generate import GenerateConfig, generate
from shared.lake import Lake
from shared.presets import get_preset
from shared.s3 import MotoServer, free_port, publish_entities
from shared.server import UvicornServer
from shared.settings import environment, get_settings
from shared.world import Drift, build_world


@dataclass(frozen=True)
class LoopConfig:
    preset: str = "small"
    days: int = 3  # business days through the DAG; visitors come from the second on
    visitors: int = 400  # visits through the app per day
    seed: int = field(default_factory=lambda: get_settings().seed)
    drift: Drift | None = None  # the world's tastes may shift on a day, for the alerts
    epochs: int = 8

    def __post_init__(self) -> None:
        get_preset(self.preset)
        if self.days < 2:
            raise ValueError(f"days must be at least 2 (train, then serve), not {self.days}")
        if self.visitors < 1:
            raise ValueError(f"visitors must be at least 1, not {self.visitors}")


class Loop:
    """The loop's servers and state, started on enter and stopped on exit."""

    def __init__(self, config: LoopConfig, root: Path):
        self.config = config
        self.root = root
        self.lake = Lake(root)
        self.world_dir = root / "world"
        self.token = secrets.token_urlsafe(24)  # this run's admin token, for both servers
        self.registry = Registry(tracking_uri(root))  # MLflow's, in this run's lake
        self.history_path = root / "fullstack" / "history.json"
        self.history: list[DayRecord] = []
        self.app: UvicornServer | None = None
        self.service: UvicornServer | None = None
        self.airflow: DagTestProcess | None = None  # the DAG's runs, one process for all days
        self._stack = ExitStack()  # what __exit__ undoes, in reverse order

    # -- set-up and tear-down -------------------------------------------------------------
    def __enter__(self) -> Loop:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        try:
            self._start(self._stack)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self, stack: ExitStack) -> None:
        c = self.config
        stack.enter_context(MotoServer())  # sets AWS_ENDPOINT_URL and keys while it runs
        stack.enter_context(
            environment(MARQUEE_LAKE_ROOT=str(self.root), MARQUEE_RAW_WAIT_TIMEOUT_S="60")
        )
        spark = stack.enter_context(SparkConnectServer())
        stack.enter_context(environment(**spark.env()))
        generate(
            GenerateConfig(preset=c.preset, days=c.days + 1, seed=c.seed, drift=c.drift),
            self.world_dir,
        )
        self.world = build_world(get_preset(c.preset), c.seed, GenerateConfig().start, c.drift)
        self.days = [self.world.date_of(k) for k in range(c.days)]
        self.airflow = stack.enter_context(DagTestProcess(self.lake))  # imports while we go on
        publish_entities(self.world_dir, self.lake, get_settings().bucket)  # the business's
        env = {
            **os.environ,
            "MARQUEE_APP_ADMIN_TOKEN": self.token,
            "MARQUEE_SERVE_ADMIN_TOKEN": self.token,
            "MARQUEE_APP_TRACKING_URI": self.registry.uri,  # the dashboard reads the registry
        }
        service_port = free_port()
        env["MARQUEE_APP_SERVICE_URL"] = f"http://127.0.0.1:{service_port}"
        self.service = UvicornServer("infra_mle.serve", service_port, env, "/readyz")
        stack.callback(self.service.stop)
        self.app = UvicornServer("fullstack_mle.serve", free_port(), env, "/api/status")
        stack.callback(self.app.stop)  # first out: it ships what it logged while S3 is up
        self.app.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    # -- the app's admin API --------------------------------------------------------------
    def _admin(self, path: str, body: dict | None = None) -> dict:
        assert self.app is not None
        response = httpx.post(
            f"{self.app.url}{path}",
            json=body or {},
            timeout=60,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"app {path} answered {response.status_code}: {response.text}")
        return response.json()

    @property
    def app_url(self) -> str:
        assert self.app is not None
        return self.app.url

    # -- one day --------------------------------------------------------------------------
    def run(self) -> Iterator[DayRecord]:
        """Run every day in order, yielding each day's record; stops after a failed ETL run."""
        for day in self.days:
            record = self.run_day(day)
            yield record
            if not record.pipeline.ok:
                return
        self._admin("/api/admin/open-day", {"day": self.world.date_of(len(self.days)).isoformat()})

    def run_day(self, day: dt.date) -> DayRecord:
        started = time.perf_counter()
        bucket = get_settings().bucket
        land_business_events(self.world_dir, day, bucket)
        self._admin("/api/admin/open-day", {"day": day.isoformat()})
        visitors = None
        if self.service is not None and self.service.running:
            truth = GroundTruth(self.world, day, self._bids())
            visitors = run_visitors(self.app_url, truth, self.config.visitors, self.config.seed)
        flushed = self._admin("/api/admin/flush")
        sealed = seal_day(bucket, day)

        assert self.airflow is not None, "use the Loop in a with statement"
        (run,) = self.airflow.run_days([day])
        pipeline = day_report(self.lake, run)
        feedback = self._reconcile(day, visitors, flushed)
        models: dict[str, Decision] = {}
        deployment: Deployment | None = None
        if pipeline.ok:
            config = TrainConfig(
                model="joint", max_epochs=self.config.epochs, seed=self.config.seed
            )
            models = retrain(self.lake, self.registry, day, config)
            deployment = self._deploy(day + dt.timedelta(days=1))
        record = DayRecord(
            day=day.isoformat(),
            raw_files=sorted(sealed["files"]),
            pipeline=pipeline,
            visits=visitors.summary() if visitors else None,
            feedback=feedback,
            models=models,
            promoted=any(m.promoted for m in models.values()),
            deploy=deployment,
            alerts=day_alerts(pipeline, visitors.by_surface if visitors else None),
            seconds=round(time.perf_counter() - started, 1),
        )
        self.history.append(record)
        write_history(self.history_path, self.history)
        return record

    def _bids(self) -> dict[str, float]:
        ads = self.world.ads
        return dict(zip(ads["ad_id"].astype(str), ads["bid"].astype(float), strict=True))

    def _reconcile(self, day: dt.date, visitors, flushed: dict) -> Reconciliation:
        """Every click a visitor sent must be in D's bronze table, once."""
        events = flushed["events"]
        if visitors is None:
            return Reconciliation(events=events)
        bronze = self.lake.bronze_events(day)
        found = set()
        if bronze.is_dir():
            ids = pq.read_table(bronze, columns=["event_id"]).column("event_id").to_pylist()
            found = set(ids) & set(visitors.click_ids)
        missing = len(set(visitors.click_ids) - found)
        return Reconciliation(
            events=events,
            clicks=len(visitors.click_ids),
            reconciled=missing == 0,
            missing_clicks=missing,
        )

    def _deploy(self, serving_day: dt.date) -> Deployment:
        """Ship the champions, score tomorrow's home rows, and (re)start serving."""
        assert self.service is not None
        bucket = get_settings().bucket
        started = time.perf_counter()
        versions = publish_champions(self.lake, self.registry, bucket)
        batch = score_home_rows(self.lake, serving_day, bucket)
        if not self.service.running:
            ready_s = self.service.start().ready_s
            how = f"started in {ready_s:.1f} s"
        else:
            reloaded = reload_service(self.service.url, self.token)
            how = f"reloaded ({'new model' if reloaded['changed'] else 'same model'})"
        return Deployment(
            serving_day=serving_day.isoformat(),
            champions=versions,
            batch_seconds=batch.seconds,
            batch_users=batch.users,
            service=how,
            seconds=round(time.perf_counter() - started, 1),
        )
