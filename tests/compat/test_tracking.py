"""The MLflow client's tracking workflow against Ensemble: experiments, runs, params, metrics, tags."""

import math
import time
import uuid

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException, RestException


def unique(prefix="exp"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- experiments ------------------------------------------------------------------------------------


def test_default_experiment_exists(server):
    client = MlflowClient(server.url)
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"
    assert [e.name for e in client.search_experiments()] == ["Default"]


def test_set_experiment_creates_then_reuses(client):
    name = unique()
    first = mlflow.set_experiment(name)
    again = mlflow.set_experiment(name)
    assert first.experiment_id == again.experiment_id
    assert client.get_experiment_by_name(name).experiment_id == first.experiment_id
    assert client.get_experiment_by_name(unique("missing")) is None
    assert first.artifact_location == f"mlflow-artifacts:/{first.experiment_id}"


def test_duplicate_experiment_is_resource_already_exists(client):
    name = unique()
    client.create_experiment(name)
    with pytest.raises(RestException) as e:
        client.create_experiment(name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_rename_delete_restore_experiment(client):
    exp_id = client.create_experiment(unique())
    new_name = unique("renamed")
    client.rename_experiment(exp_id, new_name)
    assert client.get_experiment(exp_id).name == new_name
    run = client.create_run(exp_id)
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_experiment_tags(client):
    exp_id = client.create_experiment(unique(), tags={"team": "vision"})
    client.set_experiment_tag(exp_id, "stage", "")
    client.set_experiment_tag(exp_id, "team", "nlp")
    assert client.get_experiment(exp_id).tags == {"team": "nlp", "stage": ""}
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"stage": ""}


def test_search_experiments_filters_order_and_pages(server):
    client = MlflowClient(server.url)
    for name in ["a", "ab", "Abc"]:
        client.create_experiment(name, tags={"key": "value"} if name == "ab" else None)
    names = lambda es: [e.name for e in es]  # noqa: E731
    # Creation times can tie within a millisecond, so the default order is not asserted here.
    assert sorted(names(client.search_experiments(filter_string="name != 'a'"))) == ["Abc", "Default", "ab"]
    assert names(client.search_experiments(filter_string="tag.key ILIKE '%alu%'")) == ["ab"]
    assert sorted(names(client.search_experiments(filter_string="name LIKE 'a%'"))) == ["a", "ab"]
    assert names(client.search_experiments(order_by=["name DESC"])) == ["ab", "a", "Default", "Abc"]
    client.delete_experiment(client.get_experiment_by_name("a").experiment_id)
    assert names(client.search_experiments(view_type=ViewType.DELETED_ONLY)) == ["a"]
    assert len(client.search_experiments(view_type=ViewType.ALL)) == 4
    page1 = client.search_experiments(max_results=2)
    assert len(page1) == 2 and page1.token
    page2 = client.search_experiments(max_results=2, page_token=page1.token)
    assert len(page2) == 1
    assert page2.token is None
    assert set(names(page1) + names(page2)) == {"ab", "Abc", "Default"}


# -- runs ----------------------------------------------------------------------------------------------


def test_run_lifecycle_params_metrics_tags(client):
    mlflow.set_experiment(unique())
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"layers": 3, "opt": "adam", "empty": ""})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"a": "1", "blank": ""})
        run_id = run.info.run_id
        assert client.get_run(run_id).info.status == "RUNNING"
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "train"
    assert got.data.params == {"lr": "0.01", "layers": "3", "opt": "adam", "empty": ""}
    assert got.data.metrics == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "vision" and got.data.tags["blank"] == ""
    assert got.data.tags["mlflow.runName"] == "train"
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == [1.0, 0.5, 1 / 3, 0.25, 0.2]


def test_nested_runs_have_parent_tag(client):
    mlflow.set_experiment(unique())
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            pass
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_nan_and_infinity_metrics(client):
    run = client.create_run("0")
    rid = run.info.run_id
    client.log_metric(rid, "nan", float("nan"), step=0)
    client.log_metric(rid, "pinf", float("inf"), step=0)
    client.log_metric(rid, "ninf", float("-inf"), step=0)
    metrics = client.get_run(rid).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] >= 1.7976931348623157e308
    assert metrics["ninf"] <= -1.7976931348623157e308
    assert math.isnan(client.get_metric_history(rid, "nan")[0].value)


def test_latest_metric_is_at_the_highest_step(client):
    rid = client.create_run("0").info.run_id
    now = int(time.time() * 1000)
    client.log_batch(rid, metrics=[Metric("m", 5.0, now, 10), Metric("m", 7.0, now + 5, 2), Metric("m", 1.0, now, 11)])
    assert client.get_run(rid).data.metrics["m"] == 1.0
    assert [m.step for m in client.get_metric_history(rid, "m")] == [2, 10, 11]


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
    run = client.get_run(rid)
    assert len(run.data.params) == 100
    assert run.data.metrics["series"] == 29999.0


def test_set_terminated_statuses_and_rename(client):
    for status in ["FAILED", "KILLED", "FINISHED"]:
        rid = client.create_run("0").info.run_id
        client.set_terminated(rid, status=status)
        assert client.get_run(rid).info.status == status
    rid = client.create_run("0", run_name="before").info.run_id
    client.update_run(rid, name="after")
    got = client.get_run(rid)
    assert got.info.run_name == "after" and got.info.status == "RUNNING"
    assert got.data.tags["mlflow.runName"] == "after"


def test_delete_and_restore_run(client):
    rid = client.create_run("0").info.run_id
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException) as e:
        client.log_param(rid, "p", "1")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"
    client.log_param(rid, "p", "1")


def test_delete_tag(client):
    rid = client.create_run("0").info.run_id
    client.set_tag(rid, "x", "1")
    client.delete_tag(rid, "x")
    assert "x" not in client.get_run(rid).data.tags
    with pytest.raises(MlflowException) as e:
        client.delete_tag(rid, "x")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


# -- errors ---------------------------------------------------------------------------------------------


def test_unknown_run_is_resource_does_not_exist(client):
    with pytest.raises(RestException) as e:
        client.get_run("f" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_param_overwrite_is_refused_but_same_value_is_fine(client):
    rid = client.create_run("0").info.run_id
    client.log_param(rid, "lr", "0.1")
    client.log_param(rid, "lr", "0.1")
    with pytest.raises(MlflowException) as e:
        client.log_param(rid, "lr", "0.2")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in e.value.message
    assert client.get_run(rid).data.params == {"lr": "0.1"}


@pytest.mark.parametrize("key", ["a$b", "../x", "/abs", "a//b"])
def test_invalid_metric_keys(client, key):
    rid = client.create_run("0").info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_batch(rid, metrics=[Metric(key, 1.0, 0, 0)])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


# -- dataset inputs ---------------------------------------------------------------------------------


def test_log_input_dataset(client):
    # mlflow.log_input with a pandas/numpy dataset builds exactly these entities; the skinny client
    # has no numpy, so build them directly and send them through the same client call.
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
    assert inputs[0].dataset.profile == '{"num_rows": 10}'
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}
    found = client.search_runs([exp_id], "datasets.name = 'train' AND datasets.context = 'training'")
    assert [r.info.run_id for r in found] == [rid]
    assert client.search_runs([exp_id], "datasets.digest = 'other'") == []


# -- search ----------------------------------------------------------------------------------------------


@pytest.fixture
def search_runs(client):
    """Five runs with known data in a fresh experiment; returns (experiment id, run ids by name)."""
    exp_id = client.create_experiment(unique("search"))
    rows = [
        ("r0", 0.9, "cnn", "vision", "FINISHED"),
        ("r1", 0.4, "cnn", "Vision", "FAILED"),
        ("r2", 0.7, "rnn", None, "FINISHED"),
        ("r3", None, "mlp", "nlp", "RUNNING"),
        ("r4", 0.6, "rnn", "vis_ion", "FINISHED"),
    ]
    ids = {}
    for i, (name, acc, model, team, status) in enumerate(rows):
        run = client.create_run(exp_id, run_name=name, start_time=1_700_000_000_000 + i)
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric("acc", acc, 0, 0), Metric("my metric", i, 0, 0)] if acc is not None else [],
            params=[Param("model", model)],
            tags=[RunTag("team", team)] if team else [],
        )
        if status != "RUNNING":
            client.set_terminated(rid, status)
        ids[name] = rid
    return exp_id, ids


def names(runs):
    return [r.info.run_name for r in runs]


def test_search_runs_filters(client, search_runs):
    exp, ids = search_runs
    s = lambda f, **kw: names(client.search_runs([exp], f, **kw))  # noqa: E731
    assert s("") == ["r4", "r3", "r2", "r1", "r0"]
    assert s("metrics.acc > 0.5") == ["r4", "r2", "r0"]
    assert s("metrics.`my metric` >= 2") == ["r4", "r2"]
    assert s("params.model = 'cnn'") == ["r1", "r0"]
    assert s("params.model != 'cnn' and metrics.acc < 0.65") == ["r4"]
    assert s("tags.team LIKE 'vis%'") == ["r4", "r0"]
    assert s("tags.team ILIKE 'VIS%'") == ["r4", "r1", "r0"]
    assert s("tags.team IS NULL") == ["r2"]
    assert s("tags.team IS NOT NULL AND params.model = 'mlp'") == ["r3"]
    assert s("tags.team != 'nlp'") == ["r4", "r1", "r0"]
    assert s("attributes.status = 'FINISHED'") == ["r4", "r2", "r0"]
    assert s("attributes.run_name = 'r3'") == ["r3"]
    assert s(f"attributes.run_id IN ('{ids['r0']}', '{ids['r2']}')") == ["r2", "r0"]
    assert s("attributes.start_time > 1700000000002") == ["r4", "r3"]


def test_search_runs_order_by(client, search_runs):
    exp, _ = search_runs
    assert names(client.search_runs([exp], order_by=["metrics.acc DESC"])) == ["r0", "r2", "r4", "r1", "r3"]
    assert names(client.search_runs([exp], order_by=["metrics.acc ASC"])) == ["r1", "r4", "r2", "r0", "r3"]
    assert names(client.search_runs([exp], order_by=["params.model ASC", "attributes.start_time ASC"])) == ["r0", "r1", "r3", "r2", "r4"]
    assert names(client.search_runs([exp], order_by=["attributes.start_time"])) == ["r0", "r1", "r2", "r3", "r4"]


def test_search_runs_view_types_and_pagination(client, search_runs):
    exp, ids = search_runs
    client.delete_run(ids["r1"])
    assert names(client.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)) == ["r1"]
    assert len(client.search_runs([exp], run_view_type=ViewType.ALL)) == 5
    assert len(client.search_runs([exp])) == 4
    # Many runs with the same start time: the run id breaks ties so pages never overlap.
    for _ in range(8):
        client.create_run(exp, start_time=1_600_000_000_000)
    seen, token = [], None
    while True:
        page = client.search_runs([exp], max_results=3, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert len(seen) == 12 and len(set(seen)) == 12


@pytest.mark.parametrize(
    "bad", ["metrics.acc >", "metrics.acc > 1 OR metrics.acc < 0", "params.model = 'unclosed", "nope.x = 'y'", "params.lr = 0.1"]
)
def test_bad_filters_are_invalid_parameter_value(client, bad):
    with pytest.raises(MlflowException) as e:
        client.search_runs(["0"], bad)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
