"""Artifacts through the mlflow-artifacts proxy with the real client: upload, list, download byte
for byte, and where the files land on disk. Hostile paths are in test_path_safety.py."""

import json
import os
import socket
import time

import mlflow
import pytest
import requests
from mlflow import MlflowClient


def listing(client, run_id, path=None):
    return [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, path)]


def test_log_and_download_artifacts(server, tmp_path):
    client = MlflowClient(server.url)
    mlflow.set_experiment("artifacts")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("beta!")
    blob = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "single.txt").write_text("one file")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "blob.bin"))
        mlflow.log_artifact(str(tmp_path / "single.txt"), artifact_path="deep/er")
        mlflow.log_artifacts(str(src), artifact_path="tree")
        mlflow.log_text("hello text", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
    rid = run.info.run_id
    exp_id = run.info.experiment_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{rid}/artifacts"

    config_size = len(json.dumps({"k": [1, 2]}, indent=2))  # log_dict writes indented JSON
    assert listing(client, rid) == [
        ("blob.bin", False, len(blob)),
        ("config.json", False, config_size),
        ("deep", True, None),
        ("notes", True, None),
        ("tree", True, None),
    ]
    assert listing(client, rid, "tree") == [("tree/a.txt", False, 5), ("tree/sub", True, None)]
    assert listing(client, rid, "tree/sub") == [("tree/sub/b.txt", False, 5)]
    assert listing(client, rid, "deep/er") == [("deep/er/single.txt", False, 8)]
    assert listing(client, rid, "no/such/dir") == []

    out = tmp_path / "out"
    out.mkdir()
    client.download_artifacts(rid, "", str(out))
    assert (out / "blob.bin").read_bytes() == blob
    assert (out / "tree" / "a.txt").read_text() == "alpha"
    assert (out / "tree" / "sub" / "b.txt").read_text() == "beta!"
    assert (out / "deep" / "er" / "single.txt").read_text() == "one file"
    assert (out / "notes" / "hello.txt").read_text() == "hello text"
    assert json.loads((out / "config.json").read_text()) == {"k": [1, 2]}
    # Single files and sub-folders download too.
    one = tmp_path / "one"
    one.mkdir()
    assert open(client.download_artifacts(rid, "blob.bin", str(one)), "rb").read() == blob
    sub = client.download_artifacts(rid, "tree/sub", str(one))
    assert open(os.path.join(sub, "b.txt")).read() == "beta!"
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes/hello.txt") == "hello text"
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/config.json") == {"k": [1, 2]}

    # The files really are under the artifact root (the data folder's or the bucket's), nowhere else.
    stored = server.artifact_files()
    run_root = f"{exp_id}/{rid}/artifacts"
    assert stored[f"{run_root}/blob.bin"] == blob
    assert stored[f"{run_root}/tree/sub/b.txt"] == b"beta!"
    assert stored[f"{run_root}/deep/er/single.txt"] == b"one file"
    assert stored[f"{run_root}/notes/hello.txt"] == b"hello text"
    assert sorted(stored) == sorted(
        f"{exp_id}/{rid}/artifacts/{p}"
        for p in ["blob.bin", "config.json", "deep/er/single.txt", "notes/hello.txt", "tree/a.txt", "tree/sub/b.txt"]
    )


def test_artifacts_list_rest_shape(server, tmp_path):
    client = MlflowClient(server.url)
    rid = client.create_run("0").info.run_id
    client.log_text(rid, "x" * 10, "dir/b.txt")
    client.log_text(rid, "yy", "a.txt")
    r = requests.get(server.api("artifacts/list"), params={"run_id": rid})
    assert r.status_code == 200
    body = r.json()
    assert body["root_uri"] == f"mlflow-artifacts:/0/{rid}/artifacts"
    assert body["files"] == [{"path": "a.txt", "is_dir": False, "file_size": 2}, {"path": "dir", "is_dir": True}]
    sub = requests.get(server.api("artifacts/list"), params={"run_id": rid, "path": "dir"}).json()
    assert sub["files"] == [{"path": "dir/b.txt", "is_dir": False, "file_size": 10}]
    # The proxy lists one level with base names.
    proxy = requests.get(server.proxy(), params={"path": f"0/{rid}/artifacts"}).json()
    assert proxy == {"files": [{"path": "a.txt", "is_dir": False, "file_size": 2}, {"path": "dir", "is_dir": True}]}
    missing = requests.get(server.api("artifacts/list"), params={"run_id": "f" * 32})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    "name",
    ["with space/ü ñ.txt", "100%.txt", "plus+and&amp.txt", "quote'.txt", "UPPER.TXT", "comma,eq=.txt", "tilde~(paren).txt", "emoji-🙂.txt"],
)
def test_unusual_file_names_round_trip(shared_server, tmp_path, name):
    """Names MLflow accepts must upload, list and download unchanged."""
    client = MlflowClient(shared_server.url)
    rid = client.create_run("0").info.run_id
    client.log_text(rid, f"content of {name}", name)
    out = tmp_path / "out"
    out.mkdir()
    client.download_artifacts(rid, "", str(out))
    assert (out / name).read_text() == f"content of {name}"
    assert shared_server.artifact_files(f"0/{rid}/artifacts") == {name: f"content of {name}".encode()}
    parent = name.rsplit("/", 1)[0] if "/" in name else None
    assert name in [f.path for f in client.list_artifacts(rid, parent)]


def test_empty_files_and_overwrite(server, tmp_path):
    client = MlflowClient(server.url)
    rid = client.create_run("0").info.run_id
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    client.log_artifact(rid, str(empty))
    assert listing(client, rid) == [("empty.bin", False, 0)]
    out = tmp_path / "out"
    out.mkdir()
    client.download_artifacts(rid, "", str(out))
    assert (out / "empty.bin").read_bytes() == b""
    # Logging the same path again replaces the file.
    client.log_text(rid, "first version", "notes.txt")
    client.log_text(rid, "second", "notes.txt")
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes.txt") == "second"
    assert ("notes.txt", False, 6) in listing(client, rid)


def test_proxy_headers_and_missing_files(server):
    assert requests.put(server.proxy("0/x/page.html"), data=b"<script>alert(1)</script>").status_code == 200
    r = requests.get(server.proxy("0/x/page.html"))
    assert r.content == b"<script>alert(1)</script>"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "text/html" not in r.headers["Content-Type"]
    assert requests.put(server.proxy("0/x/notes.txt"), data=b"hi").status_code == 200
    assert requests.get(server.proxy("0/x/notes.txt")).headers["Content-Type"].startswith("text/plain")
    missing = requests.get(server.proxy("0/x/nope.txt"))
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    folder = requests.get(server.proxy("0/x"))
    assert folder.status_code == 400
    assert requests.get(server.proxy(), params={"path": "0/none"}).json() == {}
    assert requests.delete(server.proxy("0/x")).json() == {}
    # A folder left empty lists as empty; in a bucket, where folders are only key prefixes, it is gone.
    assert requests.get(server.proxy(), params={"path": "0"}).json() == ({} if server.artifacts_location else {"files": []})
    assert requests.get(server.proxy("0/x/notes.txt")).status_code == 404


def test_proxy_delete_file_keeps_siblings(server):
    for name in ["keep.txt", "drop.txt"]:
        assert requests.put(server.proxy(f"0/d/{name}"), data=name.encode()).status_code == 200
    assert requests.delete(server.proxy("0/d/drop.txt")).status_code == 200
    assert requests.get(server.proxy(), params={"path": "0/d"}).json() == {"files": [{"path": "keep.txt", "is_dir": False, "file_size": 8}]}
    assert server.artifact_files("0/d") == {"keep.txt": b"keep.txt"}


def test_upload_is_atomic_when_the_client_disconnects(server):
    """A PUT cut off mid-body leaves no file under the real name."""
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(
        b"PUT /api/2.0/mlflow-artifacts/artifacts/0/cut/part.bin HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1000000\r\nContent-Type: application/octet-stream\r\n\r\n" + b"x" * 1000
    )
    s.close()
    r = requests.get(server.proxy("0/cut/part.bin"))
    assert r.status_code == 404
    # The server is still healthy and the half upload left no temporary file behind.
    assert server.healthy()
    deadline = time.time() + 5
    while time.time() < deadline and server.artifact_files():
        time.sleep(0.1)
    assert server.artifact_files() == {}
