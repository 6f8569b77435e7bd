"""Start-up from S3 (moto): the service fetches the artifact by `latest.json`, the newest complete
snapshot and the ads into its cache, verified, before it is ready; a tampered object in S3 keeps
it from ever becoming ready."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from infra_mle.app import create_app
from infra_mle.settings import ServiceSettings
from shared.artifacts import WEIGHTS, ArtifactError, load_model, upload_model
from shared.lake import BATCH_RECS, ONLINE_SNAPSHOT, entity_key, models_key
from shared.s3 import MotoServer, s3_client, upload_dir
from shared.settings import get_settings
from tests.infra_mle.test_service import rank_body

pytestmark = pytest.mark.slow


@pytest.fixture
def bucket_with_everything(artifact, snapshot_dir, ads_table, recs_root):
    with MotoServer():
        bucket = get_settings().bucket
        upload_model(artifact, bucket)
        upload_dir(snapshot_dir, bucket, f"{ONLINE_SNAPSHOT.key()}/{snapshot_dir.name}")
        for part in recs_root.glob("dt=*"):
            upload_dir(part, bucket, f"{BATCH_RECS.key()}/{part.name}")
        s3_client().upload_file(str(ads_table), bucket, entity_key("ads"))
        yield bucket


def test_the_service_starts_from_s3_with_verified_copies(
    bucket_with_everything, artifact, tmp_path
):
    settings = ServiceSettings(cache_dir=tmp_path / "cache")  # every URL: the bucket's default
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 200
        body = c.post("/v1/ad-break/rank", json=rank_body()).json()
        assert body["model_version"] == load_model(artifact).version
        assert c.get("/v1/home/u0000001").json()["source"] == "batch"
    cached = tmp_path / "cache" / "models" / load_model(artifact).version
    assert load_model(cached).version == load_model(artifact).version


def test_a_tampered_artifact_in_s3_never_becomes_ready(bucket_with_everything, artifact, tmp_path):
    key = f"{models_key('ad_break')}/{artifact.name}/{WEIGHTS}"
    data = bytearray((artifact / WEIGHTS).read_bytes())
    data[-30] ^= 0x01
    s3_client().put_object(Bucket=bucket_with_everything, Key=key, Body=bytes(data))
    app = create_app(ServiceSettings(cache_dir=tmp_path / "cache"))
    with pytest.raises(ArtifactError, match="changed after export"), TestClient(app):
        pass
