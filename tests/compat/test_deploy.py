"""Deployment records from CI/CD with the `ensemble deploy` CLI and the API: environments, a canary,
the traffic cap, a rollback, what runs where, the model's history, the project's gate item and the pages."""

from __future__ import annotations

import json
import os
import subprocess

import requests

from _server import ensemble_binary


def cli(srv, *args, env_extra=None):
    env = dict(os.environ, ENSEMBLE_SERVER=srv.url, **(env_extra or {}))
    return subprocess.run([ensemble_binary(), *map(str, args)], capture_output=True, text=True, timeout=120, env=env)


def test_a_canary_a_rollback_and_what_runs_where(server):
    import mlflow

    client = mlflow.MlflowClient(server.url)
    client.create_registered_model("scorer")
    for _ in range(2):
        client.create_model_version("scorer", "s3://bucket/scorer")
    assert requests.post(server.url + "/api/v1/projects", json={"id": "scoring", "name": "Scoring"}, timeout=10).status_code == 201

    r = cli(server, "deploy", "env", "add", "production", "--kind", "online", "--url", "https://scoring.example.com", "--region", "eu-west-1")
    assert r.returncode == 0, r.stderr
    assert cli(server, "deploy", "env", "add", "Prod Env", "--kind", "online").returncode != 0
    assert cli(server, "deploy", "env", "add", "x", "--kind", "cloud").returncode != 0
    ci = {"GITHUB_SHA": "abc123def456", "GITHUB_REPOSITORY": "team/scoring", "GITHUB_RUN_ID": "77"}
    r = cli(server, "deploy", "record", "--model", "scorer", "--version", 1, "--env", "production", "--project", "scoring", env_extra=ci)
    assert r.returncode == 0 and "models:/scorer/1 is live in production with 100% of its traffic" in r.stdout, r.stdout + r.stderr
    first = requests.get(server.url + "/api/v1/deployments?model=scorer&version=1", timeout=10).json()["deployments"][0]
    assert first["history"][0]["commit"] == "abc123def456"
    assert first["history"][0]["pipeline_run"] == "https://github.com/team/scoring/actions/runs/77"

    # The canary does not fit until v1 gives up 10%; the error names who holds the traffic.
    r = cli(server, "deploy", "record", "--model", "scorer", "--version", 2, "--env", "production", "--traffic", 0.1)
    assert r.returncode == 1 and "would take 110%" in r.stderr and "models:/scorer/1 has 100%" in r.stderr, r.stderr
    assert cli(server, "deploy", "record", "--model", "scorer", "--version", 1, "--env", "production", "--traffic", 0.9).returncode == 0
    assert cli(server, "deploy", "record", "--model", "scorer", "--version", 2, "--env", "production", "--traffic", 0.1, "--project", "scoring").returncode == 0
    where = json.loads(cli(server, "deploy", "list", "--json").stdout)["deployments"]
    assert sorted((d["version"], d["traffic"]) for d in where) == [(1, 0.9), (2, 0.1)]

    r = cli(server, "deploy", "record", "--model", "scorer", "--version", 2, "--env", "production", "--status", "rolled_back", "--note", "p99 over budget")
    assert r.returncode == 0, r.stderr
    assert [d["version"] for d in json.loads(cli(server, "deploy", "list", "--json").stdout)["deployments"]] == [1]
    everything = json.loads(cli(server, "deploy", "list", "--all", "--json").stdout)["deployments"]
    rolled = next(d for d in everything if d["version"] == 2)
    assert rolled["status"] == "rolled_back" and rolled["traffic"] == 0 and rolled["history"][-1]["note"] == "p99 over budget"
    table = cli(server, "deploy", "list", "--all").stdout
    assert "rolled_back" in table and "abc123def456"[:12] in table

    history = requests.get(server.url + "/api/v1/models/scorer/history", timeout=10).json()["events"]
    assert [e["detail"] for e in history if e["kind"] == "deployment"][-1] == "production: rolled_back"
    project = requests.get(server.url + "/api/v1/projects/scoring", timeout=10).json()
    assert {"text": "model live in an environment (a recorded deployment)", "done": True} in project["checklists"]["deployment"]

    page = requests.get(server.url + "/deployments", timeout=10).text
    assert "What runs where" in page and "https://scoring.example.com" in page and "p99 over budget" in page and "90%" in page
    assert "production" in requests.get(server.url + "/models/scorer/versions/1", timeout=10).text
    assert "models:/scorer/2" in requests.get(server.url + "/projects/scoring", timeout=10).text


def test_bad_reports_get_clear_4xx(server):
    api = server.url + "/api/v1"
    assert requests.put(api + "/environments/prod", json={"kind": "online"}, timeout=10).status_code == 200
    for body, code, words in [
        ({"name": "nope", "version": 1, "environment": "prod"}, 404, "nope"),
        ({"name": "m", "version": 1, "environment": "prod", "traffic": -0.5}, 400, "traffic"),
        ({"name": "m", "version": 0, "environment": "prod"}, 400, "version"),
        ({"name": "m", "version": 1, "environment": "prod", "status": "paused"}, 400, "status"),
        ({"name": "m", "environment": "prod"}, 400, "version"),
    ]:
        r = requests.post(api + "/deployments", json=body, timeout=10)
        assert r.status_code == code and words in r.json()["message"], (body, r.status_code, r.text)
    assert requests.put(api + "/environments/prod", json={"kind": "cloud"}, timeout=10).status_code == 400
    assert requests.get(api + "/deployments/abc", timeout=10).status_code == 400
    assert requests.get(api + "/deployments/99", timeout=10).status_code == 404
    assert requests.get(api + "/deployments?version=zero", timeout=10).status_code == 400


def test_an_ab_analysis_kept_on_the_project_beside_its_business_metric(server, tmp_path):
    import mlflow
    import numpy as np

    client = mlflow.MlflowClient(server.url)
    client.create_registered_model("ranker")
    for _ in range(2):
        client.create_model_version("ranker", "s3://bucket/ranker")
    project = {"id": "search", "name": "Search", "business_metrics": [{"name": "conversion", "baseline": 0.10, "target": 0.11}]}
    assert requests.post(server.url + "/api/v1/projects", json=project, timeout=10).status_code == 201
    rng = np.random.default_rng(8)
    n = 30000
    arms = np.where(rng.random(n) < 0.5, "old", "new")
    conv = rng.random(n) < np.where(arms == "new", 0.12, 0.10)
    path = tmp_path / "users.csv"
    with open(path, "w") as f:
        f.write("unit,arm,conversion\n")
        for i in range(n):
            f.write(f"u{i},{arms[i]},{int(conv[i])}\n")
    r = cli(server, "ab", path, "--control", "old", "--metric", "conversion", "--project", "search", "--title", "ranker v2, week 1",
            "--control-model", "models:/ranker/1", "--treatment-model", "models:/ranker/2", "--json")
    assert r.returncode == 0, r.stderr
    assert "Stored on project search as A/B result #1." in r.stderr
    stored = requests.get(server.url + "/api/v1/projects/search/ab-results", timeout=10).json()["ab_results"]
    assert len(stored) == 1 and stored[0]["treatment_model"] == "models:/ranker/2"
    assert json.loads(stored[0]["result"])["metrics"][0]["name"] == "conversion"
    assert stored[0]["summary"] == json.loads(r.stdout)["summary"]
    page = requests.get(server.url + "/projects/search", timeout=10).text
    assert "ranker v2, week 1" in page and "The new model (new) raised conversion by" in page and "the new model reaches the target" in page
    assert "ranker v2, week 1" in requests.get(server.url + "/models/ranker/versions/1", timeout=10).text

    # Usage and references are checked before anything is kept.
    assert cli(server, "ab", path, "--control", "old", "--metric", "conversion", "--title", "x").returncode == 2
    r = cli(server, "ab", path, "--control", "old", "--metric", "conversion", "--project", "search", "--treatment-model", "models:/ranker/7")
    assert r.returncode == 1 and "ranker" in r.stderr
    bad = requests.post(server.url + "/api/v1/projects/search/ab-results", json={"result": {"metrics": []}}, timeout=10)
    assert bad.status_code == 400 and "result" in bad.json()["message"]
    assert requests.post(server.url + "/api/v1/projects/search/ab-results", json={"result": "text"}, timeout=10).status_code == 400
    assert len(requests.get(server.url + "/api/v1/projects/search/ab-results", timeout=10).json()["ab_results"]) == 1


def test_drift_windows_on_a_deployment_with_the_metric_against_its_claim(server, tmp_path):
    import mlflow
    import numpy as np

    client = mlflow.MlflowClient(server.url)
    client.create_registered_model("watch")
    client.create_model_version("watch", "s3://bucket/watch")
    assert requests.post(server.url + "/api/v1/projects", json={"id": "watching", "name": "Watching"}, timeout=10).status_code == 201
    assert cli(server, "deploy", "env", "add", "prod", "--kind", "batch").returncode == 0
    r = cli(server, "deploy", "record", "--model", "watch", "--version", 1, "--env", "prod", "--project", "watching", "--json")
    deployment = json.loads(r.stdout)["id"]
    rng = np.random.default_rng(4)

    def write(path, shift):
        with open(path, "w") as f:
            f.write("x,segment\n")
            for v, s in zip(rng.normal(shift, 1, 2000), rng.choice(list("abc"), 2000, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4])):
                f.write(f"{float(v)!r},{s}\n")

    write(tmp_path / "ref.csv", 0)
    for day, shift in [("2026-12-01", 0.0), ("2026-12-02", 0.8)]:
        write(tmp_path / f"{day}.csv", shift)
        r = cli(server, "drift", tmp_path / "ref.csv", tmp_path / f"{day}.csv", "--deployment", deployment, "--window", day, "--production-metric", "accuracy=0.9")
        assert r.returncode == 0 and f"Stored as window '{day}' of deployment #{deployment}." in r.stderr, r.stderr
    windows = requests.get(server.url + f"/api/v1/deployments/{deployment}/windows", timeout=10).json()["windows"]
    assert [w["label"] for w in windows] == ["2026-12-01", "2026-12-02"]
    assert [w["drifted"] for w in windows] == [False, True] and windows[0]["metrics"] == {"accuracy": 0.9}
    feed = requests.get(server.url + "/api/v1/projects/watching/updates", timeout=10).json()["activity"]
    assert any(e["kind"] == "drift_detected" and "2026-12-02" in e["summary"] for e in feed)
    page = requests.get(server.url + f"/deployments/{deployment}", timeout=10).text
    assert "Drift by window" in page and "2026-12-02" in page and 'class="num drift"' in page and "accuracy" in page

    # Usage and bad windows.
    assert cli(server, "drift", tmp_path / "ref.csv", tmp_path / "ref.csv", "--window", "x").returncode == 2
    r = cli(server, "drift", tmp_path / "ref.csv", tmp_path / "ref.csv", "--deployment", deployment, "--production-metric", "accuracy")
    assert r.returncode == 2 and "NAME=VALUE" in r.stderr
    assert cli(server, "drift", tmp_path / "ref.csv", tmp_path / "ref.csv", "--deployment", 999).returncode == 1
    bad = requests.post(server.url + f"/api/v1/deployments/{deployment}/windows", json={"label": "d", "result": {"drift_share": 0, "drifted": False, "columns": []}}, timeout=10)
    assert bad.status_code == 400 and "columns" in bad.json()["message"]
    assert requests.get(server.url + "/api/v1/deployments/999/windows", timeout=10).status_code == 404


def test_drift_against_the_deployments_training_data_with_metrics_from_labels(server, tmp_path):
    """The reference is found through lineage (the run's training input, a stored dataset version) or
    recorded with the deployment; labels in the window give the production metrics, equal to scikit-learn."""
    import mlflow
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(8)

    def write(path, n, shift):
        y = rng.integers(0, 2, n)
        score = np.clip(0.5 + 0.35 * (y - 0.5) + rng.normal(shift, 0.2, n), 0, 1)
        with open(path, "w") as f:
            f.write("tenure,plan,label,prediction,score\n")
            for t, p, yy, s in zip(rng.exponential(24 + 30 * shift, n), rng.choice(["basic", "pro"], n), y, score):
                f.write(f"{float(t)!r},{p},{yy},{int(s >= 0.5)},{float(s)!r}\n")
        return y, (score >= 0.5).astype(int)

    write(tmp_path / "train.csv", 3000, 0.0)
    r = cli(server, "dataset", "add", "churn-train", tmp_path / "train.csv", "--quiet")
    assert r.returncode == 0, r.stderr
    digest = json.loads(cli(server, "dataset", "show", "churn-train@1").stdout)["version"]["digest"][:32]

    client = mlflow.MlflowClient(server.url)
    exp = client.create_experiment("churn-training")
    run = client.create_run(exp).info.run_id
    from mlflow.entities import DatasetInput, Dataset, InputTag
    client.log_inputs(run, [DatasetInput(Dataset("churn-train", digest, "local", "train.csv"), [InputTag("mlflow.data.context", "training")])])
    client.create_registered_model("churner")
    client.create_model_version("churner", f"runs:/{run}/model", run_id=run)
    client.create_model_version("churner", "s3://bucket/churner")  # not from a run
    assert cli(server, "deploy", "env", "add", "live", "--kind", "online").returncode == 0
    first = json.loads(cli(server, "deploy", "record", "--model", "churner", "--version", 1, "--env", "live", "--traffic", 0.5, "--json").stdout)["id"]

    found = requests.get(server.url + f"/api/v1/deployments/{first}/reference", timeout=10).json()
    assert found["reference"] == "datasets:/churn-train@1" and found["run_id"] == run and "training data" in found["source"]
    y, predicted = write(tmp_path / "window.csv", 2000, 0.3)
    r = cli(server, "drift", tmp_path / "window.csv", "--deployment", first, "--window", "day-1", "--label-column", "label",
            "--prediction-column", "prediction", "--score-column", "score", "--json")
    assert r.returncode == 0, r.stderr
    assert "Reference: datasets:/churn-train@1, the training data of run" in r.stderr
    same = cli(server, "drift", tmp_path / "train.csv", tmp_path / "window.csv", "--prediction-column", "prediction", "--json")
    result = json.loads(r.stdout)
    assert result["columns"] == json.loads(same.stdout)["columns"]
    metrics = result["production_metrics"]
    assert abs(metrics["accuracy"] - accuracy_score(y, predicted)) < 1e-12 and abs(metrics["f1"] - f1_score(y, predicted)) < 1e-12
    window = requests.get(server.url + f"/api/v1/deployments/{first}/windows", timeout=10).json()["windows"][0]
    assert window["label"] == "day-1" and abs(window["metrics"]["accuracy"] - metrics["accuracy"]) < 1e-12
    assert "churn-train" in requests.get(server.url + f"/deployments/{first}", timeout=10).text

    # Version 2 has no run: the error says how to record a reference; recording one works, and must exist.
    second = json.loads(cli(server, "deploy", "record", "--model", "churner", "--version", 2, "--env", "live", "--traffic", 0.5, "--json").stdout)["id"]
    r = cli(server, "drift", tmp_path / "window.csv", "--deployment", second)
    assert r.returncode == 1 and "was not registered from a run" in r.stderr and "--reference datasets:/NAME@V" in r.stderr, r.stderr
    r = cli(server, "deploy", "record", "--model", "churner", "--version", 2, "--env", "live", "--traffic", 0.5, "--reference", "datasets:/nope@1")
    assert r.returncode == 1 and "nope" in r.stderr and "ensemble dataset add" in r.stderr, r.stderr
    r = cli(server, "deploy", "record", "--model", "churner", "--version", 2, "--env", "live", "--traffic", 0.5, "--reference", "datasets:/churn-train@latest", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["reference"] == "datasets:/churn-train@1", r.stderr
    assert requests.get(server.url + f"/api/v1/deployments/{second}/reference", timeout=10).json()["source"] == "recorded with the deployment"
    assert cli(server, "drift", tmp_path / "window.csv", "--deployment", second).returncode == 0
    # Usage: one file needs --deployment; labels need the prediction column.
    assert cli(server, "drift", tmp_path / "window.csv").returncode == 2
    assert cli(server, "drift", tmp_path / "train.csv", tmp_path / "window.csv", "--label-column", "label").returncode == 2
    r = cli(server, "drift", tmp_path / "train.csv", tmp_path / "window.csv", "--label-column", "nope", "--prediction-column", "prediction")
    assert r.returncode == 2 and "nope" in r.stderr
