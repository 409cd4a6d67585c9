"""Hostile artifact paths (shared/docs/BAD_INPUTS.md): traversal in every encoding, absolute paths,
backslashes, `#`, NUL, and symbolic links inside the artifact root that point outside it.

Every such request must answer 400 `{"error_code": "INVALID_PARAMETER_VALUE", ...}` (never 5xx),
and no file outside DATADIR/artifacts may be read, created, changed or deleted. Paths are sent with
http.client exactly as written: requests would normalise `..` segments away before sending.

Targets are sentinel files in the test's own temporary folders, never system files: a PUT or
DELETE that escaped would hit the sentinel, which the test then checks.
"""

import hashlib
import json
import os
import urllib.parse
from pathlib import Path

import pytest
import requests
from _server import raw_request
from mlflow import MlflowClient

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
SENTINEL = b"sentinel: must never change\n"


@pytest.fixture(scope="module")
def arena(shared_server):
    """Sentinels around the shared server's artifact root.

    <tmp>/sentinel.txt            two levels above the artifact root
    <tmp>/data/sentinel.txt       one level above it, inside DATADIR
    <tmp>/data/artifacts/0/victim/keep.txt   inside the root
    """
    top = shared_server.data_dir.parent
    (top / "sentinel.txt").write_bytes(SENTINEL)
    (shared_server.data_dir / "sentinel.txt").write_bytes(SENTINEL)
    victim = shared_server.artifact_root / "0" / "victim"
    victim.mkdir(parents=True, exist_ok=True)
    (victim / "keep.txt").write_bytes(SENTINEL)
    return top


def snapshot_outside_root(top: Path, artifact_root: Path) -> dict:
    """Every path under `top` that is not inside the artifact root, with a hash of regular files
    (SQLite files and the server log change by themselves, so only their presence counts)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(top):
        d = Path(dirpath)
        if d == artifact_root or artifact_root in d.parents:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = d / name
            if p == artifact_root:
                continue
            rel = str(p.relative_to(top))
            if p.is_file() and not p.is_symlink() and not name.startswith("ensemble.sqlite") and not name.endswith(".log"):
                snap[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                snap[rel] = "present"
    return snap


def check_untouched(server, top: Path, before: dict):
    assert snapshot_outside_root(top, server.artifact_root) == before
    assert (top / "sentinel.txt").read_bytes() == SENTINEL
    assert (server.data_dir / "sentinel.txt").read_bytes() == SENTINEL
    assert (server.artifact_root / "0" / "victim" / "keep.txt").read_bytes() == SENTINEL
    assert server.healthy()


def abs_top(top: Path) -> str:
    return str(top).lstrip("/")


def quote_all(s: str) -> str:
    return urllib.parse.quote(s, safe="")


# Templates: {abs} is the sentinel folder's absolute path without its leading slash,
# {absq} the same fully percent-encoded. Each one aims at a sentinel file.
TRAVERSALS = [
    "../sentinel.txt",
    "../../sentinel.txt",
    "0/../../sentinel.txt",
    "0/../../../sentinel.txt",
    "0/victim/../../../sentinel.txt",
    "0/victim/..",
    "0/victim/../victim/keep.txt",
    "..",
    "..%2fsentinel.txt",
    "..%2F..%2Fsentinel.txt",
    "0%2f..%2f..%2fsentinel.txt",
    "%2e%2e%2fsentinel.txt",
    "%2e%2e/%2e%2e/sentinel.txt",
    "%2E%2E%2F%2E%2E%2Fsentinel.txt",
    ".%2e/sentinel.txt",
    "%252e%252e%252fsentinel.txt",
    "%252e%252e%252f%252e%252e%252fsentinel.txt",
    "%25252e%25252e%25252f%25252e%25252e%25252fsentinel.txt",
    "..\\sentinel.txt",
    "..\\..\\sentinel.txt",
    "0\\..\\..\\sentinel.txt",
    "..%5csentinel.txt",
    "..%5c..%5csentinel.txt",
    "%5c..%5c..%5csentinel.txt",
    "0/..%5c..%5c..%5csentinel.txt",
    "%255c..%255csentinel.txt",
    "/{abs}/sentinel.txt",
    "//{abs}/sentinel.txt",
    "%2F{absq}%2Fsentinel.txt",
    "%252F{absq}%252Fsentinel.txt",
    "file:%2F%2F%2F{absq}%2Fsentinel.txt",
    "file:///{abs}/sentinel.txt",
    "C:/sentinel.txt",
    "C:%5csentinel.txt",
    "a%23b.txt",
    "0/x%23/../../sentinel.txt",
    "%23/../../sentinel.txt",
    "a%00b.txt",
    "sentinel.txt%00.png",
    "..%00/sentinel.txt",
    "%2e%2e%00/sentinel.txt",
    "a;x=1/../../sentinel.txt",
    "0/%2E%2E/%2E%2E/sentinel.txt",
    "0/../" + "../" * 20 + "{abs}/sentinel.txt",
]


def expand(template: str, top: Path) -> str:
    a = abs_top(top)
    return template.replace("{absq}", quote_all(a)).replace("{abs}", a)


@pytest.mark.parametrize("template", TRAVERSALS)
@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_proxy_refuses_traversal(shared_server, arena, method, template):
    before = snapshot_outside_root(arena, shared_server.artifact_root)
    path = PROXY + "/" + expand(template, arena)
    status, _, body = raw_request(shared_server, method, path, body=b"overwritten!" if method == "PUT" else None)
    assert status == 400, (status, body[:300])
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert SENTINEL not in body
    check_untouched(shared_server, arena, before)


@pytest.mark.parametrize("template", TRAVERSALS)
def test_proxy_listing_refuses_traversal(shared_server, arena, template):
    before = snapshot_outside_root(arena, shared_server.artifact_root)
    status, _, body = raw_request(shared_server, "GET", PROXY + "?path=" + expand(template, arena).replace("#", "%23"))
    assert status == 400, (status, body[:300])
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert b"sentinel.txt" not in body and b"ensemble.sqlite" not in body
    check_untouched(shared_server, arena, before)


@pytest.mark.parametrize("path", ["/etc/passwd", "%2Fetc%2Fpasswd", "//etc/passwd", "%252Fetc%252Fpasswd", "file:///etc/passwd", "..%2f" * 30 + "etc%2fpasswd", "../" * 30 + "etc/passwd"])
def test_proxy_never_serves_system_files(shared_server, path):
    status, _, body = raw_request(shared_server, "GET", PROXY + "/" + path)
    assert status == 400, (status, body[:300])
    assert b"root:" not in body
    status, _, body = raw_request(shared_server, "GET", PROXY + "?path=" + path.rsplit("passwd", 1)[0])
    assert status == 400, (status, body[:300])
    assert b"passwd" not in body


# Odd but harmless paths: the server may accept them (as MLflow does) or refuse them, but must
# never fail with 5xx, and whatever it writes stays inside the artifact root.
ODD = ["..;/odd.txt", "0/./odd.txt", "0//odd.txt", ".../odd.txt", "....//odd.txt", "%c0%ae%c0%ae/odd.txt", "%2e/odd.txt", "0/odd.txt/.", "0/odd%0a.txt"]


@pytest.mark.parametrize("path", ODD)
def test_odd_paths_stay_inside_the_root(shared_server, arena, path):
    before = snapshot_outside_root(arena, shared_server.artifact_root)
    status, _, body = raw_request(shared_server, "PUT", PROXY + "/" + path, body=b"odd")
    assert status in (200, 400), (status, body[:300])
    if status == 400:
        assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    else:
        get_status, _, got = raw_request(shared_server, "GET", PROXY + "/" + path)
        assert (get_status, got) == (200, b"odd")
        assert raw_request(shared_server, "DELETE", PROXY + "/" + path)[0] == 200
    check_untouched(shared_server, arena, before)


@pytest.mark.parametrize("path", ["", "/", "/.", "%2e"])
def test_deleting_the_whole_root_is_refused_or_harmless(shared_server, arena, path):
    before = snapshot_outside_root(arena, shared_server.artifact_root)
    status, _, body = raw_request(shared_server, "DELETE", PROXY + path)
    assert status < 500, (status, body[:300])
    check_untouched(shared_server, arena, before)


@pytest.mark.parametrize("path", ["../..", "..", "a/../../b", "/etc", "%2e%2e", "..%2f..", "%252e%252e", "..\\..", "a#b", "a\x00b", "C:/x"])
def test_run_artifact_endpoints_refuse_traversal(shared_server, arena, path):
    before = snapshot_outside_root(arena, shared_server.artifact_root)
    client = MlflowClient(shared_server.url)
    rid = client.create_run("0").info.run_id
    r = requests.get(shared_server.api("artifacts/list"), params={"run_id": rid, "path": path})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = requests.get(shared_server.url + "/get-artifact", params={"run_id": rid, "path": path + "/sentinel.txt"})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert SENTINEL not in r.content
    r = requests.post(
        shared_server.url + "/ajax-api/2.0/mlflow/upload-artifact", params={"run_uuid": rid, "path": path + "/sentinel.txt"}, data=b"overwritten!"
    )
    assert r.status_code == 400, (r.status_code, r.text[:300])
    check_untouched(shared_server, arena, before)


# -- symbolic links --------------------------------------------------------------------------------------


@pytest.fixture
def links(server, tmp_path):
    """An `outside` folder next to DATADIR, and links to it from inside the artifact root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret outside the root")
    root = server.artifact_root
    (root / "0").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / "0" / "evil")  # a folder link
    os.symlink(outside / "secret.txt", root / "0" / "link.txt")  # a file link
    os.symlink("/etc/passwd", root / "0" / "passwd")  # a system file
    os.symlink(outside, root / "7")  # a whole experiment folder that is a link
    os.symlink(outside / "missing", root / "0" / "dangling")
    return outside


def outside_state(outside: Path):
    return sorted((str(p.relative_to(outside)), p.read_bytes() if p.is_file() else None) for p in outside.rglob("*"))


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "0/evil/secret.txt"),
        ("GET", "0/link.txt"),
        ("GET", "0/passwd"),
        ("GET", "7/secret.txt"),
        ("GET", "0/dangling"),
        ("PUT", "0/evil/new.txt"),
        ("PUT", "0/evil/sub/new.txt"),
        ("PUT", "0/link.txt"),
        ("PUT", "7/new.txt"),
        ("PUT", "0/dangling"),
        ("DELETE", "0/evil/secret.txt"),
        ("DELETE", "7/secret.txt"),
    ],
)
def test_symlinks_are_not_followed_by_the_proxy(server, links, method, path):
    before = outside_state(links)
    r = requests.request(method, server.proxy(path), data=b"overwrite" if method == "PUT" else None)
    assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text[:300])
    assert b"secret outside the root" not in r.content and b"root:" not in r.content
    assert outside_state(links) == before
    assert not (links / "missing").exists()
    assert server.healthy()


def test_symlinked_folders_are_not_listed(server, links):
    for path in ["0/evil", "7", "0/evil/."]:
        r = requests.get(server.proxy(), params={"path": path})
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])
        assert "secret.txt" not in r.text
    # Listing the parent must not reveal what is behind the links.
    r = requests.get(server.proxy(), params={"path": "0"})
    assert r.status_code < 500
    assert "secret.txt" not in r.text


def test_deleting_a_symlink_never_deletes_its_target(server, links):
    before = outside_state(links)
    for path in ["0/evil", "7", "0/link.txt", "0"]:
        r = requests.delete(server.proxy(path))
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        assert outside_state(links) == before, path
    assert Path("/etc/passwd").exists()


def test_symlinks_inside_a_run_are_not_followed(server, tmp_path):
    client = MlflowClient(server.url)
    rid = client.create_run("0").info.run_id
    client.log_text(rid, "fine", "ok.txt")
    outside = tmp_path / "outside-run"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret outside the root")
    run_root = server.artifact_root / "0" / rid / "artifacts"
    os.symlink(outside, run_root / "evil")
    os.symlink(outside / "secret.txt", run_root / "leak.txt")
    for path in ["evil", "evil/secret.txt", "leak.txt"]:
        r = requests.get(server.api("artifacts/list"), params={"run_id": rid, "path": path})
        assert 400 <= r.status_code < 500 or r.json().get("files", []) == [], (path, r.status_code, r.text[:300])
        assert "secret" not in r.text
    for path in ["evil/secret.txt", "leak.txt"]:
        r = requests.get(server.url + "/get-artifact", params={"run_id": rid, "path": path})
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert b"secret outside the root" not in r.content
        r = requests.post(server.url + "/ajax-api/2.0/mlflow/upload-artifact", params={"run_uuid": rid, "path": path}, data=b"overwrite")
        assert 400 <= r.status_code < 500, (path, r.status_code)
    assert (outside / "secret.txt").read_bytes() == b"secret outside the root"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    # The regular file is still served.
    assert requests.get(server.url + "/get-artifact", params={"run_id": rid, "path": "ok.txt"}).content == b"fine"
