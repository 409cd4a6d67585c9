"""Artifacts and stored datasets' contents in an S3-compatible bucket (`ensemble serve --artifacts
s3://…`), against moto's S3 server.

The MLflow client's files and the CLI's dataset blobs land under the configured prefix and come back
byte for byte; a 200 MB upload streams through the server in parts without being held in memory;
hostile paths never reach an object outside the artifact prefix; a blob that does not hash to its
name is never published; browsers can be sent to presigned URLs; a bucket outage is a 503 and a
failed readiness check, not a crash; a server refuses to start on a bucket it cannot write.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time

import mlflow
import pytest
import requests
from mlflow import MlflowClient

import _s3
from _server import Server, ensemble_binary, free_port, raw_request
from test_path_safety import PROXY, TRAVERSALS, quote_all

SENTINEL = b"sentinel: must never change\n"


def serve(tmp_path, name: str, location: str, *extra: str) -> Server:
    return Server(tmp_path / f"{name}-data", tmp_path / f"{name}.log", extra_args=["--artifacts", location, *extra]).start()


@pytest.fixture(scope="module")
def bucket():
    _s3.endpoint()
    return _s3.new_bucket()


@pytest.fixture(scope="module")
def bucket_server(bucket, tmp_path_factory):
    srv = serve(tmp_path_factory.mktemp("s3"), "server", f"s3://{bucket}/team")
    yield srv
    assert srv.stop() in (0, None, -15, 143)


def vm_hwm_kib(pid: int) -> int:
    """The process's peak resident memory so far (Linux VmHWM)."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_mlflow_client_files_land_under_the_prefix_and_come_back(bucket, bucket_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", bucket_server.url)
    mlflow.set_tracking_uri(bucket_server.url)
    src = tmp_path / "src"
    (src / "model" / "layer.0").mkdir(parents=True)
    files = {
        "model/layer.0/weights.bin": os.urandom(2_000_003),
        "model/MLmodel": b"flavors:\n  python_function: {}\n",
        "plots/ü ber + loss (1).png": os.urandom(40_000),
        "empty.txt": b"",
    }
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src))
    rid, exp = run.info.run_id, run.info.experiment_id
    client = MlflowClient(bucket_server.url)
    assert [(f.path, f.is_dir) for f in client.list_artifacts(rid)] == [("empty.txt", False), ("model", True), ("plots", True)]
    out = tmp_path / "out"
    client.download_artifacts(rid, "", str(out))
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
    # In the bucket: exactly these objects, under PREFIX/artifacts/<experiment>/<run>/artifacts/.
    assert bucket_server.artifact_files(f"{exp}/{rid}") == {f"artifacts/{rel}": data for rel, data in files.items()}
    assert sorted(k for k in _s3.listing(bucket) if f"/{rid}/" in k) == sorted(f"team/artifacts/{exp}/{rid}/artifacts/{rel}" for rel in files)
    # Nothing went to the data folder.
    assert not (bucket_server.data_dir / "artifacts").exists() or not any((bucket_server.data_dir / "artifacts").rglob("*.bin"))
    # The run page lists the bucket's files.
    page = requests.get(f"{bucket_server.url}/runs/{rid}?dir=model", timeout=30).text
    assert "layer.0" in page and "MLmodel" in page


def test_a_200_mb_upload_streams_through_in_parts(bucket, bucket_server):
    """Sent as a stream and read back as a stream: the server's peak memory grows by far less than
    the file, and the object in the bucket is a multipart upload of 8 MiB parts."""
    size = 200 * 1024 * 1024
    chunk = 1024 * 1024
    seed = hashlib.sha256(b"seed").digest()
    sent = hashlib.sha256()

    def body():
        block = bytearray()
        for i in range(size // chunk):
            block = (seed * (chunk // len(seed)))[: chunk - 8] + i.to_bytes(8, "big")
            sent.update(block)
            yield bytes(block)

    pid = bucket_server.process.pid
    before = vm_hwm_kib(pid)
    r = requests.put(bucket_server.proxy("0/big/artifacts/model.bin"), data=body(), timeout=600)
    assert r.status_code == 200, r.text
    after_upload = vm_hwm_kib(pid)
    got = hashlib.sha256()
    n = 0
    with requests.get(bucket_server.proxy("0/big/artifacts/model.bin"), stream=True, timeout=600) as down:
        assert down.status_code == 200 and down.headers["Content-Length"] == str(size)
        for piece in down.iter_content(1 << 20):
            got.update(piece)
            n += len(piece)
    assert n == size and got.hexdigest() == sent.hexdigest()
    # Each direction on its own, so a failure says which one held too much. The upload holds the
    # 8 MiB part being filled and the one being sent: 18.8-19.3 MiB on this machine, the download
    # 0-3 MiB more (six runs, three with both cores busy). Before the server fixed glibc's mmap
    # threshold (LargeAllocations.swift) freed parts stayed in the allocator's arenas: 17-50 MiB by
    # timing, and now and then past the old bound of 100 MiB.
    up_mib, down_mib = (after_upload - before) / 1024, (vm_hwm_kib(pid) - after_upload) / 1024
    assert up_mib + down_mib < 40, f"peak memory grew by {up_mib:.0f} MiB uploading and {down_mib:.0f} MiB more downloading a 200 MiB file"
    head = _s3.client().head_object(Bucket=bucket, Key="team/artifacts/0/big/artifacts/model.bin")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-25")  # 200 MiB in 8 MiB parts
    assert _s3.open_uploads(f"s3://{bucket}") == []


def test_a_cut_off_upload_leaves_no_object_and_no_open_multipart_upload(bucket, bucket_server):
    import socket

    s = socket.create_connection(("127.0.0.1", bucket_server.port))
    s.sendall(b"PUT " + PROXY.encode() + b"/0/cut/artifacts/part.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 40000000\r\n\r\n")
    for _ in range(20):  # 20 MiB: two parts go up before the client vanishes
        s.sendall(os.urandom(1024 * 1024))
    s.close()
    deadline = time.time() + 20
    while time.time() < deadline and _s3.open_uploads(f"s3://{bucket}"):
        time.sleep(0.2)
    assert _s3.open_uploads(f"s3://{bucket}") == []
    assert requests.get(bucket_server.proxy("0/cut/artifacts/part.bin"), timeout=30).status_code == 404
    assert not [k for k in _s3.listing(bucket) if "/cut/" in k]
    assert bucket_server.healthy()


def test_dataset_blobs_are_content_addressed_and_verified(bucket, bucket_server):
    small = b"x,y\n1,2\n" * 1000
    large = os.urandom(11 * 1024 * 1024)
    for data in (small, large):
        sha = hashlib.sha256(data).hexdigest()
        r = requests.put(f"{bucket_server.url}/api/v1/blobs/{sha}", data=data, timeout=120)
        assert r.status_code == 201 and r.json() == {"sha256": sha, "size": len(data), "created": True}
        again = requests.put(f"{bucket_server.url}/api/v1/blobs/{sha}", data=data, timeout=120)
        assert again.status_code == 200 and again.json()["created"] is False
        key = f"team/blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
        assert _s3.read(bucket, key) == data
        head = requests.head(f"{bucket_server.url}/api/v1/blobs/{sha}", timeout=30)
        assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
        assert requests.get(f"{bucket_server.url}/api/v1/blobs/{sha}", timeout=120).content == data
        # Lying about the content: refused, small or multipart, and nothing is published.
        wrong = hashlib.sha256(data + b"!").hexdigest()
        bad = requests.put(f"{bucket_server.url}/api/v1/blobs/{wrong}", data=data, timeout=120)
        assert bad.status_code == 400 and "does not match its SHA-256" in bad.json()["message"]
        assert not [k for k in _s3.listing(bucket) if wrong in k]
    assert _s3.open_uploads(f"s3://{bucket}") == []
    missing = requests.post(f"{bucket_server.url}/api/v1/blobs/missing", json={"sha256": [hashlib.sha256(small).hexdigest(), "0" * 64]}, timeout=30)
    assert missing.json() == {"missing": ["0" * 64]}
    # A version can name only stored contents; the artifact proxy cannot reach the blobs at all.
    version = requests.post(f"{bucket_server.url}/api/v1/datasets/iris/versions",
                            json={"files": [{"path": "train.csv", "size": len(small), "sha256": hashlib.sha256(small).hexdigest()}]}, timeout=30)
    assert version.status_code == 201, version.text
    status, _, _ = raw_request(bucket_server, "GET", PROXY + "/../blobs/sha256")
    assert status == 400


@pytest.fixture(scope="module")
def arena(bucket, bucket_server):
    """Sentinel objects beside the artifact prefix, above it, among the blobs, and a victim inside it."""
    s3 = _s3.client()
    for key in ["sentinel.txt", "team/sentinel.txt", "team/blobs/sentinel.txt", "team/artifacts/0/victim/keep.txt", "other/artifacts/x.txt"]:
        s3.put_object(Bucket=bucket, Key=key, Body=SENTINEL)
    return bucket


@pytest.mark.parametrize("template", TRAVERSALS)
@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_hostile_paths_reach_nothing_in_the_bucket(bucket_server, arena, method, template):
    before = _s3.listing(arena)
    path = PROXY + "/" + template.replace("{absq}", quote_all("team")).replace("{abs}", "team")
    status, _, body = raw_request(bucket_server, method, path, body=b"overwritten!" if method == "PUT" else None)
    assert status == 400, (status, body[:300])
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert SENTINEL not in body
    assert _s3.listing(arena) == before
    assert bucket_server.healthy()


def test_presigned_downloads_send_the_browser_to_the_bucket(bucket, tmp_path):
    srv = serve(tmp_path, "presigned", f"s3://{bucket}/presigned", "--presigned-downloads")
    try:
        rid = MlflowClient(srv.url).create_run("0").info.run_id
        data = os.urandom(300_000)
        assert requests.put(srv.proxy(f"0/{rid}/artifacts/plot.png"), data=data, timeout=60).status_code == 200
        r = requests.get(f"{srv.url}/get-artifact", params={"run_id": rid, "path": "plot.png"}, allow_redirects=False, timeout=30)
        assert r.status_code == 302
        location = r.headers["Location"]
        assert location.startswith(_s3.endpoint()) and "X-Amz-Signature=" in location and "X-Amz-Expires=900" in location
        assert requests.get(location, timeout=30).content == data  # no credentials needed
        # A missing file is this server's 404, never a URL to nothing.
        missing = requests.get(f"{srv.url}/get-artifact", params={"run_id": rid, "path": "nope.png"}, allow_redirects=False, timeout=30)
        assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        # The MLflow client's path, the proxy, still streams through the server.
        proxied = requests.get(srv.proxy(f"0/{rid}/artifacts/plot.png"), allow_redirects=False, timeout=30)
        assert proxied.status_code == 200 and proxied.content == data
        # The web page's image preview points at the redirecting download.
        page = requests.get(f"{srv.url}/runs/{rid}/artifact", params={"path": "plot.png"}, timeout=30).text
        assert f"/get-artifact?run_id={rid}" in page
    finally:
        srv.stop()


def test_with_presigned_downloads_the_mlflow_client_reads_from_the_bucket_in_ranges(bucket, bucket_server, tmp_path, monkeypatch):
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    ranged = []
    original = HttpArtifactRepository._multipart_download

    def spy(self, presigned_response, remote_file_path, local_path, file_size, chunk_size):
        ranged.append((presigned_response.url, remote_file_path, file_size, chunk_size))
        return original(self, presigned_response, remote_file_path, local_path, file_size, chunk_size)

    monkeypatch.setattr(HttpArtifactRepository, "_multipart_download", spy)
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", raising=False)
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(PART))
    srv = serve(tmp_path, "presigned-client", f"s3://{bucket}/presigned-client", "--presigned-downloads")
    try:
        assert requests.get(srv.url + "/api/3.0/mlflow/server-info", timeout=10).json()["multipart_downloads_enabled"] is True
        monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
        mlflow.set_tracking_uri(srv.url)
        data = os.urandom(2 * PART + 333)
        (tmp_path / "w.bin").write_bytes(data)
        with mlflow.start_run() as run:
            mlflow.log_artifact(str(tmp_path / "w.bin"), "model")
        rid = run.info.run_id
        out = MlflowClient(srv.url).download_artifacts(rid, "model/w.bin", str(tmp_path / "out"))
        assert open(out, "rb").read() == data
        assert len(ranged) == 1 and ranged[0][0].startswith(_s3.endpoint()) and ranged[0][2] == len(data), ranged
        # The answer itself, and a range of the URL read without credentials.
        got = requests.get(f"{srv.url}/api/2.0/mlflow-artifacts/presigned/0/{rid}/artifacts/model/w.bin", timeout=30).json()
        assert got["file_size"] == len(data) and got["headers"] == {} and "X-Amz-Expires=3600" in got["url"]
        part = requests.get(got["url"], headers={"Range": "bytes=100-199"}, timeout=30)
        assert part.status_code == 206 and part.content == data[100:200]
        missing = requests.get(f"{srv.url}/api/2.0/mlflow-artifacts/presigned/0/{rid}/artifacts/nope.bin", timeout=30)
        assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        hostile = requests.get(f"{srv.url}/api/2.0/mlflow-artifacts/presigned/0/%2E%2E/%2E%2E/blobs/x", timeout=30)
        assert hostile.status_code == 400
    finally:
        srv.stop()
    # Without the flag: the server says no, and a client that forces it downloads through the server.
    ranged.clear()
    assert requests.get(bucket_server.url + "/api/3.0/mlflow/server-info", timeout=10).json()["multipart_downloads_enabled"] is False
    r = requests.get(f"{bucket_server.url}/api/2.0/mlflow-artifacts/presigned/0/x/artifacts/a.bin", timeout=30)
    assert r.status_code == 501 and r.json()["error_code"] == "NOT_IMPLEMENTED"
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", bucket_server.url)
    mlflow.set_tracking_uri(bucket_server.url)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "w.bin"), "model")
    out = MlflowClient(bucket_server.url).download_artifacts(run.info.run_id, "model/w.bin", str(tmp_path / "out2"))
    assert open(out, "rb").read() == data and ranged == []


def start_moto(port: int) -> subprocess.Popen:
    binary = os.environ.get("MOTO_SERVER", os.path.join(os.path.dirname(os.sys.executable), "moto_server"))
    p = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}", timeout=1)
            return p
        except requests.RequestException:
            time.sleep(0.1)
    p.kill()
    raise AssertionError("moto did not start")


def test_a_bucket_outage_is_a_503_and_not_ready_then_recovers(tmp_path, monkeypatch):
    _s3.endpoint()  # the suite's credentials
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = start_moto(port)
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="outage")
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        srv = serve(tmp_path, "outage", "s3://outage/x")
        try:
            assert requests.get(srv.url + "/ready", timeout=30).json()["status"] == "ready"
            assert requests.put(srv.proxy("0/r/artifacts/a.txt"), data=b"a", timeout=30).status_code == 200
            moto.terminate()
            moto.wait(timeout=10)
            ready = requests.get(srv.url + "/ready", timeout=60)
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": "ok", "artifacts": "failing (the server log says why)", "blobs": "failing (the server log says why)"}
            for method, body in [("GET", None), ("PUT", b"b")]:
                r = requests.request(method, srv.proxy("0/r/artifacts/a.txt"), data=body, timeout=60)
                assert r.status_code == 503, (method, r.status_code, r.text)
                assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE" and "Try again" in r.json()["message"]
                # The endpoint's address is for the server's log, not for whoever asks.
                assert str(port) not in r.json()["message"] and "127.0.0.1" not in r.json()["message"], r.json()["message"]
            # The rest of the server goes on.
            assert srv.healthy()
            assert MlflowClient(srv.url).create_experiment("still tracking")
            moto = start_moto(port)
            s3.create_bucket(Bucket="outage")
            assert requests.get(srv.url + "/ready", timeout=30).status_code == 200
            assert requests.put(srv.proxy("0/r/artifacts/c.txt"), data=b"c", timeout=30).status_code == 200
        finally:
            srv.stop()
    finally:
        moto.kill()


@pytest.mark.parametrize(
    "location, env, message",
    [
        ("s3://no-such-bucket-anywhere/p", {}, "Cannot write to s3://no-such-bucket-anywhere/p"),
        ("s3://Bad_Bucket/p", {}, "is not a bucket name"),
        ("s3://fine-bucket/p", {"AWS_ACCESS_KEY_ID": ""}, "needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ("/tmp/somewhere", {}, "takes an S3 location"),
    ],
)
def test_a_server_refuses_to_start_on_storage_it_cannot_use(tmp_path, location, env, message):
    _s3.endpoint()
    full_env = dict(os.environ, **env)
    done = subprocess.run([ensemble_binary(), "serve", "--port", str(free_port()), "--data", str(tmp_path / "d"), "--artifacts", location],
                          capture_output=True, text=True, timeout=60, env=full_env)
    assert done.returncode != 0
    assert message in done.stderr + done.stdout, done.stderr


def test_presigned_downloads_need_a_bucket(tmp_path):
    done = subprocess.run([ensemble_binary(), "serve", "--port", str(free_port()), "--data", str(tmp_path / "d"), "--presigned-downloads"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "needs --artifacts s3://" in done.stderr


# --- The MLflow client's direct multipart uploads (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD) -------------

PART = 5 * 1024 * 1024  # S3's smallest part; the client cuts the file in parts of this size


@pytest.fixture
def direct_uploads(monkeypatch):
    """The mlflow client set to send files of 5 MiB or more in 5 MiB parts by mpu/create, when the
    server's /server-info says it takes them (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD left unset)."""
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(PART))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(PART))


@pytest.fixture(scope="module")
def direct_bucket():
    _s3.endpoint()
    return _s3.new_bucket()


@pytest.fixture(scope="module")
def direct_server(direct_bucket, tmp_path_factory):
    srv = serve(tmp_path_factory.mktemp("s3direct"), "direct", f"s3://{direct_bucket}/team", "--presigned-uploads")
    yield srv
    assert srv.stop() in (0, None, -15, 143)


def log_big_file(server, tmp_path, size: int) -> tuple[str, str, bytes]:
    """Logs one file of `size` bytes with the mlflow client; answers (experiment id, run id, bytes)."""
    mlflow.set_tracking_uri(server.url)
    data = os.urandom(size)
    local = tmp_path / "weights.safetensors"
    local.write_bytes(data)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local), "model")
    return run.info.experiment_id, run.info.run_id, data


def test_the_mlflow_clients_multipart_upload_goes_straight_to_the_bucket(direct_bucket, direct_server, tmp_path, monkeypatch, direct_uploads):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", direct_server.url)
    assert requests.get(direct_server.url + "/api/3.0/mlflow/server-info", timeout=10).json()["multipart_uploads_enabled"] is True
    size = 4 * PART + 12345  # five parts cut by the client; the server's own streaming would cut three of 8 MiB
    exp, rid, data = log_big_file(direct_server, tmp_path, size)
    key = f"team/artifacts/{exp}/{rid}/artifacts/model/weights.safetensors"
    head = _s3.client().head_object(Bucket=direct_bucket, Key=key)
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-5"), "the client's 5 MiB parts, not the server's 8 MiB ones"
    assert _s3.client().get_object(Bucket=direct_bucket, Key=key)["Body"].read() == data
    assert _s3.open_uploads(f"s3://{direct_bucket}") == []
    # And it reads back through the server like any other artifact.
    out = MlflowClient(direct_server.url).download_artifacts(rid, "model/weights.safetensors", str(tmp_path / "out"))
    assert open(out, "rb").read() == data


@pytest.mark.parametrize("where", ["bucket without --presigned-uploads", "data folder"])
def test_without_direct_uploads_the_client_falls_back_to_the_server(where, bucket, bucket_server, tmp_path, monkeypatch, direct_uploads):
    server = bucket_server if where.startswith("bucket") else Server(tmp_path / "d", tmp_path / "folder.log").start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        assert requests.get(server.url + "/api/3.0/mlflow/server-info", timeout=10).json()["multipart_uploads_enabled"] is False
        # Forced on in the client, it asks anyway, is told no, and uploads through the server.
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
        size = 2 * PART + 7
        r = requests.post(server.url + "/api/2.0/mlflow-artifacts/mpu/create/0/x/artifacts", json={"path": "/tmp/a.bin", "num_parts": 3}, timeout=30)
        assert r.status_code == 501
        assert r.json()["error_code"] == "NOT_IMPLEMENTED"
        assert r.json()["message"].startswith("Multipart upload is not supported for the current artifact repository")
        exp, rid, data = log_big_file(server, tmp_path, size)
        got = requests.get(server.proxy(f"{exp}/{rid}/artifacts/model/weights.safetensors"), timeout=60)
        assert got.status_code == 200 and got.content == data
    finally:
        if server is not bucket_server:
            server.stop()


def test_direct_upload_urls_are_signed_as_botocore_signs_them(direct_bucket, direct_server):
    """The part URLs' signatures match botocore's for the same request and moment."""
    import datetime
    from unittest import mock

    import boto3
    from botocore.config import Config
    from urllib.parse import parse_qs, urlsplit

    r = requests.post(direct_server.url + "/api/2.0/mlflow-artifacts/mpu/create/0/sig/artifacts/ü ber",
                      json={"path": "C:\\Users\\me\\model (1).bin", "num_parts": 2}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["part_number"] for c in body["credentials"]] == [1, 2] and all(c["headers"] == {} for c in body["credentials"])
    key = "team/artifacts/0/sig/artifacts/ü ber/model (1).bin"
    assert _s3.open_uploads(f"s3://{direct_bucket}") == [key]
    s3 = boto3.client("s3", endpoint_url=_s3.endpoint(), region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    for credential in body["credentials"]:
        ours = parse_qs(urlsplit(credential["url"]).query)
        moment = datetime.datetime.strptime(ours["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
        with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
            theirs_url = s3.generate_presigned_url(
                "upload_part", Params={"Bucket": direct_bucket, "Key": key, "UploadId": body["upload_id"], "PartNumber": credential["part_number"]},
                ExpiresIn=int(ours["X-Amz-Expires"][0]))
        theirs = parse_qs(urlsplit(theirs_url).query)
        assert urlsplit(credential["url"]).path == urlsplit(theirs_url).path
        assert ours["X-Amz-Signature"] == theirs["X-Amz-Signature"], (credential["url"], theirs_url)
        assert ours["X-Amz-Expires"] == ["14400"]
    done = requests.post(direct_server.url + "/api/2.0/mlflow-artifacts/mpu/abort/0/sig/artifacts/ü ber",
                         json={"path": "model (1).bin", "upload_id": body["upload_id"]}, timeout=30)
    assert done.status_code == 200 and done.json() == {}
    assert _s3.open_uploads(f"s3://{direct_bucket}") == []


MPU = "/api/2.0/mlflow-artifacts/mpu"


@pytest.mark.parametrize(
    "action, folder, body, words",
    [
        ("create", "0/r/artifacts", {"path": "a.bin", "num_parts": 0}, "between 1 and 10000"),
        ("create", "0/r/artifacts", {"path": "a.bin", "num_parts": 10001}, "between 1 and 10000"),
        ("create", "0/r/artifacts", {"path": "a.bin", "num_parts": "many"}, "an integer"),
        ("create", "0/r/artifacts", {"num_parts": 2}, "path"),
        ("create", "0/r/artifacts", {"path": "somewhere/", "num_parts": 2}, "must name a file"),
        ("create", "0/r/artifacts", {"path": "/home/me/.", "num_parts": 2}, "must name a file"),
        ("create", "0/r/artifacts", {"path": "../..", "num_parts": 2}, "Invalid path"),
        ("create", "0/r/%2E%2E/%2E%2E/escape", {"path": "a.bin", "num_parts": 2}, "Invalid path"),
        ("complete", "0/r/artifacts", {"path": "a.bin", "parts": [{"part_number": 1, "etag": "x"}]}, "upload_id"),
        ("complete", "0/r/artifacts", {"path": "a.bin", "upload_id": "u", "parts": []}, "lists 1 to 10000"),
        ("complete", "0/r/artifacts", {"path": "a.bin", "upload_id": "u", "parts": [{"part_number": 1, "etag": "a"}, {"part_number": 1, "etag": "b"}]},
         "listed twice"),
        ("complete", "0/r/artifacts", {"path": "a.bin", "upload_id": "u", "parts": [{"part_number": 0, "etag": "a"}]}, "between 1 and 10000"),
        ("complete", "0/r/artifacts", {"path": "a.bin", "upload_id": "u", "parts": [{"part_number": 1, "etag": ""}]}, "parts[0].etag"),
        ("complete", "0/r/artifacts", {"path": "a.bin", "upload_id": "no-such-upload", "parts": [{"part_number": 1, "etag": "\"abc\""}]},
         "refused upload"),
        ("abort", "0/r/artifacts", {"path": "a.bin", "upload_id": "\u0001"}, "upload_id"),
    ],
)
def test_bad_direct_upload_requests_are_400s_naming_the_problem(direct_bucket, direct_server, action, folder, body, words):
    before = _s3.listing(direct_bucket)
    r = requests.post(f"{direct_server.url}{MPU}/{action}/{folder}", json=body, timeout=30)
    assert r.status_code == 400, r.text
    assert words in r.json()["message"], r.json()["message"]
    assert _s3.listing(direct_bucket) == before
    assert direct_server.healthy()


def test_a_completion_with_a_wrong_etag_publishes_nothing(direct_bucket, direct_server):
    create = requests.post(f"{direct_server.url}{MPU}/create/0/w/artifacts", json={"path": "w.bin", "num_parts": 1}, timeout=30).json()
    put = requests.put(create["credentials"][0]["url"], data=b"weights", timeout=30)
    assert put.status_code == 200 and put.headers["ETag"]
    wrong = requests.post(f"{direct_server.url}{MPU}/complete/0/w/artifacts",
                          json={"path": "w.bin", "upload_id": create["upload_id"], "parts": [{"part_number": 1, "etag": '"0123456789abcdef"'}]}, timeout=30)
    assert wrong.status_code == 400 and "ETag is not the one its upload answered" in wrong.json()["message"], wrong.text
    assert requests.get(direct_server.proxy("0/w/artifacts/w.bin"), timeout=30).status_code == 404
    right = requests.post(f"{direct_server.url}{MPU}/complete/0/w/artifacts",
                          json={"path": "w.bin", "upload_id": create["upload_id"], "parts": [{"part_number": 1, "etag": put.headers["ETag"]}]}, timeout=30)
    assert right.status_code == 200, right.text
    assert requests.get(direct_server.proxy("0/w/artifacts/w.bin"), timeout=30).content == b"weights"


def test_presigned_uploads_need_a_bucket(tmp_path):
    done = subprocess.run([ensemble_binary(), "serve", "--port", str(free_port()), "--data", str(tmp_path / "d"), "--presigned-uploads"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--presigned-uploads needs --artifacts s3://" in done.stderr


def test_an_upload_begun_on_one_server_completes_on_another(direct_bucket, direct_server, tmp_path):
    """Nothing about a direct upload lives in the server that began it."""
    other = serve(tmp_path, "other", f"s3://{direct_bucket}/team", "--presigned-uploads")
    try:
        create = requests.post(f"{direct_server.url}{MPU}/create/0/two/artifacts", json={"path": "m.bin", "num_parts": 2}, timeout=30).json()
        pieces = [os.urandom(PART), b"tail"]
        parts = []
        for credential, piece in zip(create["credentials"], pieces):
            put = requests.put(credential["url"], data=piece, timeout=60)
            assert put.status_code == 200
            parts.append({"part_number": credential["part_number"], "etag": put.headers["ETag"], "url": credential["url"]})
        done = requests.post(f"{other.url}{MPU}/complete/0/two/artifacts", json={"path": "m.bin", "upload_id": create["upload_id"], "parts": parts}, timeout=30)
        assert done.status_code == 200, done.text
        assert requests.get(direct_server.proxy("0/two/artifacts/m.bin"), timeout=60).content == pieces[0] + pieces[1]
    finally:
        other.stop()
