"""moto's S3 server for the client-side suite: the artifact and dataset bucket of every server when
ENSEMBLE_TEST_ARTIFACTS=s3, and of the S3 tests always.

Started once per pytest process (`moto_server` from the test virtualenv, on a free loopback port)
and stopped at exit. The AWS settings go into this process's environment, so every `ensemble serve`
the suite starts inherits them. Each data folder gets a bucket of its own.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from _server import free_port

_state: dict = {}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def enabled() -> bool:
    """Whether servers in this run keep their files in a bucket instead of the data folder."""
    return os.environ.get("ENSEMBLE_TEST_ARTIFACTS", "folder").lower() == "s3"


def _start() -> dict:
    binary = os.environ.get("MOTO_SERVER", str(Path(sys.executable).parent / "moto_server"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"moto_server not found at {binary}: install tests/requirements.txt (scripts/test does) or set MOTO_SERVER")
    port = free_port()
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"moto-{port}.log"), "wb")
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"moto_server did not answer on {url} within 60 s")

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

    atexit.register(stop)
    os.environ.update(CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = url
    return {"url": url, "process": process, "stop": stop}


def endpoint() -> str:
    """The S3 endpoint (moto started on first use)."""
    if "moto" not in _state:
        _state["moto"] = _start()
    return _state["moto"]["url"]


def client():
    import boto3

    return boto3.client("s3", endpoint_url=endpoint(), region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def new_bucket() -> str:
    name = "t-" + uuid.uuid4().hex[:20]
    client().create_bucket(Bucket=name)
    return name


def location_for(data_dir) -> str:
    """`s3://BUCKET/PREFIX` of the server whose data folder is `data_dir` (made on first use)."""
    key = str(os.path.realpath(data_dir))
    buckets = _state.setdefault("by_folder", {})
    if key not in buckets:
        buckets[key] = f"s3://{new_bucket()}/ensemble"
    return buckets[key]


def objects(location: str, under: str = "") -> dict[str, bytes]:
    """Every object below `location`/`under`, by key relative to that, with its bytes."""
    bucket, _, prefix = location[len("s3://"):].partition("/")
    base = "/".join(p for p in (prefix, under) if p) + "/"
    s3 = client()
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        for o in page.get("Contents", []):
            out[o["Key"][len(base):]] = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def listing(bucket: str) -> dict[str, tuple[int, str]]:
    """Every object in the bucket: key → (size, ETag), without reading the bytes."""
    out = {}
    for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            out[o["Key"]] = (o["Size"], o["ETag"])
    return out


def read(bucket: str, key: str) -> bytes:
    return client().get_object(Bucket=bucket, Key=key)["Body"].read()


def open_uploads(location: str) -> list[str]:
    """Keys of multipart uploads begun and neither completed nor aborted."""
    bucket = location[len("s3://"):].partition("/")[0]
    return [u["Key"] for u in client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
