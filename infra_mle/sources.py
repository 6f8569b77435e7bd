"""Fetching what the service serves, from S3 or a local folder, into a verified local cache.

    model_dir = fetch_model(f"s3://marquee-lake/{models_key('ad_break')}", cache)
    snapshot_dir = fetch_latest_partition(f"s3://marquee-lake/{ONLINE_SNAPSHOT.key()}", cache)

A model folder may hold `latest.json` (then that version is fetched) or be one version. A
partition table (snapshots, batch home rows) serves its newest `dt=` partition that is complete:
one whose `_manifest.json` exists, since publishers upload the manifest last. Everything fetched
is checked against its manifest before it is used; nothing half-downloaded is ever read.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from shared.artifacts import LATEST, MANIFEST, ArtifactError, verify_artifact
from shared.s3 import download_prefix, list_keys, parse_s3_url, s3_client
from shared.storage import MANIFEST as PARTITION_MANIFEST
from shared.storage import ChecksumError, atomic_path, verify_partition


def _is_s3(url: str) -> bool:
    return url.startswith("s3://")


def fetch_model(url: str, cache: Path) -> Path:
    """The local folder of the model version that `url` names (directly or by latest.json)."""
    if not _is_s3(url):
        folder = Path(url)
        if (folder / LATEST).exists():
            folder = folder / json.loads((folder / LATEST).read_text())["version"]
        if not (folder / MANIFEST).exists():
            raise FileNotFoundError(f"no model artifact at {url}")
        return folder
    bucket, prefix = parse_s3_url(url)
    client = s3_client()
    version = prefix.rsplit("/", 1)[-1]
    try:
        pointer = client.get_object(Bucket=bucket, Key=f"{prefix}/{LATEST}")
        version = json.loads(pointer["Body"].read())["version"]
        prefix = f"{prefix}/{version}"
    except client.exceptions.NoSuchKey:
        pass  # the URL names a version
    dest = cache / "models" / version
    if dest.exists():
        try:
            verify_artifact(dest)
            return dest  # fetched before, still intact
        except ArtifactError:
            shutil.rmtree(dest)  # a damaged cache copy: fetch it again
    download_prefix(bucket, prefix, dest)  # load_model verifies it against its manifest
    return dest


def _newest_complete(names: list[str]) -> str:
    days = sorted(n for n in names if n.startswith("dt="))
    if not days:
        raise FileNotFoundError("no complete dt= partition")
    return days[-1]


def fetch_latest_partition(url: str, cache: Path) -> tuple[Path, dt.datetime | None]:
    """The newest complete partition under `url`, verified, and when it was published (the
    manifest's upload time in S3, its modification time locally)."""
    if not _is_s3(url):
        root = Path(url)
        names = [p.name for p in root.glob("dt=*") if (p / PARTITION_MANIFEST).exists()]
        if not names:
            raise FileNotFoundError(f"no complete partition under {url}")
        folder = root / _newest_complete(names)
        verify_partition(folder)
        published = dt.datetime.fromtimestamp((folder / PARTITION_MANIFEST).stat().st_mtime, dt.UTC)
        return folder, published
    bucket, prefix = parse_s3_url(url)
    manifests = [k for k in list_keys(bucket, prefix + "/") if k.endswith("/" + PARTITION_MANIFEST)]
    names = [k[len(prefix) + 1 :].split("/")[0] for k in manifests]
    if not names:
        raise FileNotFoundError(f"no complete partition under {url}")
    name = _newest_complete(names)
    head = s3_client().head_object(Bucket=bucket, Key=f"{prefix}/{name}/{PARTITION_MANIFEST}")
    dest = cache / prefix.replace("/", "__") / name
    if dest.exists():
        try:
            verify_partition(dest)
            return dest, head["LastModified"]
        except (ChecksumError, FileNotFoundError, KeyError):
            shutil.rmtree(dest)  # a damaged cache copy: fetch it again
    download_prefix(bucket, f"{prefix}/{name}", dest)  # verifies the checksums
    return dest, head["LastModified"]


def fetch_file(url: str, cache: Path) -> Path:
    """One object (the ads table), downloaded into the cache."""
    if not _is_s3(url):
        return Path(url)
    bucket, key = parse_s3_url(url)
    dest = cache / key.replace("/", "__")
    with atomic_path(dest) as tmp:
        s3_client().download_file(bucket, key, str(tmp))
    return dest
