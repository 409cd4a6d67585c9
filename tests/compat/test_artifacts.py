"""Artifacts through the mlflow-artifacts proxy: upload, list, download byte for byte, and path safety."""

import http.client
import json
import os
import uuid

import mlflow
import pytest
import requests
from mlflow import MlflowClient


def test_log_and_download_artifacts(server, tmp_path):
    client = MlflowClient(server.url)
    mlflow.set_experiment("artifacts")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("beta")
    blob = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "blob.bin").write_bytes(blob)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "blob.bin"))
        mlflow.log_artifacts(str(src), artifact_path="tree")
        mlflow.log_text("hello text", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
    rid = run.info.run_id
    exp_id = run.info.experiment_id

    root = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(rid)]
    config_size = len(json.dumps({"k": [1, 2]}, indent=2))  # log_dict writes indented JSON
    assert root == [("blob.bin", False, len(blob)), ("config.json", False, config_size), ("notes", True, None), ("tree", True, None)]
    assert [(f.path, f.is_dir) for f in client.list_artifacts(rid, "tree")] == [("tree/a.txt", False), ("tree/sub", True)]

    out = tmp_path / "out"
    out.mkdir()
    client.download_artifacts(rid, "", str(out))
    assert (out / "blob.bin").read_bytes() == blob
    assert (out / "tree" / "sub" / "b.txt").read_text() == "beta"
    assert (out / "notes" / "hello.txt").read_text() == "hello text"
    assert json.loads((out / "config.json").read_text()) == {"k": [1, 2]}
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes/hello.txt") == "hello text"

    # The files really are under the data folder's artifact root, nowhere else.
    on_disk = server.artifact_root / exp_id / rid / "artifacts"
    assert (on_disk / "blob.bin").read_bytes() == blob
    assert (on_disk / "tree" / "sub" / "b.txt").read_text() == "beta"
    leftovers = [p for p in server.artifact_root.rglob("*") if p.name.startswith(".~ensemble-upload-")]
    assert leftovers == []


def test_proxy_headers_and_missing_files(server):
    base = server.url + "/api/2.0/mlflow-artifacts/artifacts"
    assert requests.put(base + "/0/x/page.html", data=b"<script>alert(1)</script>").status_code == 200
    r = requests.get(base + "/0/x/page.html")
    assert r.content == b"<script>alert(1)</script>"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "text/html" not in r.headers["Content-Type"]
    missing = requests.get(base + "/0/x/nope.txt")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    folder = requests.get(base + "/0/x")
    assert folder.status_code == 400
    assert requests.get(base, params={"path": "0/none"}).json() == {}
    assert requests.delete(base + "/0/x").json() == {}
    assert requests.get(base, params={"path": "0"}).json() == {"files": []}


def raw_request(server, method, path, body=b"x"):
    """Send the path exactly as written: requests would normalise dot segments away."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path, body=body if method == "PUT" else None)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


TRAVERSALS = [
    "../escape.txt",
    "0/../../escape.txt",
    "..%2fescape.txt",
    "%2e%2e%2fescape.txt",
    "%2e%2e/escape.txt",
    "%252e%252e%252fescape.txt",
    "0/..%5c..%5cescape.txt",
    "0\\..\\..\\escape.txt",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "%2F%2Fproc%2Fself%2Froot%2Fescape.txt",
    "a%23b",
    "a%00b",
    "a;x=1/../../escape.txt",
    "C:%2Fescape.txt",
    "0/%2E%2E/%2E%2E/escape.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_proxy_refuses_traversal(shared_server, tmp_path, path, method):
    sentinel_dir = shared_server.data_dir.parent
    before = sorted(p.name for p in sentinel_dir.iterdir())
    status, body = raw_request(shared_server, method, "/api/2.0/mlflow-artifacts/artifacts/" + path)
    assert status == 400, (status, body)
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert sorted(p.name for p in sentinel_dir.iterdir()) == before
    assert not (sentinel_dir / "escape.txt").exists()
    assert requests.get(shared_server.url + "/health").text == "OK"


@pytest.mark.parametrize("path", ["../..", "a/../../b", "/etc", "%2e%2e"])
def test_artifacts_list_refuses_traversal(shared_server, path):
    client = MlflowClient(shared_server.url)
    rid = client.create_run("0").info.run_id
    r = requests.get(shared_server.api("artifacts/list"), params={"run_id": rid, "path": path})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    listing = requests.get(shared_server.url + "/api/2.0/mlflow-artifacts/artifacts", params={"path": path})
    assert listing.status_code == 400


def test_symlink_inside_root_is_not_followed(server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (server.artifact_root / "0").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, server.artifact_root / "0" / "evil")
    os.symlink(outside / "secret.txt", server.artifact_root / "0" / "link.txt")
    base = server.url + "/api/2.0/mlflow-artifacts/artifacts/0"
    for method, path in [("GET", "/evil/secret.txt"), ("GET", "/link.txt"), ("PUT", "/evil/new.txt"), ("DELETE", "/evil/secret.txt"), ("PUT", "/link.txt")]:
        r = requests.request(method, base + path, data=b"overwrite" if method == "PUT" else None)
        assert 400 <= r.status_code < 500, (method, path, r.status_code)
    assert requests.get(server.url + "/api/2.0/mlflow-artifacts/artifacts", params={"path": "0/evil"}).status_code == 400
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"


def test_upload_is_atomic_when_the_client_disconnects(server):
    """A PUT cut off mid-body leaves no file under the real name."""
    import socket

    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(
        b"PUT /api/2.0/mlflow-artifacts/artifacts/0/cut/part.bin HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1000000\r\nContent-Type: application/octet-stream\r\n\r\n" + b"x" * 1000
    )
    s.close()
    r = requests.get(server.url + "/api/2.0/mlflow-artifacts/artifacts/0/cut/part.bin")
    assert r.status_code == 404
    # The server is still healthy and the half upload left no temporary file behind.
    assert requests.get(server.url + "/health").text == "OK"
    import time

    deadline = time.time() + 5
    while time.time() < deadline and list((server.artifact_root / "0" / "cut").glob(".~ensemble-upload-*")):
        time.sleep(0.1)
    assert list((server.artifact_root / "0" / "cut").glob(".~ensemble-upload-*")) == []
