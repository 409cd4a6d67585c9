"""Two Ensemble servers on one PostgreSQL database and one S3 bucket (moto), each with its own data
folder, behind nginx (Debian's).

What a team gets from `docs/DEPLOYMENT.md`'s load-balanced setup: the MLflow client works through the
balancer, and a file uploaded through one server downloads from the other; failed sign-ins through one
server throttle the others; 32 concurrent writers spread over both servers lose no acknowledged point; killing one
server with SIGKILL in the middle of the load loses nothing that was acknowledged; a browser session
and a search page token made on one server work on the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient

import _postgres
import _s3
from _server import Server, ensemble_binary, free_port

PASSWORD = "correct horse battery staple"
WRITERS = 32
T0 = 1_700_000_000_000


def documented_site(upstream_ports: list[int], port: int) -> str:
    """The nginx site of docs/DEPLOYMENT.md as it is written there, on this test's ports: the test
    runs what the document tells a team to run, and the two cannot drift apart."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "DEPLOYMENT.md").read_text()
    site = re.search(r"```nginx\n(.*?)```", doc, re.S).group(1)
    documented = re.findall(r"server 127\.0\.0\.1:(\d+)", site)
    assert len(documented) == len(upstream_ports), f"DEPLOYMENT.md's upstream names {documented}"
    ports = iter(upstream_ports)
    site = re.sub(r"server 127\.0\.0\.1:\d+", lambda _: f"server 127.0.0.1:{next(ports)}", site)
    site, listens = re.subn(r"listen 80;", f"listen 127.0.0.1:{port};", site)
    assert listens == 1, "DEPLOYMENT.md's site listens on port 80 once"
    return site


class Nginx:
    """nginx in the foreground with its own prefix folder, round-robin over the given ports."""

    def __init__(self, folder: Path, upstream_ports: list[int]):
        self.folder = folder
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        user = "user root;" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{documented_site(upstream_ports, self.port)}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(nginx, os.X_OK):
            pytest.fail("nginx is not installed: install Debian's nginx-light (scripts/test does).")
        self.process = subprocess.Popen(
            [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(folder / "stderr.log", "wb"), stdin=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"nginx did not start: {(folder / 'stderr.log').read_text(errors='replace')[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def admin(database: str, data: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run([ensemble_binary(), "admin", *args, "--data", str(data), "--database", database],
                         input=stdin, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"ensemble admin {' '.join(args)} failed: {out.stderr}"
    return out.stdout


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Two servers (auth required) on one new database and one bucket, each with a data folder of its
    own (nothing is shared through a disk), and nginx before them."""
    database = _postgres.new_database()
    bucket = f"s3://{_s3.new_bucket()}/cluster"
    data = tmp_path / "data"
    admin(database, data, "create-user", "ana", "--email", "ana@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    token = json.loads(admin(database, data, "create-token", "ana", "--name", "cluster", "--json"))["token"]
    args = ["--database", database, "--artifacts", bucket, "--auth", "required"]
    servers = [Server(tmp_path / f"data{i}", tmp_path / f"server{i}.log", extra_args=args).start() for i in range(2)]
    nginx = Nginx(tmp_path / "nginx", [s.port for s in servers])
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", nginx.url)
    mlflow.set_tracking_uri(nginx.url)
    yield {"servers": servers, "nginx": nginx, "token": token, "data": data}
    nginx.stop()
    for s in servers:
        s.stop()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_the_mlflow_client_through_the_balancer(cluster, tmp_path):
    client = MlflowClient(cluster["nginx"].url)
    experiment = client.create_experiment("two servers")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_params({f"layer.{i}.units": str(64 * i) for i in range(50)})
        for step in range(100):
            mlflow.log_metrics({"train.loss": 1 / (step + 1), "val.loss": 2 / (step + 1)}, step=step)
        payload = tmp_path / "weights.bin"
        payload.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
        mlflow.log_artifact(str(payload), "model")
    rid = run.info.run_id
    # Every read goes through the balancer, so each lands on either server.
    for _ in range(6):
        got = client.get_run(rid)
        assert len(got.data.params) == 50 and got.data.metrics["train.loss"] == 1 / 100
    history = client.get_metric_history(rid, "val.loss")
    assert [m.step for m in history] == list(range(100))
    back = Path(client.download_artifacts(rid, "model/weights.bin", str(tmp_path / "back")))
    assert back.read_bytes() == payload.read_bytes()
    # The file is in the bucket, and each server serves it, whichever one received it.
    headers = auth(cluster["token"])
    for server in cluster["servers"]:
        r = requests.get(server.proxy(f"{experiment}/{rid}/artifacts/model/weights.bin"), headers=headers, timeout=60)
        assert r.status_code == 200 and r.content == payload.read_bytes()
        assert not list((server.data_dir / "artifacts").rglob("*.bin"))
    assert cluster["servers"][0].artifact_files(f"{experiment}/{rid}/artifacts") == {"model/weights.bin": payload.read_bytes()}
    # So does a stored dataset's content: uploaded through one server, read through the other.
    blob = os.urandom(6 * 1024 * 1024 + 1)
    sha = hashlib.sha256(blob).hexdigest()
    a, b = cluster["servers"]
    assert requests.put(f"{a.url}/api/v1/blobs/{sha}", data=blob, headers=headers, timeout=60).status_code == 201
    assert requests.get(f"{b.url}/api/v1/blobs/{sha}", headers=headers, timeout=60).content == blob
    client.create_registered_model("churn")
    v = client.create_model_version("churn", f"runs:/{rid}/model", run_id=rid)
    client.set_registered_model_alias("churn", "champion", v.version)
    for _ in range(4):
        assert client.get_model_version_by_alias("churn", "champion").run_id == rid
    assert [r.info.run_id for r in client.search_runs([experiment], "metrics.`val.loss` < 0.1")] == [rid]


def _load(url_for, token: str, runs: list[str], duration_s: float, kill=None, acked_out: list | None = None):
    """32 writers, each on its own run, logging batches until the deadline. Returns what each writer
    had acknowledged (step lists, filled into `acked_out` as it goes) and the failures seen (a
    failed batch is sent again until it is acknowledged)."""
    acked = acked_out if acked_out is not None else []
    acked.extend([] for _ in range(WRITERS))
    failures: list[str] = []
    start = threading.Event()
    deadline = [0.0]

    def writer(w: int) -> None:
        session = requests.Session()
        session.headers.update(auth(token))
        step = 0
        start.wait()
        while time.time() < deadline[0]:
            steps = list(range(step, step + 10))
            body = {"run_id": runs[w], "metrics": [{"key": "load", "value": float(s), "timestamp": T0 + s, "step": s} for s in steps]}
            try:
                r = session.post(url_for(w) + "/api/2.0/mlflow/runs/log-batch", json=body, timeout=30)
                if r.status_code == 200:
                    acked[w].extend(steps)
                    step += 10
                else:
                    failures.append(f"{r.status_code} {r.text[:120]}")
            except requests.RequestException as e:
                failures.append(repr(e)[:160])
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    deadline[0] = time.time() + duration_s
    start.set()
    if kill:
        time.sleep(duration_s / 3)
        kill()
    for t in threads:
        t.join(timeout=duration_s + 120)
    return acked, failures


def _check_all_present(base: str, token: str, runs: list[str], acked: list[list[int]]) -> None:
    for w, rid in enumerate(runs):
        got = requests.get(base + "/api/2.0/mlflow/metrics/get-history", params={"run_id": rid, "metric_key": "load"},
                           headers=auth(token), timeout=60).json().get("metrics", [])
        stored = {int(m["step"]) for m in got}
        missing = set(acked[w]) - stored
        assert not missing, f"writer {w}: {len(missing)} acknowledged points lost, e.g. {sorted(missing)[:5]}"


def test_32_writers_across_both_servers_lose_nothing(cluster):
    token, servers = cluster["token"], cluster["servers"]
    runs = [requests.post(servers[w % 2].api("runs/create"), json={"experiment_id": "0"}, headers=auth(token)).json()["run"]["info"]["run_id"]
            for w in range(WRITERS)]
    # Half the writers on each server directly, the runs created on the other one.
    acked, failures = _load(lambda w: servers[(w + 1) % 2].url, token, runs, duration_s=6.0)
    assert not failures, f"{len(failures)} failed requests with both servers up, e.g. {failures[:3]}"
    assert sum(len(a) for a in acked) > 0
    _check_all_present(servers[0].url, token, runs, acked)
    _check_all_present(servers[1].url, token, runs, acked)


def test_sigkill_of_one_server_mid_load_loses_no_acknowledged_write(cluster):
    token, servers, nginx = cluster["token"], cluster["servers"], cluster["nginx"]
    runs = [requests.post(nginx.url + "/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}, headers=auth(token)).json()["run"]["info"]["run_id"]
            for _ in range(WRITERS)]
    killed = servers[0]
    codes: list = []
    acked_at_kill: list = []
    acked: list[list[int]] = []

    def kill() -> None:
        acked_at_kill.append(sum(len(a) for a in acked))
        codes.append(killed.stop(signal.SIGKILL))

    result, failures = _load(lambda w: nginx.url, token, runs, duration_s=9.0, kill=kill, acked_out=acked)
    assert result is acked
    assert codes == [-signal.SIGKILL], f"the first server died of SIGKILL mid-load, not {codes}"
    total = sum(len(a) for a in acked)
    assert acked_at_kill[0] > 0 and total > acked_at_kill[0], f"writes went on after the kill: {acked_at_kill[0]} then {total}"
    # Every point a writer was told was stored is there, read through the surviving server.
    _check_all_present(servers[1].url, token, runs, acked)
    # And the balancer keeps answering with one server gone.
    assert requests.get(nginx.url + "/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}, headers=auth(token)).status_code == 200


def test_a_session_and_a_page_token_made_on_one_server_work_on_the_other(cluster):
    token, (a, b) = cluster["token"], cluster["servers"]
    # Sign in on A with the form, as a browser does.
    browser = requests.Session()
    page = browser.get(a.url + "/signin")
    assert page.status_code == 200
    form = {"user": "ana", "password": PASSWORD, "next": "/account"}
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if csrf:
        form["csrf"] = csrf.group(1)
    signed = browser.post(a.url + "/signin", data=form, allow_redirects=False)
    assert signed.status_code in (302, 303), signed.text[:300]
    cookies = browser.cookies.get_dict()
    assert cookies, "the sign-in set a session cookie"
    # The same cookie on B: signed in there too (a stranger is sent to /signin).
    on_b = requests.get(b.url + "/account", cookies=cookies, allow_redirects=False)
    assert on_b.status_code == 200 and "ana" in on_b.text
    assert requests.get(b.url + "/account", allow_redirects=False).status_code in (302, 303)
    # Signing out on B ends the session on A as well.
    csrf_b = re.search(r'name="csrf" value="([^"]+)"', on_b.text)
    out = requests.post(b.url + "/signout", data={"csrf": csrf_b.group(1)} if csrf_b else {}, cookies=cookies, allow_redirects=False)
    assert out.status_code in (302, 303)
    assert requests.get(a.url + "/account", cookies=cookies, allow_redirects=False).status_code in (302, 303)

    # A page token from A continues the same search on B.
    headers = auth(token)
    for i in range(7):
        requests.post(a.url + "/api/2.0/mlflow/runs/create", json={"experiment_id": "0", "run_name": f"r{i}", "start_time": T0 + i}, headers=headers)
    search = {"experiment_ids": ["0"], "max_results": 3, "order_by": ["attributes.start_time DESC"]}
    first = requests.post(a.url + "/api/2.0/mlflow/runs/search", json=search, headers=headers).json()
    second_b = requests.post(b.url + "/api/2.0/mlflow/runs/search", json={**search, "page_token": first["next_page_token"]}, headers=headers).json()
    second_a = requests.post(a.url + "/api/2.0/mlflow/runs/search", json={**search, "page_token": first["next_page_token"]}, headers=headers).json()
    names = lambda page: [r["info"]["run_name"] for r in page["runs"]]  # noqa: E731
    assert names(first) == ["r6", "r5", "r4"]
    assert names(second_b) == names(second_a) == ["r3", "r2", "r1"]


def test_failed_sign_ins_through_one_server_throttle_the_others(cluster):
    """The throttle's counters are in the database: a guesser gains nothing by spreading attempts
    over the servers behind the balancer."""
    a, b = cluster["servers"]
    url = "/api/2.0/mlflow/experiments/search?max_results=1"
    for i in range(5):
        wrong = requests.get(a.url + url, auth=("ana", f"guess {i}"), timeout=30)
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    # The right password on the other server now waits its turn.
    right = requests.get(b.url + url, auth=("ana", PASSWORD), timeout=30)
    assert right.status_code == 401 and "Too many failed sign-ins" in right.text, right.text[:300]
    # Tokens are not passwords: they keep working everywhere.
    assert requests.get(b.url + url, headers=auth(cluster["token"]), timeout=30).status_code == 200
