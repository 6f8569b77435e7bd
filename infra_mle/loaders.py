"""What the service holds in memory, and how it gets there: the model with its features and bids,
and the home rows of the newest batch output.

    python -m infra_mle.serve        # runs these at start-up, and again on POST /admin/reload

Both loaders fetch into the local cache (`sources.py` verifies every checksum), read the files
once and return a frozen object: the service swaps a whole `Model` in one assignment, so a request
never sees half of an old model and half of a new one. Anything that does not fit (a tampered
object, a model of another surface or feature spec) raises, and the caller keeps what it had.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
from dataclasses import dataclass

from infra_mle.batch_score import HOME_FILE, POPULAR_FILE
from infra_mle.online import OnlineScorer, read_frame
from infra_mle.schemas import HomeTitle
from infra_mle.settings import ServiceSettings
from infra_mle.sources import fetch_file, fetch_latest_partition, fetch_model
from shared.artifacts import LoadedModel, load_model
from shared.storage import read_manifest

SURFACE = "ad_break"


@dataclass(frozen=True)
class Model:
    """What one ranking needs, swapped as a whole on reload."""

    scorer: OnlineScorer
    bids: dict[str, float]
    feature_time: dt.datetime | None  # when the snapshot was published

    @property
    def version(self) -> str:
        return self.scorer.model.version


@dataclass(frozen=True)
class HomeRows:
    """One batch output: each scored user's home row, and the popular row for everyone else."""

    by_user: dict[str, list[HomeTitle]]
    popular: list[HomeTitle]
    generated_for: dt.date
    published_at: dt.datetime | None


def load_serving_model(settings: ServiceSettings) -> Model:
    """Fetch, verify and load the model and the features; raise if anything does not fit."""
    scorer, published = load_features(load_artifact(settings), settings)
    return Model(scorer, load_bids(settings), published)


# The three parts of a `Model`, one function each: `sizing.py` measures each part's memory by
# calling them in turn, so what it reports is what the service loads.


def load_artifact(settings: ServiceSettings) -> LoadedModel:
    """The ad-break model artifact, fetched and checksum-verified."""
    return load_model(fetch_model(settings.url("model"), settings.cache_dir), surface=SURFACE)


def load_features(
    model: LoadedModel, settings: ServiceSettings
) -> tuple[OnlineScorer, dt.datetime | None]:
    """The newest complete feature snapshot, encoded for `model`, and when it was published."""
    snapshot, published = fetch_latest_partition(settings.url("snapshot"), settings.cache_dir)
    return OnlineScorer.load(model, snapshot), published


def load_bids(settings: ServiceSettings) -> dict[str, float]:
    """Every ad's bid, dollars per click, from the ads table."""
    ads = read_frame(fetch_file(settings.url("ads"), settings.cache_dir))
    return dict(zip(ads["ad_id"].astype(str), ads["bid"].astype(float), strict=True))


def load_home_rows(settings: ServiceSettings) -> HomeRows | None:
    """The newest batch output, or None when the batch job has not published one yet."""
    try:
        folder, published = fetch_latest_partition(settings.url("recs"), settings.cache_dir)
    except FileNotFoundError:
        return None
    rows = read_frame(folder / HOME_FILE)
    by_user: dict[str, list[HomeTitle]] = {}
    for user, title, p in zip(rows["user_id"], rows["title_id"], rows["p_click"], strict=True):
        by_user.setdefault(user, []).append(HomeTitle(title_id=title, p_click=float(p)))
    popular = read_frame(folder / POPULAR_FILE)
    day = dt.date.fromisoformat(read_manifest(folder)["generated_for"])
    return HomeRows(
        by_user,
        [
            HomeTitle(title_id=t, p_click=float(p))
            for t, p in zip(popular["title_id"], popular["p_click"], strict=True)
        ],
        day,
        published,
    )


def release_freed_memory() -> None:
    """Hand memory freed after loading back to the system: glibc's heap (`malloc_trim`) and
    Arrow's pool, which the Parquet reads go through. Both keep freed pages for reuse, which a
    long-running process that loads once never needs: on the medium preset the service held
    64-71 MiB more before (772-779 MiB against 708). `malloc_trim` is skipped where there is
    no glibc."""
    import pyarrow

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    pyarrow.default_memory_pool().release_unused()
