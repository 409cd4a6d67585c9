"""Authentication on (`ensemble serve --auth required`) with the real mlflow client.

Users and tokens are made with `ensemble admin` on the data folder, as an operator would: an
admin `root`, a member `mia` and a viewer `vic`, each with a password and a token.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import requests

from _server import Server, ensemble_binary, free_port, store_args

PASSWORD = "correct horse battery staple"


def admin(data_dir, *args, stdin: str | None = None) -> str:
    out = subprocess.run(
        [ensemble_binary(), "admin", *args, *store_args(data_dir)],
        input=stdin, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, f"ensemble admin {' '.join(args)} failed: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    data = tmp / "data"
    tokens = {}
    for name, role in [("root", "admin"), ("mia", "member"), ("max", "member"), ("vic", "viewer")]:
        admin(data, "create-user", name, "--email", f"{name}@example.com", "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
        tokens[name] = json.loads(admin(data, "create-token", name, "--name", "tests", "--json"))["token"]
    srv = Server(data, tmp / "server.log", extra_args=["--auth", "required"]).start()
    srv.tokens = tokens
    yield srv
    srv.stop()


@pytest.fixture
def as_user(auth_server, monkeypatch):
    """Points the mlflow client at the server with a user's token (or Basic credentials)."""
    import mlflow

    def use(name: str | None, basic: bool = False):
        for var in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            monkeypatch.delenv(var, raising=False)
        if name and basic:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
        elif name:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", auth_server.tokens[name])
        monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server.url)
        mlflow.set_tracking_uri(auth_server.url)
        return mlflow.MlflowClient(auth_server.url)

    return use


def audit(srv, **params):
    r = requests.get(srv.url + "/api/v1/audit", params={"limit": 1000, **params}, headers={"Authorization": f"Bearer {srv.tokens['root']}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["events"]


def requests_in(entries) -> int:
    """How many requests audit entries stand for: a summary says "first of N such requests in this
    minute"; any other entry is one."""
    total = 0
    for e in entries:
        words = e["detail"].split()
        total += int(words[2]) if e["detail"].startswith("first of ") else 1
    return total


def test_tracking_and_registry_with_a_token(auth_server, as_user, tmp_path):
    import mlflow

    client = as_user("mia")
    mlflow.set_experiment("auth-token-scenario")
    with mlflow.start_run() as run:
        mlflow.log_params({f"model.decoder.block.{i}.dropout": 0.1 for i in range(20)})
        for step in range(10):
            mlflow.log_metric("train/loss", 1.0 / (step + 1), step=step)
        (tmp_path / "notes.txt").write_text("hello")
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
    client.create_registered_model("auth-model")
    version = client.create_model_version("auth-model", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("auth-model", "champion", version.version)
    assert client.get_model_version_by_alias("auth-model", "champion").version == version.version
    got = client.get_run(run.info.run_id)
    assert got.data.metrics["train/loss"] == pytest.approx(0.1)
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["notes.txt"]

    # Every one of those writes is in the audit log, as mia; the metric points as a count per minute.
    events = audit(auth_server, actor="mia")
    metric_writes = [e for e in events if e["action"].endswith("/runs/log-metric") and e["status"] == 200]
    assert requests_in(metric_writes) == 10 and len(metric_writes) <= 2
    assert any(e["action"].endswith("/registered-models/alias") for e in events)
    assert all(e["actor"] == "mia" for e in events)
    # The registry history names the verified user.
    history = requests.get(auth_server.url + "/api/v1/models/auth-model/history", headers={"Authorization": f"Bearer {auth_server.tokens['vic']}"}, timeout=10).json()
    assert any(e.get("actor") == "mia" for e in history["events"]), history


def test_basic_auth_with_the_mlflow_client(auth_server, as_user):
    import mlflow

    as_user("mia", basic=True)
    mlflow.set_experiment("auth-basic-scenario")
    started = time.time()
    with mlflow.start_run():
        for step in range(50):
            mlflow.log_metric("loss", step, step=step)
    # bcrypt runs once; 50 more checks at ~0.25 s+ each would take far longer than this.
    assert time.time() - started < 10


def test_anonymous_and_wrong_credentials_get_a_401_that_says_how(auth_server, as_user):
    from mlflow.exceptions import MlflowException

    client = as_user(None)
    with pytest.raises(MlflowException) as err:
        client.search_experiments()
    assert "401" in str(err.value) or "UNAUTHENTICATED" in str(err.value)

    r = requests.get(auth_server.api("experiments/search?max_results=1"), timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith('Basic realm="Ensemble"')
    assert r.json()["error_code"] == "UNAUTHENTICATED" and "MLFLOW_TRACKING_TOKEN" in r.json()["message"]

    r = requests.get(auth_server.api("experiments/search?max_results=1"), auth=("mia", "not the password"), timeout=10)
    assert r.status_code == 401
    # Health stays open for load balancers.
    assert requests.get(auth_server.url + "/health", timeout=5).text == "OK"


def test_a_viewer_reads_but_cannot_write(auth_server, as_user):
    from mlflow.exceptions import MlflowException

    as_user("mia").create_experiment("made-by-mia")
    viewer = as_user("vic")
    assert viewer.get_experiment_by_name("made-by-mia") is not None
    with pytest.raises(MlflowException) as err:
        viewer.create_experiment("made-by-vic")
    assert "PERMISSION_DENIED" in str(err.value)
    r = requests.get(auth_server.url + "/api/v1/audit", headers={"Authorization": f"Bearer {auth_server.tokens['mia']}"}, timeout=10)
    assert r.status_code == 403


def test_direct_multipart_uploads_need_the_right_to_write_like_any_upload(auth_server):
    url = auth_server.url + "/api/2.0/mlflow-artifacts/mpu/create/0/r/artifacts"
    body = {"path": "model.bin", "num_parts": 2}
    assert requests.post(url, json=body, timeout=10).status_code == 401
    viewer = requests.post(url, json=body, headers={"Authorization": f"Bearer {auth_server.tokens['vic']}"}, timeout=10)
    assert viewer.status_code == 403, viewer.text
    # A member gets past the check; this server has no direct uploads, so the client is told to fall back.
    member = requests.post(url, json=body, headers={"Authorization": f"Bearer {auth_server.tokens['mia']}"}, timeout=10)
    assert member.status_code == 501 and member.json()["message"].startswith("Multipart upload is not supported"), member.text


def test_tokens_self_service_and_revocation(auth_server):
    h = {"Authorization": f"Bearer {auth_server.tokens['mia']}"}
    me = requests.get(auth_server.url + "/api/v1/me", headers=h, timeout=10).json()
    assert me["mode"] == "required" and me["user"]["name"] == "mia" and me["via"] == "token"
    made = requests.post(auth_server.url + "/api/v1/me/tokens", json={"name": "laptop", "expires_in": "90d"}, headers=h, timeout=10)
    assert made.status_code == 201, made.text
    secret = made.json()["token"]
    assert secret.startswith("ens_") and made.json()["info"]["expires_at"] is not None
    listed = requests.get(auth_server.url + "/api/v1/me/tokens", headers=h, timeout=10).json()["tokens"]
    assert secret not in json.dumps(listed) and any(t["name"] == "laptop" for t in listed)
    new = {"Authorization": f"Bearer {secret}"}
    for _ in range(3):
        assert requests.get(auth_server.url + "/api/v1/me", headers=new, timeout=10).status_code == 200
    token_id = made.json()["info"]["id"]
    assert requests.delete(f"{auth_server.url}/api/v1/me/tokens/{token_id}", headers=h, timeout=10).status_code == 200
    assert requests.get(auth_server.url + "/api/v1/me", headers=new, timeout=10).status_code == 401
    for action in ("token.created", "token.revoked"):
        assert [e["target"] for e in audit(auth_server, action=action)].count(f"token {token_id} of mia") == 1
    # Used twice before its revocation, and through a cached copy: one first use.
    assert [e["target"] for e in audit(auth_server, action="token.first_used")].count(f"token {token_id}") == 1


def test_a_training_loops_tracking_writes_are_summarised_in_the_audit_log(auth_server, monkeypatch):
    """Hundreds of log-metric calls are a few entries (one per minute), each saying how many it
    stands for; a refused write keeps an entry of its own; the run's creation is an entry as before."""
    import mlflow
    from mlflow.exceptions import MlflowException

    admin(auth_server.data_dir, "create-user", "trainer-7", "--service-account", "--role", "member")
    token = json.loads(admin(auth_server.data_dir, "create-token", "trainer-7", "--json"))["token"]
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = mlflow.MlflowClient(auth_server.url)
    run = client.create_run(client.create_experiment("audit-summaries"))
    for step in range(300):
        client.log_metric(run.info.run_id, "train/loss", 1.0 / (step + 1), step=step)
    client.log_batch(run.info.run_id, params=[mlflow.entities.Param(f"model.layer.{i}.dropout", "0.1") for i in range(50)])
    with pytest.raises(MlflowException):
        client.log_metric("0" * 32, "train/loss", 1.0)  # no such run: refused, recorded on its own

    logged = audit(auth_server, actor="trainer-7", action="POST /api/2.0/mlflow/runs/log-metric")
    ok = [e for e in logged if e["status"] == 200]
    assert 1 <= len(ok) <= 2, ok  # one minute, or two if the loop crossed a minute
    assert requests_in(ok) == 300 and any(e["detail"].endswith("such requests in this minute") for e in ok)
    assert [e["status"] for e in logged if e["status"] != 200] == [404]
    assert len(audit(auth_server, actor="trainer-7", action="POST /api/2.0/mlflow/runs/log-batch")) == 1
    assert len(audit(auth_server, actor="trainer-7", action="POST /api/2.0/mlflow/runs/create")) == 1


def test_a_reachable_address_without_auth_refuses_to_start(tmp_path):
    out = subprocess.run(
        [ensemble_binary(), "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "--auth required" in out.stderr and "ensemble admin create-user" in out.stderr


def test_admin_cli_lists_users_and_the_audit_trail(auth_server):
    users = admin(auth_server.data_dir, "users")
    assert "root" in users and "admin" in users and "vic" in users
    lines = [json.loads(line) for line in admin(auth_server.data_dir, "audit", "--action", "user.created", "--json").splitlines()]
    assert {line["target"] for line in lines} >= {"user root", "user mia", "user vic"}
    bad = subprocess.run([ensemble_binary(), "admin", "create-user", "x", "--password-stdin", *store_args(auth_server.data_dir)],
                         input="short\n", capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "at least 12 characters" in bad.stderr


def test_a_member_cannot_delete_another_members_experiment_or_promote_their_model(auth_server, as_user):
    from mlflow.exceptions import MlflowException

    mia = as_user("mia")
    exp = mia.create_experiment("mias-experiment")
    run = mia.create_run(exp)
    mia.create_registered_model("mias-model")
    mia.create_model_version("mias-model", "s3://bucket/model", run.info.run_id)

    max_ = as_user("max")
    max_.log_metric(run.info.run_id, "shared", 1.0)  # members edit each other's work by default
    with pytest.raises(MlflowException) as err:
        max_.delete_experiment(exp)
    assert "PERMISSION_DENIED" in str(err.value) and "MANAGE" in str(err.value)
    with pytest.raises(MlflowException):
        max_.transition_model_version_stage("mias-model", "1", "Production")
    with pytest.raises(MlflowException):
        max_.set_registered_model_alias("mias-model", "champion", "1")
    max_.set_registered_model_alias("mias-model", "candidate", "1")

    # The owner shares MANAGE the way the MLflow auth client does (POST users/permissions/grant).
    h = {"Authorization": f"Bearer {auth_server.tokens['mia']}"}
    r = requests.post(auth_server.url + "/api/3.0/mlflow/users/permissions/grant", headers=h, timeout=10,
                      json={"username": "max", "resource_type": "registered_model", "resource_id": "mias-model", "permission": "MANAGE"})
    assert r.status_code == 200, r.text
    as_user("max").transition_model_version_stage("mias-model", "1", "Production")
    got = requests.get(auth_server.url + "/api/3.0/mlflow/users/permissions/get", headers=h, timeout=10,
                       params={"username": "max", "resource_type": "registered_model", "resource_id": "mias-model"}).json()
    assert got == {"allowed": True, "permission": "MANAGE"}


def test_the_mlflow_auth_api_manages_users(auth_server):
    """The calls `mlflow.server.get_app_client("basic-auth", ...)` makes, with its payloads."""
    admin_h = {"Authorization": f"Bearer {auth_server.tokens['root']}"}
    api = auth_server.url + "/api/2.0/mlflow/users"
    r = requests.post(api + "/create", json={"username": "newbie", "password": "a long enough password"}, headers=admin_h, timeout=30)
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["username"] == "newbie" and user["is_admin"] is False and isinstance(user["id"], int)
    assert requests.get(api + "/get", params={"username": "newbie"}, headers=admin_h, timeout=10).json()["user"]["username"] == "newbie"
    assert requests.patch(api + "/update-admin", json={"username": "newbie", "is_admin": True}, headers=admin_h, timeout=10).status_code == 200
    assert requests.get(api + "/get", params={"username": "newbie"}, headers=admin_h, timeout=10).json()["user"]["is_admin"] is True
    # The user changes their own password with the current one; Basic auth then needs the new one.
    r = requests.patch(api + "/update-password", auth=("newbie", "a long enough password"), timeout=30,
                       json={"username": "newbie", "password": "an even longer password", "current_password": "a long enough password"})
    assert r.status_code == 200, r.text
    assert requests.get(auth_server.url + "/api/v1/me", auth=("newbie", "an even longer password"), timeout=30).status_code == 200
    assert requests.get(auth_server.url + "/api/v1/me", auth=("newbie", "a long enough password"), timeout=30).status_code == 401
    # A member cannot create users; an admin deletes them.
    mia_h = {"Authorization": f"Bearer {auth_server.tokens['mia']}"}
    assert requests.post(api + "/create", json={"username": "x", "password": "a long enough password"}, headers=mia_h, timeout=10).status_code == 403
    assert requests.delete(api + "/delete", json={"username": "newbie"}, headers=admin_h, timeout=10).status_code == 200
    assert requests.get(api + "/get", params={"username": "newbie"}, headers=admin_h, timeout=10).status_code == 404


def test_cli_login_saves_a_private_token_that_later_commands_send(auth_server, tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "ENSEMBLE_SERVER": auth_server.url}
    out = subprocess.run([ensemble_binary(), "login", "--user", "mia", "--password-stdin", "--json"], input=PASSWORD + "\n",
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["user"] == "mia"
    creds = tmp_path / ".config" / "ensemble" / "credentials.json"
    assert oct(creds.stat().st_mode & 0o777) == "0o600"
    listed = subprocess.run([ensemble_binary(), "team", "list"], capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    subprocess.run([ensemble_binary(), "logout"], capture_output=True, text=True, timeout=60, env=env, check=True)
    refused = subprocess.run([ensemble_binary(), "team", "list"], capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode != 0 and "ensemble login" in refused.stderr


def test_auth_on_with_no_user_yet_says_how_to_make_the_first_admin(tmp_path):
    srv = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--auth", "required"]).start()
    try:
        deadline = time.time() + 10
        while "ensemble admin create-user" not in srv.log_tail() and time.time() < deadline:
            time.sleep(0.1)
        assert "ensemble admin create-user" in srv.log_tail()
        # No credential exists that nobody made: everything but health asks for one.
        assert requests.get(srv.url + "/api/v1/me", timeout=10).status_code == 401
        assert requests.get(srv.url + "/api/v1/me", auth=("admin", "password1234"), timeout=10).status_code == 401
    finally:
        srv.stop()


def test_cli_audit_reads_a_servers_log_with_an_admin_token(auth_server):
    def audit_cli(user, *args):
        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "ENSEMBLE_SERVER": auth_server.url, "ENSEMBLE_TOKEN": auth_server.tokens[user]}
        return subprocess.run([ensemble_binary(), "audit", *args], capture_output=True, text=True, timeout=60, env=env)

    out = audit_cli("root", "--action", "user.created", "--json", "--limit", "100")
    assert out.returncode == 0, out.stderr
    targets = {json.loads(line)["target"] for line in out.stdout.splitlines()}
    assert {"user root", "user mia", "user vic"} <= targets
    refused = audit_cli("mia", "--limit", "5")
    assert refused.returncode != 0 and "admin" in refused.stderr
