"""A business day's raw partition in S3, assembled by two writers and sealed once.

    s3://marquee-lake/<RAW_EVENTS.key(day)>/
        events-{0,1}.jsonl.gz     the business's own traffic (the generator), landed at the start
        feedback-0001-*.jsonl.gz  what the web app's visitors saw and clicked, flushed by the app
        _manifest.json            written last by `seal_day`: every file's lines and sha256

data_mle's DAG waits for the manifest (its S3 sensor), so it never reads a day that is still
being written; `land` then verifies every file against it, and ingest reads them all.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from pathlib import Path

from shared.lake import BUSINESS_EVENT_FILES, RAW_EVENTS, Lake
from shared.s3 import list_keys, s3_client
from shared.storage import MANIFEST, to_json_text


def land_business_events(world: Path, day: dt.date, bucket: str) -> list[str]:
    """Upload the generator's event files of `day` (without their manifest: the day is not
    done). Returns the keys."""
    client, keys = s3_client(), []
    for name in BUSINESS_EVENT_FILES:
        keys.append(f"{RAW_EVENTS.key(day)}/{name}")
        client.upload_file(str(Lake(world).raw_events(day) / name), bucket, keys[-1])
    return keys


def seal_day(bucket: str, day: dt.date) -> dict:
    """Write the manifest of everything under the day's prefix; returns it. Re-sealing a day
    whose files did not change writes the same manifest."""
    client = s3_client()
    prefix = RAW_EVENTS.key(day)
    keys = [k for k in list_keys(bucket, prefix + "/") if not k.endswith("/" + MANIFEST)]
    if not keys:
        raise FileNotFoundError(f"nothing to seal under s3://{bucket}/{prefix}/")
    files = {}
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        files[key[len(prefix) + 1 :]] = {
            "rows": gzip.decompress(body).count(b"\n"),
            "bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    manifest = {"files": files, "rows": sum(f["rows"] for f in files.values())}
    client.put_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST}", Body=to_json_text(manifest))
    return manifest
