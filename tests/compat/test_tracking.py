"""The MLflow client's tracking workflow against Ensemble: experiments, runs, params, metrics, tags,
dataset inputs and the errors the client keys its behaviour on."""

import math
import time
import uuid

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException, RestException

MAX_DOUBLE = 1.7976931348623157e308


def unique(prefix="exp"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(call, *args, **kwargs) -> MlflowException:
    """Run `call`, which must raise an MlflowException, and return it."""
    with pytest.raises(MlflowException) as e:
        call(*args, **kwargs)
    return e.value


# -- experiments ------------------------------------------------------------------------------------


def test_default_experiment_exists(server):
    client = MlflowClient(server.url)
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"
    assert default.artifact_location == "mlflow-artifacts:/0"
    assert client.get_experiment_by_name("Default").experiment_id == "0"
    assert [e.name for e in client.search_experiments()] == ["Default"]
    # start_run without an experiment lands in "0".
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == "0"


def test_set_experiment_creates_then_reuses(client):
    name = unique()
    first = mlflow.set_experiment(name)
    again = mlflow.set_experiment(name)
    assert first.experiment_id == again.experiment_id
    assert first.name == name and first.lifecycle_stage == "active"
    assert client.get_experiment_by_name(name).experiment_id == first.experiment_id
    assert client.get_experiment_by_name(unique("missing")) is None
    assert first.artifact_location == f"mlflow-artifacts:/{first.experiment_id}"
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == first.experiment_id


def test_duplicate_experiment_is_resource_already_exists(client):
    name = unique()
    client.create_experiment(name)
    e = error_of(client.create_experiment, name)
    assert isinstance(e, RestException)
    assert e.error_code == "RESOURCE_ALREADY_EXISTS"
    assert e.get_http_status_code() == 400


def test_experiment_lookup_errors(client):
    e = error_of(client.get_experiment, "987654")
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "No Experiment with id=987654 exists" in e.message
    e = error_of(client.get_experiment, "not-a-number")
    assert e.error_code == "INVALID_PARAMETER_VALUE"
    r = requests.get(client.tracking_uri + "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "nope-" + unique()})
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_rename_delete_restore_experiment(client):
    exp_id = client.create_experiment(unique())
    created = client.get_experiment(exp_id)
    new_name = unique("renamed")
    time.sleep(0.01)
    client.rename_experiment(exp_id, new_name)
    renamed = client.get_experiment(exp_id)
    assert renamed.name == new_name
    assert renamed.last_update_time >= created.last_update_time
    assert client.get_experiment_by_name(new_name).experiment_id == exp_id
    runs = [client.create_run(exp_id).info.run_id for _ in range(2)]
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert all(client.get_run(r).info.lifecycle_stage == "deleted" for r in runs)
    # A deleted experiment accepts no new runs and cannot be "set".
    assert error_of(client.create_run, exp_id).error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        mlflow.set_experiment(new_name)
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert all(client.get_run(r).info.lifecycle_stage == "active" for r in runs)


def test_rename_to_taken_name_is_refused(client):
    a, b = unique("a"), unique("b")
    client.create_experiment(a)
    b_id = client.create_experiment(b)
    e = error_of(client.rename_experiment, b_id, a)
    assert e.get_http_status_code() < 500, (e.error_code, e.message)
    assert e.error_code in ("RESOURCE_ALREADY_EXISTS", "INVALID_PARAMETER_VALUE")
    assert client.get_experiment(b_id).name == b


def test_experiment_tags(client):
    exp_id = client.create_experiment(unique(), tags={"team": "vision"})
    client.set_experiment_tag(exp_id, "stage", "")
    client.set_experiment_tag(exp_id, "team", "nlp")
    assert client.get_experiment(exp_id).tags == {"team": "nlp", "stage": ""}
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"stage": ""}
    mlflow.set_experiment(experiment_id=exp_id)
    mlflow.set_experiment_tags({"x": "1", "y": "2"})
    assert client.get_experiment(exp_id).tags == {"stage": "", "x": "1", "y": "2"}


def test_search_experiments_filters_order_and_pages(server):
    client = MlflowClient(server.url)
    for name in ["a", "ab", "Abc"]:
        client.create_experiment(name, tags={"key": "value"} if name == "ab" else None)
    names = lambda es: [e.name for e in es]  # noqa: E731
    # Creation times can tie within a millisecond, so the default order is asserted elsewhere.
    assert sorted(names(client.search_experiments(filter_string="name != 'a'"))) == ["Abc", "Default", "ab"]
    assert names(client.search_experiments(filter_string="tag.key ILIKE '%alu%'")) == ["ab"]
    assert names(client.search_experiments(filter_string="tags.key = 'value'")) == ["ab"]
    assert sorted(names(client.search_experiments(filter_string="name LIKE 'a%'"))) == ["a", "ab"]
    assert sorted(names(client.search_experiments(filter_string="name ILIKE 'a%'"))) == ["Abc", "a", "ab"]
    assert names(client.search_experiments(order_by=["name DESC"])) == ["ab", "a", "Default", "Abc"]
    assert names(client.search_experiments(order_by=["name"])) == ["Abc", "Default", "a", "ab"]
    client.delete_experiment(client.get_experiment_by_name("a").experiment_id)
    assert names(client.search_experiments(view_type=ViewType.DELETED_ONLY)) == ["a"]
    assert len(client.search_experiments(view_type=ViewType.ALL)) == 4
    assert sorted(names(client.search_experiments(view_type=ViewType.ACTIVE_ONLY))) == ["Abc", "Default", "ab"]
    page1 = client.search_experiments(max_results=2)
    assert len(page1) == 2 and page1.token
    page2 = client.search_experiments(max_results=2, page_token=page1.token)
    assert len(page2) == 1
    assert page2.token is None
    assert sorted(names(page1) + names(page2)) == ["Abc", "Default", "ab"]


def test_search_experiments_default_order_and_page_walk(server):
    client = MlflowClient(server.url)
    ids = []
    for i in range(7):
        ids.append(client.create_experiment(f"e{i}"))
        time.sleep(0.005)  # distinct creation times
    # Default order: creation_time DESC, experiment_id ASC.
    assert [e.experiment_id for e in client.search_experiments()] == ids[::-1] + ["0"]
    seen, token, pages = [], None, 0
    while True:
        page = client.search_experiments(max_results=3, page_token=token)
        seen += [e.experiment_id for e in page]
        pages += 1
        token = page.token
        if token is None:
            break
        assert pages < 10
    assert seen == ids[::-1] + ["0"]
    assert pages == 3
    assert sorted(e.experiment_id for e in client.search_experiments(filter_string=f"experiment_id IN ('{ids[1]}', '{ids[3]}')")) == sorted([ids[1], ids[3]])
    third = client.get_experiment(ids[3])
    later = [e.experiment_id for e in client.search_experiments(filter_string=f"creation_time > {third.creation_time}")]
    assert set(later) <= set(ids[4:]) and ids[6] in later


# -- runs ----------------------------------------------------------------------------------------------


def test_run_lifecycle_params_metrics_tags(client):
    exp = mlflow.set_experiment(unique())
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"layers": 3, "opt": "adam", "empty": ""})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"a": "1", "blank": ""})
        run_id = run.info.run_id
        running = client.get_run(run_id)
        assert running.info.status == "RUNNING"
        assert running.info.end_time is None
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "train"
    assert got.info.experiment_id == exp.experiment_id
    assert got.info.lifecycle_stage == "active"
    assert got.info.artifact_uri == f"mlflow-artifacts:/{exp.experiment_id}/{run_id}/artifacts"
    assert len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id)
    assert got.data.params == {"lr": "0.01", "layers": "3", "opt": "adam", "empty": ""}
    assert got.data.metrics == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "vision" and got.data.tags["blank"] == ""
    assert got.data.tags["mlflow.runName"] == "train"
    assert "mlflow.user" in got.data.tags and "mlflow.source.name" in got.data.tags
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == [1.0, 0.5, 1 / 3, 0.25, 0.2]


def test_run_without_name_gets_one(client):
    run = client.create_run("0")
    assert run.info.run_name
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == run.info.run_name


def test_run_name_conflicting_with_tag_is_refused(client):
    e = error_of(client.create_run, "0", run_name="a", tags={"mlflow.runName": "b"})
    assert e.error_code == "INVALID_PARAMETER_VALUE"


def test_nested_runs_have_parent_tag(client):
    mlflow.set_experiment(unique())
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            with mlflow.start_run(nested=True) as grandchild:
                pass
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert client.get_run(grandchild.info.run_id).data.tags["mlflow.parentRunId"] == child.info.run_id
    assert "mlflow.parentRunId" not in client.get_run(parent.info.run_id).data.tags
    found = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert [r.info.run_id for r in found] == [child.info.run_id]


def test_nan_and_infinity_metrics(client):
    run = client.create_run("0")
    rid = run.info.run_id
    client.log_metric(rid, "nan", float("nan"), step=0)
    client.log_metric(rid, "pinf", float("inf"), step=0)
    client.log_metric(rid, "ninf", float("-inf"), step=0)
    metrics = client.get_run(rid).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] >= MAX_DOUBLE
    assert metrics["ninf"] <= -MAX_DOUBLE
    assert math.isnan(client.get_metric_history(rid, "nan")[0].value)
    assert client.get_metric_history(rid, "pinf")[0].value >= MAX_DOUBLE
    assert client.get_metric_history(rid, "ninf")[0].value <= -MAX_DOUBLE


def test_fluent_log_metrics_with_steps_nan_and_infinity(client):
    mlflow.set_experiment(unique())
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0, step=0)
        mlflow.log_metric("m", float("nan"), step=1)
        mlflow.log_metric("m", float("inf"), step=2)
        mlflow.log_metric("m", float("-inf"), step=3)
        mlflow.log_metric("m", -2.5, step=-1)  # negative steps are allowed
        mlflow.log_metrics({"m": 42.0, "other": float("nan")}, step=7)
    rid = run.info.run_id
    history = client.get_metric_history(rid, "m")
    assert [h.step for h in history] == [-1, 0, 1, 2, 3, 7]
    values = [h.value for h in history]
    assert values[0] == -2.5 and values[1] == 1.0
    assert math.isnan(values[2])
    assert values[3] >= MAX_DOUBLE and values[4] <= -MAX_DOUBLE
    assert values[5] == 42.0
    metrics = client.get_run(rid).data.metrics
    assert metrics["m"] == 42.0  # the value at the highest step
    assert math.isnan(metrics["other"])


def test_latest_metric_is_at_the_highest_step(client):
    rid = client.create_run("0").info.run_id
    now = int(time.time() * 1000)
    client.log_batch(rid, metrics=[Metric("m", 5.0, now, 10), Metric("m", 7.0, now + 5, 2), Metric("m", 1.0, now, 11)])
    assert client.get_run(rid).data.metrics["m"] == 1.0
    assert [m.step for m in client.get_metric_history(rid, "m")] == [2, 10, 11]
    # An older step logged later does not replace the latest value.
    client.log_metric(rid, "m", 99.0, timestamp=now + 1000, step=3)
    assert client.get_run(rid).data.metrics["m"] == 1.0
    # Same step, later timestamp: that one is the latest.
    client.log_metric(rid, "m", 3.0, timestamp=now + 10, step=11)
    assert client.get_run(rid).data.metrics["m"] == 3.0


def test_history_order_and_duplicate_points(client):
    rid = client.create_run("0").info.run_id
    client.log_batch(
        rid,
        metrics=[Metric("h", 2.0, 200, 1), Metric("h", 1.0, 100, 1), Metric("h", 5.0, 50, 0), Metric("h", 0.5, 100, 1)],
    )
    # The exact same point (key, value, timestamp, step) logged again is stored once.
    client.log_metric(rid, "h", 2.0, timestamp=200, step=1)
    history = client.get_metric_history(rid, "h")
    assert [(h.step, h.timestamp, h.value) for h in history] == [(0, 50, 5.0), (1, 100, 0.5), (1, 100, 1.0), (1, 200, 2.0)]
    assert client.get_metric_history(rid, "no-such-metric") == []


def test_log_batch_and_long_history_pagination(client):
    rid = client.create_run("0").info.run_id
    now = int(time.time() * 1000)
    # 30,000 points: the client pages get-history with max_results=25000.
    for start in range(0, 30000, 1000):
        client.log_batch(rid, metrics=[Metric("series", float(i), now, i) for i in range(start, start + 1000)])
    client.log_batch(rid, params=[Param(f"p{i}", str(i)) for i in range(100)], tags=[RunTag(f"t{i}", "v") for i in range(100)])
    history = client.get_metric_history(rid, "series")
    assert len(history) == 30000
    assert [m.step for m in history] == list(range(30000))
    assert all(m.value == float(m.step) for m in history)
    run = client.get_run(rid)
    assert run.data.params == {f"p{i}": str(i) for i in range(100)}
    assert all(run.data.tags[f"t{i}"] == "v" for i in range(100))
    assert run.data.metrics["series"] == 29999.0


def test_log_batch_mixed_and_client_side_chunking(client):
    rid = client.create_run("0").info.run_id
    # 250 params and 150 tags: the client splits these into several requests.
    client.log_batch(
        rid,
        metrics=[Metric("a", 1.0, 1, 0), Metric("b", 2.0, 1, 0)],
        params=[Param(f"p{i:03d}", "v") for i in range(250)],
        tags=[RunTag(f"t{i:03d}", "") for i in range(150)],
    )
    run = client.get_run(rid)
    assert len(run.data.params) == 250
    assert sum(1 for k in run.data.tags if k.startswith("t")) == 150
    assert run.data.metrics == {"a": 1.0, "b": 2.0}


def test_log_batch_with_conflicting_param_stores_nothing(client):
    rid = client.create_run("0").info.run_id
    client.log_param(rid, "p", "1")
    e = error_of(client.log_batch, rid, metrics=[Metric("should_not_exist", 1.0, 1, 0)], params=[Param("p", "2")], tags=[RunTag("nor_this", "x")])
    assert e.error_code == "INVALID_PARAMETER_VALUE"
    run = client.get_run(rid)
    assert run.data.params == {"p": "1"}
    assert "should_not_exist" not in run.data.metrics
    assert "nor_this" not in run.data.tags
    # The same value again inside a batch is fine.
    client.log_batch(rid, params=[Param("p", "1")])


def test_set_terminated_statuses_and_rename(client):
    for status in ["FAILED", "KILLED", "FINISHED"]:
        rid = client.create_run("0").info.run_id
        client.set_terminated(rid, status=status)
        info = client.get_run(rid).info
        assert info.status == status
        assert info.end_time is not None and info.end_time >= info.start_time
    rid = client.create_run("0").info.run_id
    client.set_terminated(rid, status="FAILED", end_time=1_800_000_000_000)
    assert client.get_run(rid).info.end_time == 1_800_000_000_000
    rid = client.create_run("0", run_name="before").info.run_id
    client.update_run(rid, name="after")
    got = client.get_run(rid)
    assert got.info.run_name == "after" and got.info.status == "RUNNING" and got.info.end_time is None
    assert got.data.tags["mlflow.runName"] == "after"
    client.update_run(rid, status="KILLED")
    got = client.get_run(rid)
    assert got.info.run_name == "after" and got.info.status == "KILLED"


def test_fluent_end_run_with_failed_status(client):
    mlflow.set_experiment(unique())
    run = mlflow.start_run()
    mlflow.end_run(status="FAILED")
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as failing:
            1 / 0
    assert client.get_run(failing.info.run_id).info.status == "FAILED"


def test_set_tag_run_name_renames_the_run(client):
    rid = client.create_run("0", run_name="old").info.run_id
    client.set_tag(rid, "mlflow.runName", "new")
    got = client.get_run(rid)
    assert got.info.run_name == "new"
    assert got.data.tags["mlflow.runName"] == "new"


def test_delete_and_restore_run(client):
    rid = client.create_run("0").info.run_id
    assert client.get_run(rid).info.lifecycle_stage == "active"
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"
    client.log_param(rid, "p", "1")
    assert client.get_run(rid).data.params == {"p": "1"}


@pytest.mark.parametrize(
    "write",
    [
        lambda c, rid: c.log_param(rid, "p", "1"),
        lambda c, rid: c.log_metric(rid, "m", 1.0),
        lambda c, rid: c.set_tag(rid, "t", "1"),
        lambda c, rid: c.delete_tag(rid, "existing"),
        lambda c, rid: c.log_batch(rid, metrics=[Metric("m", 1.0, 1, 0)]),
        lambda c, rid: c.set_terminated(rid, "FINISHED"),
        lambda c, rid: c.update_run(rid, name="renamed"),
    ],
    ids=["log_param", "log_metric", "set_tag", "delete_tag", "log_batch", "set_terminated", "update_run"],
)
def test_writes_to_a_deleted_run_are_refused(client, write):
    rid = client.create_run("0").info.run_id
    client.set_tag(rid, "existing", "x")
    client.delete_run(rid)
    e = error_of(write, client, rid)
    assert e.error_code == "INVALID_PARAMETER_VALUE"
    assert "must be in the 'active' state" in e.message
    got = client.get_run(rid)
    assert got.data.params == {} and got.data.metrics == {}
    assert got.data.tags["existing"] == "x"
    assert got.info.status == "RUNNING"


def test_delete_tag(client):
    rid = client.create_run("0").info.run_id
    client.set_tag(rid, "x", "1")
    client.delete_tag(rid, "x")
    assert "x" not in client.get_run(rid).data.tags
    e = error_of(client.delete_tag, rid, "x")
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert e.get_http_status_code() == 404


def test_set_tag_overwrites(client):
    rid = client.create_run("0").info.run_id
    client.set_tag(rid, "t", "1")
    client.set_tag(rid, "t", "2")
    assert client.get_run(rid).data.tags["t"] == "2"


# -- errors ---------------------------------------------------------------------------------------------


def test_unknown_run_is_resource_does_not_exist(client):
    e = error_of(client.get_run, "f" * 32)
    assert isinstance(e, RestException)
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Run with id={'f' * 32} not found" in e.message
    for write in (lambda: client.log_param("e" * 32, "p", "1"), lambda: client.log_metric("e" * 32, "m", 1.0), lambda: client.set_tag("e" * 32, "t", "1")):
        assert error_of(write).error_code == "RESOURCE_DOES_NOT_EXIST"


def test_param_overwrite_is_refused_but_same_value_is_fine(client):
    rid = client.create_run("0").info.run_id
    client.log_param(rid, "lr", "0.1")
    client.log_param(rid, "lr", "0.1")
    e = error_of(client.log_param, rid, "lr", "0.2")
    assert e.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in e.message
    assert client.get_run(rid).data.params == {"lr": "0.1"}


@pytest.mark.parametrize("key", ["a$b", "../x", "/abs", "a//b", "x/..", ".", "a\\b", "tab\tkey", ""])
def test_invalid_metric_keys(client, key):
    rid = client.create_run("0").info.run_id
    for log in (
        lambda: client.log_batch(rid, metrics=[Metric(key, 1.0, 0, 0)]),
        lambda: client.log_metric(rid, key, 1.0),
    ):
        e = error_of(log)
        assert e.error_code == "INVALID_PARAMETER_VALUE", (key, e.message)
    assert client.get_run(rid).data.metrics == {}


@pytest.mark.parametrize("key", ["a$b", "../x", "/abs"])
def test_invalid_param_and_tag_keys(client, key):
    rid = client.create_run("0").info.run_id
    assert error_of(client.log_param, rid, key, "1").error_code == "INVALID_PARAMETER_VALUE"
    assert error_of(client.set_tag, rid, key, "1").error_code == "INVALID_PARAMETER_VALUE"


def test_valid_unusual_keys(client):
    rid = client.create_run("0").info.run_id
    keys = ["with space", "a/b/c", "colon:key", "dash-dot.under_score", "ünïcödé", "x" * 250]
    client.log_batch(rid, metrics=[Metric(k, 1.0, 1, 0) for k in keys], params=[Param(k, "v") for k in keys])
    run = client.get_run(rid)
    assert sorted(run.data.metrics) == sorted(keys)
    assert sorted(run.data.params) == sorted(keys)
    assert [m.value for m in client.get_metric_history(rid, "a/b/c")] == [1.0]


def test_length_limits(client):
    rid = client.create_run("0").info.run_id
    e = error_of(client.log_param, rid, "k" * 251, "v")
    assert e.error_code == "INVALID_PARAMETER_VALUE"
    # Over-long param (6000) and tag (8000) values are truncated like MLflow does by default, or
    # refused; either way nothing longer than the limit is stored.
    for call, limit, read in (
        (lambda: client.log_param(rid, "long", "x" * 6001), 6000, lambda run: run.data.params.get("long")),
        (lambda: client.set_tag(rid, "long", "y" * 8001), 8000, lambda run: run.data.tags.get("long")),
    ):
        try:
            call()
        except MlflowException as err:
            assert err.error_code == "INVALID_PARAMETER_VALUE"
            assert read(client.get_run(rid)) is None
        else:
            assert len(read(client.get_run(rid))) == limit
    exp = client.create_experiment(unique())
    assert error_of(client.set_experiment_tag, exp, "big", "z" * 20001).error_code == "INVALID_PARAMETER_VALUE"
    assert error_of(client.create_experiment, "n" * 501).error_code == "INVALID_PARAMETER_VALUE"


# -- dataset inputs ---------------------------------------------------------------------------------


def test_log_input_meta_dataset_with_fluent_api(client):
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    exp = mlflow.set_experiment(unique())
    ds = MetaDataset(source=HTTPDatasetSource("https://example.com/d.csv"), name="d", digest="abc123")
    with mlflow.start_run() as run:
        mlflow.log_input(ds, context="training")
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "d"
    assert inputs[0].dataset.digest == "abc123"
    assert inputs[0].dataset.source_type == "http"
    assert "https://example.com/d.csv" in inputs[0].dataset.source
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}
    found = client.search_runs([exp.experiment_id], "datasets.name = 'd'")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert client.search_runs([exp.experiment_id], "datasets.context = 'eval'") == []


def test_log_input_dataset(client):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    exp_id = client.create_experiment(unique())
    rid = client.create_run(exp_id).info.run_id
    dataset = Dataset(
        name="train", digest="abc123", source_type="http", source='{"url": "https://example.com/train.csv"}',
        schema='{"mlflow_colspec": []}', profile='{"num_rows": 10}',
    )
    client.log_inputs(rid, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    client.log_inputs(rid, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    inputs = client.get_run(rid).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "train"
    assert inputs[0].dataset.digest == "abc123"
    assert inputs[0].dataset.source == '{"url": "https://example.com/train.csv"}'
    assert inputs[0].dataset.schema == '{"mlflow_colspec": []}'
    assert inputs[0].dataset.profile == '{"num_rows": 10}'
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}
    found = client.search_runs([exp_id], "datasets.name = 'train' AND datasets.context = 'training'")
    assert [r.info.run_id for r in found] == [rid]
    assert client.search_runs([exp_id], "datasets.digest = 'other'") == []
    # A second dataset on the same run.
    other = Dataset(name="eval", digest="def456", source_type="http", source='{"url": "https://example.com/eval.csv"}')
    client.log_inputs(rid, [DatasetInput(other, tags=[InputTag("mlflow.data.context", "eval")])])
    assert sorted(i.dataset.name for i in client.get_run(rid).inputs.dataset_inputs) == ["eval", "train"]
