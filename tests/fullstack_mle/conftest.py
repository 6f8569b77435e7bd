"""Fixtures the web app's tests share."""

from __future__ import annotations

import pytest

from shared.lake import ENTITIES, Lake
from shared.s3 import MotoServer, upload_dir
from shared.settings import get_settings


@pytest.fixture(scope="module")
def entities(clean_dataset):
    """moto with the clean dataset's entity tables published, as the loop publishes them."""
    world, _ = clean_dataset
    with MotoServer():
        entities = Lake(world).entities()  # already in a lake's layout: upload only
        upload_dir(entities, get_settings().bucket, ENTITIES.key(), create_bucket=True)
        yield world
