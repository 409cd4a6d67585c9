"""`ensemble migrate-store`: an embedded store full of demo data moved to PostgreSQL, every entity equal.

The demo team (people, projects in every stage, a 48-run sweep with long names, a registered model, a
handoff, a gate result), MLflow client runs with an artifact and a registered version, a user with a
token, a stored dataset and a deployment are written to a SQLite server. After the migration a server on
PostgreSQL (same data folder, for the files) answers every read exactly as the SQLite one did, the old
token still works, and new writes get new ids. `ensemble migrate-files` then moves the files into a
bucket (moto's S3), and a server on PostgreSQL and the bucket with an empty data folder answers the
same and serves the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import mlflow
import requests
from mlflow import MlflowClient

import _postgres
import _s3
from _server import Server, ensemble_binary

PASSWORD = "correct horse battery staple"


def run(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ensemble_binary(), *args], capture_output=True, text=True, timeout=600, env=env, input=stdin)


def snapshot(url: str, token: str) -> dict:
    """Every read a user of the store would make, as JSON."""
    h = {"Authorization": f"Bearer {token}"}

    def get(path, **params):
        r = requests.get(url + path, params=params, headers=h, timeout=60)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:300]}"
        return r.json()

    def post(path, body):
        r = requests.post(url + path, json=body, headers=h, timeout=60)
        assert r.status_code == 200, f"POST {path}: {r.status_code} {r.text[:300]}"
        return r.json()

    out: dict = {}
    experiments = post("/api/2.0/mlflow/experiments/search", {"max_results": 1000, "view_type": "ALL"})["experiments"]
    out["experiments"] = experiments
    ids = [e["experiment_id"] for e in experiments]
    runs, token_ = [], None
    while True:
        page = post("/api/2.0/mlflow/runs/search", {"experiment_ids": ids, "max_results": 200, "run_view_type": "ALL",
                                                     **({"page_token": token_} if token_ else {})})
        runs += page.get("runs", [])
        token_ = page.get("next_page_token")
        if not token_:
            break
    out["runs"] = runs
    out["histories"] = {
        f"{r['info']['run_id']}/{m['key']}": get("/api/2.0/mlflow/metrics/get-history", run_id=r["info"]["run_id"], metric_key=m["key"],
                                                  max_results=100000).get("metrics", [])
        for r in runs[:60] for m in r["data"].get("metrics", [])[:5]
    }
    out["models"] = get("/api/2.0/mlflow/registered-models/search", max_results=1000)
    out["versions"] = get("/api/2.0/mlflow/model-versions/search", max_results=1000)
    out["logged_models"] = post("/api/2.0/mlflow/logged-models/search", {"experiment_ids": ids, "max_results": 100})
    for name in [m["name"] for m in out["models"].get("registered_models", [])]:
        out[f"history/{name}"] = get(f"/api/v1/models/{name}/history")
    out["datasets"] = get("/api/v1/datasets")
    out["roles"] = get("/api/v1/roles")
    out["people"] = get("/api/v1/people")
    out["projects"] = get("/api/v1/projects")
    for p in out["projects"].get("projects", []):
        out[f"updates/{p['id']}"] = get(f"/api/v1/projects/{p['id']}/updates")
    out["handoffs"] = get("/api/v1/handoffs")
    out["deployments"] = get("/api/v1/deployments")
    out["environments"] = get("/api/v1/environments")
    out["users"] = get("/api/v1/users")
    out["stored"] = get("/api/v1/datasets/migration-set/versions/1")
    return out


def test_sqlite_with_demo_data_to_postgresql_every_entity_equal(tmp_path):
    data = tmp_path / "data"
    created = run("admin", "create-user", "ana", "--email", "ana@example.com", "--role", "admin", "--password-stdin", "--data", str(data),
                  stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    token = json.loads(run("admin", "create-token", "ana", "--name", "migration", "--json", "--data", str(data)).stdout)["token"]
    # Single-user (the demo hands work to people without accounts), and SQLite whatever the suite's
    # backend: it is the source. The account and its token move with the rest.
    sqlite = Server(data, tmp_path / "sqlite.log", extra_args=["--database", ""] if _postgres.enabled() else [])
    sqlite.start()
    env = dict(os.environ, ENSEMBLE_SERVER=sqlite.url, ENSEMBLE_TOKEN=token, MLFLOW_TRACKING_TOKEN=token)
    demo = run("demo", env=env)
    assert demo.returncode == 0, demo.stderr
    mlflow.set_tracking_uri(sqlite.url)
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    try:
        client = MlflowClient(sqlite.url)
        with mlflow.start_run(experiment_id=client.create_experiment("ünïcode · migration")) as r:
            mlflow.log_params({f"optimizer.adam.beta{i}": str(0.9 + i / 1000) for i in range(120)})
            mlflow.log_metric("nan.metric", float("nan"), step=0)
            mlflow.log_metric("inf.metric", float("inf"), step=0)
            for step in range(300):
                mlflow.log_metric("system/gpu_0_utilization_percentage", step % 100, step=step)
            (tmp_path / "notes.txt").write_text("hello")
            mlflow.log_artifact(str(tmp_path / "notes.txt"))
        v = client.create_model_version(client.create_registered_model("migrated-model").name, f"runs:/{r.info.run_id}/model", run_id=r.info.run_id)
        client.set_registered_model_alias("migrated-model", "champion", v.version)
        client.delete_run(client.create_run("0").info.run_id)  # a deleted run moves too
        dataset = tmp_path / "ds"
        dataset.mkdir()
        (dataset / "a.csv").write_text("x,y\n1,2\n")
        added = run("dataset", "add", "migration-set", str(dataset), env=env)
        assert added.returncode == 0, added.stderr
        before = snapshot(sqlite.url, token)
    finally:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    sqlite.stop()
    assert len(before["runs"]) >= 50 and before["projects"].get("projects")

    target = _postgres.new_database()
    moved = run("migrate-store", "--from", f"sqlite:{data / 'ensemble.sqlite'}", "--to", target, "--json", "--batch", "97")
    assert moved.returncode == 0, moved.stderr
    summary = json.loads(moved.stdout)
    assert summary["verified"] is True
    tables = {t["table"]: t["rows"] for t in summary["tables"]}
    assert tables["runs"] == len(before["runs"]) and tables["metrics"] > 1000 and tables["users"] == 1

    # A second migration into the now full database is refused, and changes nothing.
    again = run("migrate-store", "--from", str(data), "--to", target)
    assert again.returncode != 0 and "already holds" in again.stderr

    pg = Server(data, tmp_path / "pg.log", extra_args=["--auth", "required", "--database", target]).start()
    try:
        after = snapshot(pg.url, token)
        for key in before:
            assert after[key] == before[key], f"{key} differs after the migration"
        # New writes get fresh ids and numbers.
        h = {"Authorization": f"Bearer {token}"}
        e = requests.post(pg.api("experiments/create"), json={"name": "after migration"}, headers=h).json()["experiment_id"]
        assert e not in {x["experiment_id"] for x in before["experiments"]}
        made = requests.post(pg.api("model-versions/create"), json={"name": "migrated-model", "source": f"runs:/{r.info.run_id}/model",
                                                                     "run_id": r.info.run_id}, headers=h)
        assert made.status_code == 200, made.text
        v2 = made.json()["model_version"]
        assert int(v2["version"]) == int(v.version) + 1
        assert requests.get(pg.url + "/api/v1/me", headers=h).json()["user"]["name"] == "ana"
        # The artifact is still served from the data folder.
        got = requests.get(pg.url + f"/get-artifact?path=notes.txt&run_id={r.info.run_id}", headers=h)
        assert got.status_code == 200 and got.text == "hello"
        settled = snapshot(pg.url, token)
    finally:
        pg.stop()

    # Then the files, into a bucket: a server on PostgreSQL and the bucket, with an empty data folder
    # of its own, answers every read as the first did and serves the same bytes.
    bucket = f"s3://{_s3.new_bucket()}/ensemble"
    copied = run("migrate-files", "--from", str(data), "--to", bucket, "--json")
    assert copied.returncode == 0, copied.stderr
    report = json.loads(copied.stdout)["report"]
    stored_files = [p for p in (data / "artifacts").rglob("*") if p.is_file()]
    assert report["verified"] is True and report["artifacts"] == len(stored_files) and report["blobs"] >= 1
    assert report["alreadyThere"] == 0
    refused = run("migrate-files", "--from", str(data), "--to", bucket)
    assert refused.returncode != 0 and "--resume" in refused.stderr
    resumed = run("migrate-files", "--from", str(data), "--to", bucket, "--resume", "--quiet")
    assert resumed.returncode == 0 and "every object read back and verified" in resumed.stdout
    s3 = Server(tmp_path / "fresh", tmp_path / "s3.log", extra_args=["--auth", "required", "--database", target, "--artifacts", bucket]).start()
    try:
        h = {"Authorization": f"Bearer {token}"}
        after = snapshot(s3.url, token)
        for key in settled:
            assert after[key] == settled[key], f"{key} differs after moving the files"
        got = requests.get(s3.url + f"/get-artifact?path=notes.txt&run_id={r.info.run_id}", headers=h)
        assert got.status_code == 200 and got.text == "hello"
        for path in stored_files:
            rel = path.relative_to(data / "artifacts")
            assert requests.get(s3.proxy(str(rel)), headers=h).content == path.read_bytes()
        sha = hashlib.sha256(b"x,y\n1,2\n").hexdigest()
        assert requests.get(f"{s3.url}/api/v1/blobs/{sha}", headers=h).content == b"x,y\n1,2\n"
        assert not (tmp_path / "fresh" / "artifacts").exists() or not any((tmp_path / "fresh" / "artifacts").rglob("*.*"))
    finally:
        s3.stop()


def test_bad_sources_and_targets_are_clear_errors(tmp_path):
    nowhere = run("migrate-store", "--from", f"sqlite:{tmp_path / 'none.sqlite'}", "--to", "postgresql://u@127.0.0.1:1/x")
    assert nowhere.returncode != 0 and "No SQLite store" in nowhere.stderr
    (tmp_path / "data").mkdir()
    bad_url = run("migrate-store", "--from", str(tmp_path / "data"), "--to", "mysql://x")
    assert bad_url.returncode != 0 and "No SQLite store" in bad_url.stderr
    Server(tmp_path / "data", tmp_path / "s.log", extra_args=["--database", ""] if _postgres.enabled() else []).start().stop()
    wrong = run("migrate-store", "--from", str(tmp_path / "data"), "--to", "mysql://x")
    assert wrong.returncode != 0 and "not a PostgreSQL URL" in wrong.stderr
