"""Raw HTTP behaviour the MLflow client and hostile callers depend on."""

import json
import math
import os
import socket
import subprocess
import threading
import time

import pytest
import requests
from _server import ensemble_binary, free_port, raw_request


def test_health_version_server_info(shared_server):
    assert requests.get(shared_server.url + "/health").text == "OK"
    version = requests.get(shared_server.url + "/version").text
    assert tuple(int(x) for x in version.split(".")[:2]) >= (3, 4)
    info = requests.get(shared_server.url + "/api/3.0/mlflow/server-info").json()
    assert info["workspaces_enabled"] is False
    assert info["artifact_serving_enabled"] is True


@pytest.mark.parametrize("path", ["/api/2.0/mlflow/nope", "/api/2.0/mlflow/registered-models/nothing", "/api/v1/nope", "/api/2.0/mlflow/runs/get/x"])
def test_unknown_routes_are_json_404(shared_server, path):
    r = requests.get(shared_server.url + path)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error_code"] == "ENDPOINT_NOT_FOUND"


@pytest.mark.parametrize("path", ["/not-a-page", "/runs/x/y/z"])
def test_unknown_pages_are_an_html_404(shared_server, path):
    r = requests.get(shared_server.url + path)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Not found" in r.text
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


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


@pytest.mark.parametrize(
    "data",
    [b"{not json", b"[1,2]", b'{"a": "\\x"}', b"\xff\xfe", b"[" * 10000, b'{"a":' * 100000, b'{"experiment_id": "0"', b"{'experiment_id': '0'}"],
    ids=["garbage", "list", "bad-escape", "bad-utf8", "deep-list", "deep-object", "truncated", "single-quotes"],
)
def test_malformed_json_is_400(shared_server, data):
    r = requests.post(shared_server.api("runs/create"), data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


def _post_raw(server, path, head_extra: bytes, body: bytes, timeout=30):
    """POST over a raw socket; returns the status code, or None if the server closed first."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        try:
            s.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
                + head_extra + b"\r\n" + body
            )
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None
    finally:
        s.close()


@pytest.mark.parametrize("route", ["experiments/create", "runs/log-metric", "runs/search", "runs/log-batch"])
def test_oversized_body_is_refused_and_server_survives(shared_server, route):
    rid = new_run(shared_server)
    huge = b'{"run_id": "%s", "name": "' % rid.encode() + b"x" * (60 * 1024 * 1024) + b'"}'
    status = _post_raw(shared_server, "/api/2.0/mlflow/" + route, b"Content-Length: %d\r\n" % len(huge), huge)
    # 413 (or 400) - or the connection closed after refusing: never a 5xx, never a hang.
    assert status is None or 400 <= status < 500, status
    assert shared_server.healthy()
    # The same through requests, 30 MB on a small JSON route.
    try:
        r = requests.post(shared_server.api("experiments/create"), data=b'{"name": "' + b"x" * (30 * 1024 * 1024) + b'"}', headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 413), r.status_code
        assert r.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_EXHAUSTED", "REQUEST_LIMIT_EXCEEDED")
    except requests.ConnectionError:
        pass  # refused before the whole body was read
    assert shared_server.healthy()
    assert requests.get(shared_server.api("runs/get"), params={"run_id": rid}).status_code == 200


def test_oversized_content_length_is_refused_before_the_body(shared_server):
    """A declared 30 MB body on a small route is refused from its headers alone."""
    s = socket.create_connection(("127.0.0.1", shared_server.port), timeout=10)
    try:
        s.sendall(
            b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 31457280\r\n\r\n{\"name\": \""
        )
        head = s.recv(4096)
    finally:
        s.close()
    assert head.startswith(b"HTTP/1.1 413") or head.startswith(b"HTTP/1.1 400"), head[:200]


@pytest.mark.parametrize("length", [b"99999999999999999999999", b"-5", b"abc", b"10, 20"])
def test_invalid_content_length_is_refused_promptly(shared_server, length):
    s = socket.create_connection(("127.0.0.1", shared_server.port), timeout=10)
    try:
        s.sendall(
            b"POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + length + b"\r\n\r\n{}"
        )
        try:
            head = s.recv(4096)
        except ConnectionResetError:
            head = b""
    except socket.timeout:
        head = b"(no answer within 10 s)"
    finally:
        s.close()
    # Either a 4xx answer or a closed connection; not a connection left waiting for a body.
    assert head == b"" or head.startswith(b"HTTP/1.1 4"), head[:200]
    assert shared_server.healthy()


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
    # MLflow's sampling: every 25th of 250 steps, and the last one.
    assert [m["step"] for m in sampled] == [0, 25, 50, 75, 100, 125, 150, 175, 200, 225, 249]
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


# -- wire format details the client relies on ---------------------------------------------------------


def get_run(server, rid):
    r = requests.get(server.api("runs/get"), params={"run_id": rid})
    assert r.status_code == 200, r.text
    return r.json()["run"]


def test_int64_as_strings_enums_as_numbers_and_unknown_fields(shared_server):
    rid = new_run(shared_server)
    r = requests.post(
        shared_server.api("runs/log-metric"),
        json={"run_id": rid, "key": "s", "value": 1.5, "timestamp": "1700000000000", "step": "3", "unknown_field": {"x": [1]}},
    )
    assert r.status_code == 200, r.text
    history = requests.get(shared_server.api("metrics/get-history"), params={"run_id": rid, "metric_key": "s"}).json()["metrics"]
    assert [(m["step"], m["timestamp"], m["value"]) for m in history] == [(3, 1700000000000, 1.5)]
    # Numbers come back as JSON numbers.
    assert isinstance(history[0]["timestamp"], int) and isinstance(history[0]["step"], int)
    # Only run_uuid (older clients).
    assert requests.post(shared_server.api("runs/set-tag"), json={"run_uuid": rid, "key": "t", "value": "v"}).status_code == 200
    # Enums by number: FAILED = 4 (RunStatus), ALL = 3 (ViewType).
    r = requests.post(shared_server.api("runs/update"), json={"run_id": rid, "status": 4, "end_time": 1800000000000})
    assert r.status_code == 200, r.text
    info = r.json()["run_info"]
    assert info["status"] == "FAILED" and info["end_time"] == 1800000000000
    r = requests.post(shared_server.api("runs/search"), json={"experiment_ids": ["0"], "run_view_type": 3, "filter": f"attributes.run_id = '{rid}'"})
    assert [x["info"]["run_id"] for x in r.json()["runs"]] == [rid]
    r = requests.post(shared_server.api("runs/search"), json={"experiment_ids": ["0"], "run_view_type": "ALL", "max_results": "5"})
    assert r.status_code == 200 and 1 <= len(r.json()["runs"]) <= 5


def test_running_run_omits_end_time_and_unset_fields(shared_server):
    r = requests.post(shared_server.api("runs/create"), json={"experiment_id": "0", "run_name": "shape"})
    info = r.json()["run"]["info"]
    assert info["status"] == "RUNNING" and info["lifecycle_stage"] == "active"
    assert "end_time" not in info or info["end_time"] in (0, None)
    assert info["run_id"] == info["run_uuid"]
    assert info["artifact_uri"] == f"mlflow-artifacts:/0/{info['run_id']}/artifacts"
    assert isinstance(info["start_time"], int) and abs(info["start_time"] - time.time() * 1000) < 600_000
    body = requests.post(shared_server.api("experiments/search"), json={"max_results": 50000}).json()
    assert "next_page_token" not in body
    assert isinstance(body["experiments"][0]["creation_time"], int)


def test_nan_and_infinity_over_the_wire(shared_server):
    rid = new_run(shared_server)
    for i, v in enumerate(["NaN", "Infinity", "-Infinity"]):
        r = requests.post(shared_server.api("runs/log-metric"), json={"run_id": rid, "key": f"m{i}", "value": v, "timestamp": 1, "step": 0})
        assert r.status_code == 200, (v, r.text)
    latest = {m["key"]: m["value"] for m in get_run(shared_server, rid)["data"]["metrics"]}

    def num(x):
        return float(x) if isinstance(x, str) else x

    assert latest["m0"] == "NaN" or math.isnan(num(latest["m0"]))
    assert num(latest["m1"]) >= 1.7976931348623157e308
    assert num(latest["m2"]) <= -1.7976931348623157e308
    # A bare JSON NaN literal is not JSON; the server refuses it or reads it as NaN, never 5xx.
    r = requests.post(
        shared_server.api("runs/log-metric"),
        data=b'{"run_id": "%s", "key": "lit", "value": NaN, "timestamp": 1}' % rid.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (200, 400)


def test_negative_and_huge_numbers(shared_server):
    rid = new_run(shared_server)
    ok = [
        {"value": 1, "timestamp": 1, "step": -5},
        {"value": 1e308, "timestamp": 1, "step": 9223372036854775807},
        {"value": -1e-308, "timestamp": 4102444800000, "step": -9223372036854775808},
    ]
    for body in ok:
        r = requests.post(shared_server.api("runs/log-metric"), json={"run_id": rid, "key": "n", **body})
        assert r.status_code == 200, (body, r.text)
    steps = [m["step"] for m in requests.get(shared_server.api("metrics/get-history"), params={"run_id": rid, "metric_key": "n"}).json()["metrics"]]
    assert steps == [-9223372036854775808, -5, 9223372036854775807]
    bad = [
        {"value": 1, "timestamp": -1},
        {"value": 1, "timestamp": 1, "step": 9223372036854775808},
        {"value": 1, "timestamp": 1, "step": 1.5},
        {"value": 1, "timestamp": 1e30},
        {"value": 1, "timestamp": True},
        {"value": True, "timestamp": 1},
        {"value": None, "timestamp": 1},
    ]
    for body in bad:
        r = requests.post(shared_server.api("runs/log-metric"), json={"run_id": rid, "key": "bad", **body})
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "route, body, field",
    [
        ("experiments/create", {"name": "x", "tags": "5"}, "tags"),
        ("experiments/create", {"name": ["x"]}, "name"),
        ("runs/set-tag", {"key": "t", "value": 41}, "value"),
        ("runs/log-parameter", {"key": "p", "value": {"a": 1}}, "value"),
        ("runs/log-batch", {"metrics": {"key": "m"}}, "metrics"),
        ("runs/log-batch", {"metrics": [{"key": "m", "value": "high", "timestamp": 1}]}, "value"),
        ("runs/log-batch", {"params": [{"key": 1, "value": "v"}]}, "key"),
        ("runs/search", {"experiment_ids": "0"}, "experiment_ids"),
        ("runs/search", {"experiment_ids": ["0"], "max_results": "lots"}, "max_results"),
        ("runs/search", {"experiment_ids": ["0"], "run_view_type": "SOMETIMES"}, "run_view_type"),
        ("runs/update", {"status": "HAPPY"}, "status"),
        ("experiments/search", {"order_by": "name"}, "order_by"),
    ],
)
def test_wrong_types_on_other_routes(shared_server, route, body, field):
    rid = new_run(shared_server)
    if route.startswith("runs/") and route != "runs/search":
        body = {"run_id": rid, **body}
    r = requests.post(shared_server.api(route), json=body)
    assert r.status_code == 400, (route, body, r.status_code, r.text)
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in r.json()["message"]


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "application/json;charset=UTF-8"])
def test_json_content_type_variants_are_accepted(shared_server, ctype):
    r = requests.post(shared_server.api("runs/create"), data=b'{"experiment_id": "0"}', headers={"Content-Type": ctype})
    assert r.status_code == 200, (ctype, r.status_code, r.text)


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_post_without_json_content_type_is_400(shared_server, ctype):
    status, headers, body = raw_request(
        shared_server, "POST", "/api/2.0/mlflow/runs/create", body=b'{"experiment_id": "0"}', headers={"Content-Type": ctype} if ctype else {}
    )
    assert status == 400, (ctype, status, body)
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("data", [b"null", b'"text"', b"1", b"true", b"", b"   ", b'{"a": 1}{"b": 2}', b'{"experiment_id": "0",}'])
def test_bodies_that_are_not_one_json_object(shared_server, data):
    r = requests.post(shared_server.api("runs/log-metric"), data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, (data, r.status_code, r.text)
    assert r.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("method, path", [("GET", "runs/create"), ("DELETE", "runs/get"), ("PUT", "experiments/create"), ("PATCH", "runs/log-metric")])
def test_wrong_method_is_a_json_4xx(shared_server, method, path):
    r = requests.request(method, shared_server.api(path), json={})
    assert 400 <= r.status_code < 500, (method, path, r.status_code)
    assert r.headers["Content-Type"].startswith("application/json")
    assert "error_code" in r.json()


def test_missing_required_fields(shared_server):
    r = requests.get(shared_server.api("runs/get"))
    assert r.status_code == 400
    assert "Missing value for required parameter 'run_id'" in r.json()["message"]
    r = requests.get(shared_server.api("runs/get"), params={"run_id": ""})
    assert r.status_code == 400
    r = requests.get(shared_server.api("metrics/get-history"), params={"run_id": new_run(shared_server)})
    assert r.status_code == 400 and "metric_key" in r.json()["message"]
    r = requests.post(shared_server.api("experiments/update"), json={"experiment_id": "0"})
    assert r.status_code == 400 and "new_name" in r.json()["message"]
    r = requests.post(shared_server.api("runs/log-metric"), json={"run_id": new_run(shared_server), "key": "m", "value": 1})
    assert r.status_code == 400 and "timestamp" in r.json()["message"]


def test_get_routes_read_the_query_string(shared_server):
    r = requests.get(shared_server.api("experiments/search"), params={"max_results": "1", "filter": "name = 'Default'", "view_type": "ALL"})
    assert r.status_code == 200
    assert [e["name"] for e in r.json()["experiments"]] == ["Default"]
    r = requests.get(shared_server.api("experiments/get-by-name"), params={"experiment_name": "Default"})
    assert r.json()["experiment"]["experiment_id"] == "0"


@pytest.mark.parametrize("route, params", [("experiments/search", {}), ("metrics/get-history", {"metric_key": "m", "max_results": 10})])
@pytest.mark.parametrize("token", ["garbage", "e30=", "A" * 5000, "eyJvZmZzZXQiOiAtNX0="])
def test_forged_page_tokens_elsewhere_are_400(shared_server, route, params, token):
    if route == "metrics/get-history":
        params = {**params, "run_id": new_run(shared_server)}
    r = requests.get(shared_server.api(route), params={**params, "page_token": token})
    assert r.status_code == 400, (route, token, r.status_code, r.text)
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_slow_clients_do_not_block_others(shared_server):
    """Connections that send half a request and stall must not stop other clients."""
    stalled = []
    try:
        for _ in range(64):
            s = socket.create_connection(("127.0.0.1", shared_server.port))
            s.sendall(b"POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            stalled.append(s)
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", shared_server.port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost:")
            stalled.append(s)
        start = time.time()
        for _ in range(20):
            assert requests.get(shared_server.url + "/health", timeout=5).text == "OK"
        assert new_run(shared_server)
        assert time.time() - start < 5
    finally:
        for s in stalled:
            s.close()


def test_concurrent_experiment_creation_with_one_name(shared_server):
    name = f"race-{time.time_ns()}"
    results = []

    def create():
        r = requests.post(shared_server.api("experiments/create"), json={"name": name})
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=create) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [b for s, b in results if s == 200]
    assert len(ok) == 1, results
    assert all(s == 400 and b["error_code"] == "RESOURCE_ALREADY_EXISTS" for s, b in results if s != 200), results
    found = requests.get(shared_server.api("experiments/get-by-name"), params={"experiment_name": name}).json()
    assert found["experiment"]["experiment_id"] == ok[0]["experiment_id"]


def test_concurrent_conflicting_params(shared_server):
    rid = new_run(shared_server)
    results = []

    def log(i):
        r = requests.post(shared_server.api("runs/log-parameter"), json={"run_id": rid, "key": "p", "value": str(i % 4)})
        results.append((i % 4, r.status_code, r.json()))

    threads = [threading.Thread(target=log, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s in (200, 400) for _, s, _ in results), results
    stored = {p["key"]: p["value"] for p in get_run(shared_server, rid)["data"]["params"]}["p"]
    # Exactly the writers of the stored value succeeded; everyone else got the "Changing param" error.
    for value, status, body in results:
        if str(value) == stored:
            assert status == 200, (value, status, body)
        else:
            assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", (value, status, body)


def _closed_within(s: socket.socket, seconds: float) -> bool:
    """True when the server closes `s` (EOF or reset) within `seconds`."""
    s.settimeout(seconds)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("args, env, says", [
    (["--audit-retention-days=-1"], {}, "--audit-retention-days (ENSEMBLE_AUDIT_RETENTION_DAYS) must be between 0 and 36500 (days; 0 keeps entries for ever), got -1"),
    (["--audit-retention-days", "40000"], {}, "--audit-retention-days (ENSEMBLE_AUDIT_RETENTION_DAYS) must be between 0 and 36500 (days; 0 keeps entries for ever), got 40000"),
    ([], {"ENSEMBLE_AUDIT_RETENTION_DAYS": "a year"}, "ENSEMBLE_AUDIT_RETENTION_DAYS must be a whole number (days; 0 keeps entries for ever), got 'a year'"),
    ([], {"ENSEMBLE_REQUEST_HEAD_TIMEOUT": "15s"}, "ENSEMBLE_REQUEST_HEAD_TIMEOUT must be a whole number (seconds), got '15s'"),
    (["--request-head-timeout", "0"], {}, "--request-head-timeout (ENSEMBLE_REQUEST_HEAD_TIMEOUT) must be between 1 and 3600 (seconds), got 0"),
    ([], {"ENSEMBLE_PORT": "http"}, "ENSEMBLE_PORT must be a whole number (a port number; 0 picks a free one), got 'http'"),
    (["--port=70000"], {}, "--port (ENSEMBLE_PORT) must be between 0 and 65535 (a port number; 0 picks a free one), got 70000"),
    ([], {"ENSEMBLE_ACCESS_LOG": "verbose"}, "ENSEMBLE_ACCESS_LOG must be 1 or 0 (true/false, yes/no, on/off), got 'verbose'"),
])
def test_serve_refuses_a_setting_it_cannot_read_and_says_which(tmp_path, args, env, says):
    """A typo in a setting stops the server with the setting's name, instead of being ignored."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ENSEMBLE_")}
    port = [] if "ENSEMBLE_PORT" in env or any(a.startswith("--port") for a in args) else ["--port", str(free_port())]
    done = subprocess.run([ensemble_binary(), "serve", "--data", str(tmp_path / "d"), *port, *args],
                          capture_output=True, text=True, timeout=60, env={**environment, **env})
    assert done.returncode != 0 and says in done.stderr, done.stderr


def test_partial_request_heads_are_cut_off(tmp_path):
    """A client that never finishes its request head (slowloris) loses the connection after the head
    timeout, however slowly it keeps trickling bytes; a client that finishes is served."""
    from _server import Server

    srv = Server(tmp_path / "data", tmp_path / "server.log", ["--request-head-timeout", "2"]).start()
    try:
        slow = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
        start = time.time()
        # Keep trickling a byte a second: still cut off, because the head never completes.
        for _ in range(3):
            for s in slow:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            time.sleep(1)
        assert all(_closed_within(s, 5) for s in slow)
        assert time.time() - start < 10
        for s in slow:
            s.close()
        # Keep-alive between requests: a second request within the timeout is served on the same connection.
        with requests.Session() as session:
            assert session.get(srv.url + "/health").text == "OK"
            time.sleep(0.5)
            assert session.get(srv.url + "/health").text == "OK"
        assert srv.healthy()
    finally:
        srv.stop()


def test_oversized_chunked_body_gets_413_and_the_connection_closes(shared_server):
    """A chunked body past the route's limit is answered 413 and the connection is closed, so a
    client streaming gigabytes is not read to the end (nor left waiting)."""
    s = socket.create_connection(("127.0.0.1", shared_server.port), timeout=10)
    try:
        s.sendall(
            b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        answer = b""
        closed = False
        sent = 0
        # Up to 64 MiB (the limit here is 4 MiB): the server must answer and close long before.
        while sent < 64 * 1024 * 1024:
            try:
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sent += len(chunk)
            s.setblocking(False)
            try:
                data = s.recv(65536)
                if data == b"":
                    closed = True
                    break
                answer += data
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed = True
                break
            finally:
                s.setblocking(True)
        if not closed:
            s.settimeout(5)
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        closed = True
                        break
                    answer += data
            except (socket.timeout, ConnectionResetError) as e:
                closed = isinstance(e, ConnectionResetError)
        assert closed, f"connection still open after {sent} bytes"
        assert sent < 64 * 1024 * 1024
        if answer:
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert b"connection: close" in answer.lower()
    finally:
        s.close()
    assert shared_server.healthy()
