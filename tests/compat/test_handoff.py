"""Handoff and release gate end to end, with the real mlflow client and the `ensemble` CLI.

A data scientist trains two versions of a model (scikit-learn), logs and registers them, writes the
predictions, hands version 2 over with one wrong claim (refused, the claim named with its
difference), fixes it; the ML engineer accepts it; CI runs the gate with the version and sees it
pass, moves the alias, and the result shows on the model version's page. A worse candidate fails
and leaves the alias alone.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import textwrap

import numpy as np
import pytest
import requests
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from _server import Server, ensemble_binary


def proba_model(model):
    """A pyfunc model around a fitted classifier (mlflow-skinny has no sklearn flavor)."""
    import mlflow.pyfunc

    class Proba(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model.predict_proba(model_input)[:, 1]

    return Proba()


def cli(srv, *args, cwd=None, env_extra=None):
    env = dict(os.environ, ENSEMBLE_SERVER=srv.url, **(env_extra or {}))
    return subprocess.run([ensemble_binary(), *map(str, args)], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def write_predictions(path, ids, y, scores):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", "prediction", "score"])
        for i, label, s in zip(ids, y, scores):
            w.writerow([i, int(label), int(s >= 0.5), repr(float(s))])


def train_and_register(tmp_path):
    import mlflow
    import mlflow.pyfunc

    X, y = make_classification(n_samples=6000, n_features=20, n_informative=6, random_state=3)
    X_train, y_train = X[:3000], y[:3000]
    splits = {"validation": (X[3000:4500], y[3000:4500]), "test": (X[4500:], y[4500:])}
    # v1 sees 3 features, v2 all of them: v2 is better by construction.
    features = {1: slice(0, 3), 2: slice(0, 20)}
    mlflow.set_experiment("handoff-e2e")
    out = {}
    for version, cols in features.items():
        model = LogisticRegression(max_iter=1000).fit(X_train[:, cols], y_train)
        with mlflow.start_run():
            mlflow.log_params({"framework": "scikit-learn", "framework_version": "1.5", "parameter_count": int(model.coef_.size + 1)})
            mlflow.pyfunc.log_model(name="model", python_model=proba_model(model), registered_model_name="churn-e2e")
        scores = {name: model.predict_proba(Xs[:, cols])[:, 1] for name, (Xs, _) in splits.items()}
        for name, (_, ys) in splits.items():
            write_predictions(tmp_path / f"v{version}-{name}.csv", range(len(ys)), ys, scores[name])
        out[version] = scores
    return splits, out


def test_handoff_and_gate_end_to_end(server, tmp_path):
    import mlflow

    client = mlflow.MlflowClient(server.url)
    splits, scores = train_and_register(tmp_path)
    assert sorted(int(v.version) for v in client.search_model_versions("name='churn-e2e'")) == [1, 2]
    client.set_registered_model_alias("churn-e2e", "champion", "1")

    project = {"id": "churn-e2e", "name": "Churn e2e", "technical_metrics": [{"name": "roc_auc", "baseline": 0.7, "target": 0.85}]}
    assert requests.post(server.url + "/api/v1/projects", json=project, timeout=10).status_code == 201

    y_test = splits["test"][1]
    truth = {name: accuracy_score(splits[name][1], scores[2][name] >= 0.5) for name in splits}
    auc = {name: roc_auc_score(splits[name][1], scores[2][name]) for name in splits}
    handoff = {
        "title": "churn v2 for the scoring service",
        "project": "churn-e2e",
        "model": "models:/churn-e2e/2",
        "sender": "ana",
        "receiver": "bo",
        "contract": {"latency_p50_ms": 1.2, "latency_p95_ms": 3.4, "latency_batch_size": 1, "latency_hardware": "2 vCPU",
                     "peak_memory_bytes": 180_000_000, "input_signature": "20 float features", "preprocessing": "none"},
        "sets": [
            {"name": name, "predictions": f"v2-{name}.csv", "score_column": "score",
             "claims": {"roc_auc": round(auc[name], 4), "accuracy": round(truth[name], 4),
                        "f1": round(f1_score(splits[name][1], scores[2][name] >= 0.5), 4)}}
            for name in ("validation", "test")
        ],
    }
    wrong = json.loads(json.dumps(handoff))
    wrong["sets"][1]["claims"]["accuracy"] = round(truth["test"] + 0.05, 4)
    (tmp_path / "handoff.json").write_text(json.dumps(wrong))

    refused = cli(server, "handoff", "submit", "handoff.json", cwd=tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Claim accuracy on 'test'" in refused.stderr and "off by 0.05" in refused.stderr, refused.stderr
    assert "ensemble handoff submit handoff.json --id 1" in refused.stderr
    stored = requests.get(server.url + "/api/v1/handoffs/1", timeout=10).json()
    assert stored["status"] == "draft"
    assert {"framework", "framework_version", "parameter_count"} <= set(stored["prefilled"]), stored["prefilled"]
    assert stored["contract"]["parameter_count"] == 21
    outcomes = {(c["set"], c["metric"]): c for c in stored["checks"]["claims"]}
    assert outcomes[("test", "accuracy")]["outcome"] == "mismatch"
    assert abs(outcomes[("test", "accuracy")]["recomputed"] - truth["test"]) < 1e-12
    assert abs(outcomes[("validation", "roc_auc")]["recomputed"] - auc["validation"]) < 1e-12
    # The receiver cannot accept what was never submitted.
    assert requests.post(server.url + "/api/v1/handoffs/1/accept", json={}, timeout=10).status_code == 400

    (tmp_path / "handoff.json").write_text(json.dumps(handoff))
    fixed = cli(server, "handoff", "submit", "handoff.json", "--id", "1", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Submitted handoff #1 to bo." in fixed.stdout
    inbox = cli(server, "handoff", "list", "--to", "bo", "--status", "submitted", "--json")
    assert [h["id"] for h in json.loads(inbox.stdout)["handoffs"]] == [1]
    targets = {(t["set"], t["metric"]): t for t in requests.get(server.url + "/api/v1/handoffs/1", timeout=10).json()["checks"]["targets"]}
    assert targets[("test", "roc_auc")]["meets_target"] == (auc["test"] >= 0.85)

    accepted = cli(server, "handoff", "accept", "1", "--comment", "serving it on Monday")
    assert accepted.returncode == 0, accepted.stderr
    shown = cli(server, "handoff", "show", "1")
    assert "[accepted]" in shown.stdout and "refused" in shown.stdout and "serving it on Monday" in shown.stdout
    history = requests.get(server.url + "/api/v1/models/churn-e2e/history", timeout=10).json()["events"]
    assert any(e["kind"] == "handoff_accepted" and e["version"] == "2" for e in history)

    # CI: the gate on both models' test predictions, stored on version 2, promoting it on a pass.
    v1, v2 = scores[1]["test"], scores[2]["test"]
    with open(tmp_path / "gate.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", "prod", "new"])
        for i in range(len(y_test)):
            w.writerow([i, int(y_test[i]), repr(float(v1[i])), repr(float(v2[i]))])
    policy = {"sets": [{"name": "test", "file": "gate.csv", "baseline_column": "prod", "candidate_column": "new"}],
              "metrics": [{"name": "roc_auc", "rule": "superior"}, {"name": "accuracy", "rule": "non-inferior", "margin": 0.01}],
              "resamples": 2000, "seed": 7}
    (tmp_path / "gate.json").write_text(json.dumps(policy))
    (tmp_path / "ci.sh").write_text(textwrap.dedent("""\
        #!/bin/sh
        "$ENSEMBLE" gate --policy gate.json --report gate.md --model churn-e2e --version "$1" --promote champion
        code=$?
        echo "gate exit code: $code"
        exit $code
        """))
    env = {"ENSEMBLE": ensemble_binary(), "GITHUB_SHA": "0123abcd4567"}
    passed = subprocess.run(["sh", "ci.sh", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=dict(os.environ, ENSEMBLE_SERVER=server.url, **env))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "gate exit code: 0" in passed.stdout and "Moved 'champion' to version 2." in passed.stderr
    assert client.get_model_version_by_alias("churn-e2e", "champion").version == "2"
    assert "✅ pass" in (tmp_path / "gate.md").read_text()
    gates = requests.get(server.url + "/api/v1/models/churn-e2e/versions/2/gates", timeout=10).json()["gates"]
    assert gates[0]["decision"] == "pass" and gates[0]["commit"] == "0123abcd4567" and gates[0]["promoted"] == "champion"
    assert json.loads(gates[0]["result"])["sets"][0]["n"] == len(y_test)

    # The same gate with the models swapped (v1 as the candidate) fails, exit 1, and the alias stays.
    policy["sets"][0].update(baseline_column="new", candidate_column="prod")
    (tmp_path / "gate.json").write_text(json.dumps(policy))
    failed = subprocess.run(["sh", "ci.sh", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=dict(os.environ, ENSEMBLE_SERVER=server.url, **env))
    assert failed.returncode == 1 and "gate exit code: 1" in failed.stdout, failed.stdout + failed.stderr
    assert "'champion' stays where it was" in failed.stderr
    assert client.get_model_version_by_alias("churn-e2e", "champion").version == "2"

    # The pages show it.
    page = requests.get(server.url + "/models/churn-e2e/versions/2", timeout=10).text
    assert "Release gates" in page and "0123abcd4567" in page and "@champion" in page and 'href="/handoffs/1"' in page
    assert 'class="badge ok">pass' in page
    fail_page = requests.get(server.url + "/models/churn-e2e/versions/1", timeout=10).text
    assert 'class="badge bad">fail' in fail_page
    handoff_page = requests.get(server.url + "/handoffs/1", timeout=10).text
    assert "churn v2 for the scoring service" in handoff_page and "mismatch" not in handoff_page.split("<h2>History")[0]
    assert "Against the project" in handoff_page
    assert 'href="/handoffs/1"' in requests.get(server.url + "/projects/churn-e2e", timeout=10).text


def test_handoff_api_refuses_bad_input_with_clear_messages(server, tmp_path):
    api = server.url + "/api/v1"

    def post(path, body):
        r = requests.post(api + path, json=body, timeout=10)
        return r.status_code, r.json().get("message", "") if r.headers.get("content-type", "").startswith("application/json") else r.text

    base = {"title": "t", "model": "models:/nope/1", "sender": "a", "receiver": "b"}
    code, msg = post("/handoffs", base)
    assert code == 404 and "nope" in msg
    for body, words in [
        ({**base, "model": "runs:/abc/model"}, "models:/NAME/VERSION"),
        ({**base, "receiver": "a"}, "also the sender"),
        ({**base, "title": ""}, "title"),
        ({**base, "sets": [{"name": "t", "claims": {"f1": "high"}}]}, "claims"),
        ({**base, "contract": {"latency_p50_ms": 5, "latency_p95_ms": 2}}, "latency_p95_ms"),
        ({**base, "sets": [{"name": "t", "predictions": {"sha256": "x", "size": 1, "name": "p.csv"}}]}, "sha256"),
    ]:
        code, msg = post("/handoffs", body)
        assert code == 400 and words in msg, (body, code, msg)
    assert requests.get(api + "/handoffs?status=maybe", timeout=10).status_code == 400
    assert requests.get(api + "/handoffs/abc", timeout=10).status_code == 400
    assert requests.get(api + "/handoffs/99", timeout=10).status_code == 404

    import mlflow

    mlflow.MlflowClient(server.url).create_registered_model("m")
    mlflow.MlflowClient(server.url).create_model_version("m", "s3://bucket/m")
    missing_blob = {**base, "model": "models:/m/1", "sets": [{"name": "t", "predictions": {"sha256": "a" * 64, "size": 1, "name": "p.csv"}}]}
    code, msg = post("/handoffs", missing_blob)
    assert code == 400 and "not uploaded" in msg
    code, msg = post("/handoffs", {**base, "model": "models:/m/1", "project": "ghost"})
    assert code == 404 and "ghost" in msg
    code, msg = post("/handoffs", {**base, "model": "models:/m/1", "sets": [{"name": "t", "dataset": "datasets:/ghost@1"}]})
    assert code == 400 and "ghost" in msg

    # An incomplete handoff is refused on submit with every gap named, and stays a draft.
    code, _ = post("/handoffs", {**base, "model": "models:/m/1"})
    assert code == 201
    code, msg = post("/handoffs/1/submit", {})
    assert code == 400 and "Contract field 'framework'" in msg and "Evaluation set 'validation'" in msg
    assert requests.get(api + "/handoffs/1", timeout=10).json()["status"] == "draft"
    code, msg = post("/handoffs/1/return", {"reason": ""})
    assert code == 400 and "reason" in msg
    code, msg = post("/handoffs/1/comments", {"text": "latency on which GPU?", "by": "b"})
    assert code == 200

    # Gate results: the decision must agree with the verdicts; a failed gate promotes nothing.
    result = {"decision": "pass", "sets": [{"name": "t", "n": 10, "metrics": [
        {"name": "f1", "baseline": 0.5, "candidate": 0.6, "difference": 0.1, "ci_low": 0.01, "ci_high": 0.2, "rule": "superior", "passed": False}]}]}
    code, msg = post("/models/m/versions/1/gates", {"result": result})
    assert code == 400 and "disagrees" in msg
    result["decision"] = "fail"
    code, msg = post("/models/m/versions/1/gates", {"result": result, "promote": "champion"})
    assert code == 400 and "alias stays" in msg
    code, _ = post("/models/m/versions/9/gates", {"result": result})
    assert code == 404
    code, _ = post("/models/m/versions/1/gates", {"result": result, "report": "# failed"})
    assert code == 201


def test_handoff_roles_with_authentication(tmp_path):
    from test_auth import PASSWORD, admin

    data = tmp_path / "data"
    tokens = {}
    for name, role in [("root", "admin"), ("ana", "member"), ("bo", "member"), ("cy", "member"), ("vic", "viewer")]:
        admin(data, "create-user", name, "--email", f"{name}@example.com", "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
        tokens[name] = json.loads(admin(data, "create-token", name, "--name", "tests", "--json"))["token"]
    srv = Server(data, tmp_path / "server.log", extra_args=["--auth", "required"]).start()
    try:
        def call(user, method, path, body=None):
            r = requests.request(method, srv.url + "/api/v1" + path, json=body, headers={"Authorization": f"Bearer {tokens[user]}"}, timeout=10)
            return r.status_code, r.json()

        def mlflow_call(user, path, body):
            return requests.post(srv.url + "/api/2.0/mlflow/" + path, json=body, headers={"Authorization": f"Bearer {tokens[user]}"}, timeout=10)

        assert mlflow_call("ana", "registered-models/create", {"name": "churn"}).status_code == 200
        assert mlflow_call("ana", "model-versions/create", {"name": "churn", "source": "s3://bucket/m"}).status_code == 200
        draft = {"title": "churn v1", "model": "models:/churn/1", "sender": "somebody-else", "receiver": "bo"}
        assert call("vic", "POST", "/handoffs", draft)[0] == 403
        code, body = call("ana", "POST", "/handoffs", {**draft, "receiver": "nobody"})
        assert code == 400 and "no active user 'nobody'" in body["message"]
        code, body = call("ana", "POST", "/handoffs", draft)
        assert code == 201 and body["sender"] == "ana"  # the caller, whatever the body says
        hid = body["id"]
        # Only the sender edits or submits; only the receiver (or an admin) decides.
        assert call("cy", "POST", f"/handoffs/{hid}/submit")[0] == 403
        assert call("cy", "PUT", f"/handoffs/{hid}", draft)[0] == 403
        # Make it pass the checks with a project checklist that asks for nothing, then submit.
        code, _ = call("ana", "POST", "/projects", {"id": "p", "name": "P", "handoff_checklist": {"required_fields": [], "required_sets": []}})
        assert code == 201
        code, body = call("ana", "PUT", f"/handoffs/{hid}", {**draft, "project": "p"})
        assert code == 200, body
        code, body = call("ana", "POST", f"/handoffs/{hid}/submit", {})
        assert code == 200 and body["status"] == "submitted", body
        assert call("ana", "POST", f"/handoffs/{hid}/accept", {})[0] == 403
        assert call("cy", "POST", f"/handoffs/{hid}/return", {"reason": "no"})[0] == 403
        code, body = call("bo", "POST", f"/handoffs/{hid}/return", {"reason": "which hardware?"})
        assert code == 200 and body["status"] == "returned" and body["events"][-1]["by"] == "bo"
        # Promotion needs MANAGE on the model: bo (a member with EDIT by default) may record, not promote.
        result = {"decision": "pass", "sets": [{"name": "t", "n": 5, "metrics": [
            {"name": "f1", "baseline": 0.5, "candidate": 0.6, "difference": 0.1, "ci_low": 0.01, "ci_high": 0.2, "rule": "superior", "passed": True}]}]}
        assert call("bo", "POST", "/models/churn/versions/1/gates", {"result": result, "promote": "champion"})[0] == 403
        code, body = call("bo", "POST", "/models/churn/versions/1/gates", {"result": result})
        assert code == 201 and body["actor"] == "bo"
        code, body = call("ana", "POST", "/models/churn/versions/1/gates", {"result": result, "promote": "champion"})
        assert code == 201 and body["promoted"] == "champion"
        assert call("vic", "POST", "/models/churn/versions/1/gates", {"result": result})[0] == 403
        assert call("vic", "GET", "/models/churn/versions/1/gates")[0] == 200
    finally:
        srv.stop()
