"""Raw HTTP behaviour the MLflow client and hostile callers depend on."""

import json

import pytest
import requests


def test_health_version_server_info(shared_server):
    assert requests.get(shared_server.url + "/health").text == "OK"
    version = requests.get(shared_server.url + "/version").text
    assert tuple(int(x) for x in version.split(".")[:2]) >= (3, 4)
    info = requests.get(shared_server.url + "/api/3.0/mlflow/server-info").json()
    assert info["workspaces_enabled"] is False
    assert info["artifact_serving_enabled"] is True


@pytest.mark.parametrize("path", ["/api/2.0/mlflow/nope", "/api/2.0/mlflow/registered-models/nothing", "/not-a-page", "/api/2.0/mlflow/runs/get/x"])
def test_unknown_routes_are_json_404(shared_server, path):
    r = requests.get(shared_server.url + path)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_ajax_prefix_serves_the_same_api(shared_server):
    r = requests.get(shared_server.url + "/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
    assert r.status_code == 200
    assert r.json()["experiment"]["name"] == "Default"


def new_run(server):
    r = requests.post(server.api("runs/create"), json={"experiment_id": "0"})
    return r.json()["run"]["info"]["run_id"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ('"key": "m", "value": 1, "timestamp": 1, "step": "foo"', "step"),
        ('"key": "m", "value": "abc", "timestamp": 1', "value"),
        ('"key": "m", "value": 1, "timestamp": "soon"', "timestamp"),
        ('"key": 5, "value": 1, "timestamp": 1', "key"),
        ('"key": "m", "value": 1, "timestamp": 1, "step": 1e400', "step"),
        ('"key": "m", "value": [1], "timestamp": 1', "value"),
    ],
)
def test_wrong_json_types_are_400(shared_server, fields, field):
    rid = new_run(shared_server)
    body = '{"run_id": "%s", %s}' % (rid, fields)
    r = requests.post(shared_server.api("runs/log-metric"), data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert f"'{field}'" in r.json()["message"]


def test_run_id_of_wrong_type_and_missing_fields(shared_server):
    r = requests.post(shared_server.api("runs/log-metric"), json={"run_id": 31, "key": "m", "value": 1, "timestamp": 1})
    assert r.status_code == 400 and "Invalid value 31 for parameter 'run_id'" in r.json()["message"]
    r = requests.post(shared_server.api("runs/log-metric"), json={"key": "m", "value": 1, "timestamp": 1})
    assert r.status_code == 400 and "Missing value for required parameter 'run_id'" in r.json()["message"]
    r = requests.post(shared_server.api("experiments/create"), json={"name": ""})
    assert r.status_code == 400 and "'name'" in r.json()["message"]


@pytest.mark.parametrize("data", [b"{not json", b"[1,2]", b'{"a": "\\x"}', b"\xff\xfe", b"[" * 10000])
def test_malformed_json_is_400(shared_server, data):
    r = requests.post(shared_server.api("runs/create"), data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


def test_post_without_json_content_type_is_400(shared_server):
    r = requests.post(shared_server.api("runs/create"), data=b'{"experiment_id": "0"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 400


def test_oversized_body_is_refused_and_server_survives(shared_server):
    huge = b'{"name": "' + b"x" * (30 * 1024 * 1024) + b'"}'
    try:
        r = requests.post(shared_server.api("experiments/create"), data=huge, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500
    except requests.ConnectionError:
        pass  # the server may close the connection after refusing; what matters is that it lives on
    assert requests.get(shared_server.url + "/health").text == "OK"


@pytest.mark.parametrize(
    "token", ["garbage", "eyJvZmZzZXQiOiAtNX0=", "e30=", "A" * 5000, "eyJvZmZzZXQiOiA5OTk5OTk5OTk5OTk5OTk5fQ=="]
)
def test_forged_page_tokens_are_400(shared_server, token):
    r = requests.post(shared_server.api("runs/search"), json={"experiment_ids": ["0"], "page_token": token})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "filt",
    [
        "params.a = 'x' OR 1=1",
        "params.a = 'x'; DROP TABLE runs; --",
        "params.a = 'x\\' OR '1'='1",
        "metrics.`a` > 1) UNION SELECT * FROM runs --",
        "tags.t = 'unbalanced",
    ],
)
def test_injection_attempts_in_filters(shared_server, filt):
    r = requests.post(shared_server.api("runs/search"), json={"experiment_ids": ["0"], "filter": filt})
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        assert r.json().get("runs", []) == []
    # The tables are intact.
    assert requests.post(shared_server.api("runs/search"), json={"experiment_ids": ["0"]}).status_code == 200


def test_max_results_bounds(shared_server):
    r = requests.post(shared_server.api("runs/search"), json={"experiment_ids": ["0"], "max_results": 123456789})
    assert r.status_code == 400 and "max_results" in r.json()["message"]
    r = requests.post(shared_server.api("experiments/search"), json={"max_results": 0})
    assert r.status_code == 400


def test_metric_history_paging_over_rest(shared_server):
    rid = new_run(shared_server)
    metrics = [{"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(250)]
    assert requests.post(shared_server.api("runs/log-batch"), json={"run_id": rid, "metrics": metrics}).status_code == 200
    steps, token = [], None
    while True:
        params = {"run_id": rid, "metric_key": "m", "max_results": 100}
        if token:
            params["page_token"] = token
        body = requests.get(shared_server.api("metrics/get-history"), params=params).json()
        steps += [m["step"] for m in body["metrics"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert steps == list(range(250))
    bad = requests.get(shared_server.api("metrics/get-history"), params={"run_id": rid, "metric_key": "m", "max_results": 0})
    assert bad.status_code == 400
    sampled = requests.get(
        shared_server.api("metrics/get-history-bulk-interval"), params={"run_ids": [rid], "metric_key": "m", "max_results": 10}
    ).json()["metrics"]
    assert len(sampled) == 10
    assert sampled[0]["step"] == 0 and sampled[-1]["step"] == 249
    assert all(m["run_id"] == rid for m in sampled)
    window = requests.get(
        shared_server.api("metrics/get-history-bulk-interval"),
        params={"run_ids": [rid], "metric_key": "m", "start_step": 10, "end_step": 12},
    ).json()["metrics"]
    assert [m["step"] for m in window] == [10, 11, 12]
    only_start = requests.get(
        shared_server.api("metrics/get-history-bulk-interval"), params={"run_ids": [rid], "metric_key": "m", "start_step": 10}
    )
    assert only_start.status_code == 400


def test_log_batch_limits_and_duplicate_params(shared_server):
    rid = new_run(shared_server)
    too_many = [{"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(1001)]
    r = requests.post(shared_server.api("runs/log-batch"), json={"run_id": rid, "metrics": too_many})
    assert r.status_code == 400 and "at most 1000" in r.json()["message"]
    dup = [{"key": "p", "value": "1"}, {"key": "p", "value": "1"}]
    r = requests.post(shared_server.api("runs/log-batch"), json={"run_id": rid, "params": dup})
    assert r.status_code == 400 and "Duplicate" in r.json()["message"]


def test_request_id_header(shared_server):
    r = requests.get(shared_server.url + "/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
    assert len(r.headers["X-Request-Id"]) >= 8
    assert r.headers["X-Ensemble-Version"]


def test_ui_helpers_bulk_history_datasets_and_files(shared_server):
    exp = requests.post(shared_server.api("experiments/create"), json={"name": "ui-helpers"}).json()["experiment_id"]
    runs = [requests.post(shared_server.api("runs/create"), json={"experiment_id": exp}).json()["run"]["info"]["run_id"] for _ in range(2)]
    for n, rid in enumerate(runs):
        points = [{"key": "loss", "value": float(i + n), "timestamp": 100 + i, "step": i} for i in range(5)]
        assert requests.post(shared_server.api("runs/log-batch"), json={"run_id": rid, "metrics": points}).status_code == 200
    bulk = requests.get(
        shared_server.url + "/ajax-api/2.0/mlflow/metrics/get-history-bulk", params={"run_id": runs, "metric_key": "loss", "max_results": 7}
    ).json()["metrics"]
    assert len(bulk) == 7
    assert {m["run_id"] for m in bulk} <= set(runs)

    dataset = {"name": "d", "digest": "123", "source_type": "local", "source": "{}"}
    body = {"run_id": runs[0], "datasets": [{"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "eval"}]}]}
    assert requests.post(shared_server.api("runs/log-inputs"), json=body).status_code == 200
    summaries = requests.post(shared_server.url + "/ajax-api/2.0/mlflow/experiments/search-datasets", json={"experiment_ids": [exp]}).json()
    assert summaries == {"dataset_summaries": [{"experiment_id": exp, "name": "d", "digest": "123", "context": "eval"}]}
    missing_source = {"run_id": runs[0], "datasets": [{"dataset": {"name": "d", "digest": "1", "source_type": "local"}}]}
    r = requests.post(shared_server.api("runs/log-inputs"), json=missing_source)
    assert r.status_code == 400 and "source" in r.json()["message"]

    up = requests.post(
        shared_server.url + "/ajax-api/2.0/mlflow/upload-artifact", params={"run_uuid": runs[1], "path": "ui/file.txt"}, data=b"from the ui"
    )
    assert up.status_code == 200
    got = requests.get(shared_server.url + "/get-artifact", params={"run_id": runs[1], "path": "ui/file.txt"})
    assert got.content == b"from the ui"
    assert requests.get(shared_server.url + "/get-artifact", params={"run_id": runs[1], "path": "../../x"}).status_code == 400
    bad_up = requests.post(shared_server.url + "/ajax-api/2.0/mlflow/upload-artifact", params={"run_uuid": runs[1], "path": "../x"}, data=b"x")
    assert bad_up.status_code == 400


def test_legacy_log_model_appends_history(shared_server):
    rid = new_run(shared_server)
    for path in ["model", "model2"]:
        model_json = json.dumps({"artifact_path": path, "flavors": {"python_function": {}}, "run_id": rid})
        r = requests.post(shared_server.api("runs/log-model"), json={"run_id": rid, "model_json": model_json})
        assert r.status_code == 200
    tags = requests.get(shared_server.api("runs/get"), params={"run_id": rid}).json()["run"]["data"]["tags"]
    history = json.loads(next(t["value"] for t in tags if t["key"] == "mlflow.log-model.history"))
    assert [m["artifact_path"] for m in history] == ["model", "model2"]
    bad = requests.post(shared_server.api("runs/log-model"), json={"run_id": rid, "model_json": "not json"})
    assert bad.status_code == 400


def test_logged_model_search_validates_its_request(shared_server):
    r = requests.post(shared_server.api("logged-models/search"), json={"experiment_ids": ["0"], "filter": "name = 'no-such-model'"})
    assert r.status_code == 200 and r.json() == {"models": []}
    assert requests.post(shared_server.api("logged-models/search"), json={"experiment_ids": ["0"], "filter": "name = "}).status_code == 400
    assert requests.post(shared_server.api("logged-models/search"), json={"experiment_ids": ["x"]}).status_code == 400
