"""MlflowClient.search_runs against Ensemble: the filter grammar, order_by, view types, pagination.

`mlflow.search_runs` needs pandas, so everything goes through `MlflowClient.search_runs`, which
returns Run objects.
"""

import math
import uuid

import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

T0 = 1_700_000_000_000


def unique(prefix="search"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def search_runs(client):
    """Five runs with known data in a fresh experiment; returns (experiment id, run ids by name)."""
    exp_id = client.create_experiment(unique())
    rows = [
        # name, acc,  model, team,      status,     user
        ("r0", 0.9, "cnn", "vision", "FINISHED", "alice"),
        ("r1", 0.4, "cnn", "Vision", "FAILED", "bob"),
        ("r2", 0.7, "rnn", None, "FINISHED", "alice"),
        ("r3", None, "mlp", "nlp", "RUNNING", "bob"),
        ("r4", 0.6, "rnn", "vis_ion", "FINISHED", "alice"),
    ]
    ids = {}
    for i, (name, acc, model, team, status, user) in enumerate(rows):
        run = client.create_run(exp_id, run_name=name, start_time=T0 + i, tags={"mlflow.user": user})
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric("acc", acc, 0, 0), Metric("my metric", i, 0, 0)] if acc is not None else [],
            params=[Param("model", model), Param("lr", "0.1" if i % 2 == 0 else "0.01")],
            tags=[RunTag("team", team)] if team else [],
        )
        if status != "RUNNING":
            client.set_terminated(rid, status, end_time=T0 + 1000 + i)
        ids[name] = rid
    return exp_id, ids


def names(runs):
    return [r.info.run_name for r in runs]


def test_search_runs_filters(client, search_runs):
    exp, ids = search_runs
    s = lambda f, **kw: names(client.search_runs([exp], f, **kw))  # noqa: E731
    # Default order: start_time DESC.
    assert s("") == ["r4", "r3", "r2", "r1", "r0"]
    assert s("metrics.acc > 0.5") == ["r4", "r2", "r0"]
    assert s("metrics.acc >= 0.7") == ["r2", "r0"]
    assert s("metrics.acc = 0.4") == ["r1"]
    assert s("metrics.acc != 0.4") == ["r4", "r2", "r0"]
    assert s("metrics.acc < 0.6") == ["r1"]
    assert s("metrics.acc <= 0.6") == ["r4", "r1"]
    assert s("metric.acc > 0.5") == ["r4", "r2", "r0"]
    assert s("metrics.`my metric` >= 2") == ["r4", "r2"]
    assert s('metrics."my metric" < 1') == ["r0"]
    assert s("params.lr = '0.1'") == ["r4", "r2", "r0"]
    assert s("params.model = 'cnn'") == ["r1", "r0"]
    assert s("param.model = \"cnn\"") == ["r1", "r0"]
    assert s("params.model != 'cnn' and metrics.acc < 0.65") == ["r4"]
    assert s("params.model LIKE '%n'") == ["r4", "r2", "r1", "r0"]
    assert s("params.model ILIKE 'CN_'") == ["r1", "r0"]
    assert s("params.missing IS NULL AND params.model = 'mlp'") == ["r3"]
    assert s("tags.team LIKE 'vis%'") == ["r4", "r0"]
    assert s("tags.team ILIKE 'VIS%'") == ["r4", "r1", "r0"]
    assert s("tags.team IS NULL") == ["r2"]
    assert s("tags.team IS NOT NULL") == ["r4", "r3", "r1", "r0"]
    assert s("tags.team IS NOT NULL AND params.model = 'mlp'") == ["r3"]
    assert s("tags.team != 'nlp'") == ["r4", "r1", "r0"]  # only runs that have the tag
    assert s("tag.team = 'vision'") == ["r0"]
    assert s("attributes.status = 'FINISHED'") == ["r4", "r2", "r0"]
    assert s("attributes.status != 'FINISHED'") == ["r3", "r1"]
    assert s("status = 'FAILED'") == ["r1"]
    assert s("attributes.run_name = 'r3'") == ["r3"]
    assert s("attributes.run_name LIKE 'r%' AND attributes.run_name != 'r0'") == ["r4", "r3", "r2", "r1"]
    assert s("attributes.run_name ILIKE 'R1'") == ["r1"]
    assert s("attributes.user_id = 'bob'") == ["r3", "r1"]
    assert s(f"attributes.run_id IN ('{ids['r0']}', '{ids['r2']}')") == ["r2", "r0"]
    assert s(f"attributes.run_id NOT IN ('{ids['r0']}', '{ids['r2']}')") == ["r4", "r3", "r1"]
    assert s(f"attributes.run_id = '{ids['r3']}'") == ["r3"]
    assert s(f"attributes.start_time > {T0 + 2}") == ["r4", "r3"]
    assert s(f"attributes.start_time <= {T0 + 1}") == ["r1", "r0"]
    assert s(f"attributes.created >= {T0 + 4}") == ["r4"]
    assert s(f"attributes.end_time > {T0 + 1001}") == ["r4", "r2"]
    assert s(f"attributes.artifact_uri = 'mlflow-artifacts:/{exp}/{ids['r2']}/artifacts'") == ["r2"]
    assert s("metrics.acc > 0.5 AND params.model = 'rnn' AND tags.team IS NOT NULL AND attributes.status = 'FINISHED'") == ["r4"]
    assert s("metrics.acc > 5") == []


def test_search_runs_across_experiments_and_dataset_filters(client):
    exp_a = client.create_experiment(unique())
    exp_b = client.create_experiment(unique())
    a = client.create_run(exp_a, run_name="a", start_time=T0).info.run_id
    b = client.create_run(exp_b, run_name="b", start_time=T0 + 1).info.run_id
    client.log_metric(a, "x", 1.0)
    client.log_metric(b, "x", 2.0)
    assert names(client.search_runs([exp_a, exp_b])) == ["b", "a"]
    assert names(client.search_runs([exp_a, exp_b], "metrics.x < 1.5")) == ["a"]
    train = Dataset(name="train", digest="d1", source_type="http", source='{"url": "https://example.com/t"}')
    evald = Dataset(name="eval", digest="d2", source_type="http", source='{"url": "https://example.com/e"}')
    client.log_inputs(a, [DatasetInput(train, [InputTag("mlflow.data.context", "training")])])
    client.log_inputs(b, [DatasetInput(evald, [InputTag("mlflow.data.context", "eval")])])
    s = lambda f: names(client.search_runs([exp_a, exp_b], f))  # noqa: E731
    assert s("datasets.name = 'train'") == ["a"]
    assert s("datasets.name IN ('train', 'eval')") == ["b", "a"]
    assert s("datasets.digest = 'd2'") == ["b"]
    assert s("datasets.context = 'training'") == ["a"]
    assert s("datasets.name LIKE 'ev%'") == ["b"]
    assert s("datasets.name != 'train'") == ["b"]


def test_search_runs_order_by(client, search_runs):
    exp, ids = search_runs
    o = lambda *order: names(client.search_runs([exp], order_by=list(order)))  # noqa: E731
    # A run without the metric sorts last in both directions.
    assert o("metrics.acc DESC") == ["r0", "r2", "r4", "r1", "r3"]
    assert o("metrics.acc ASC") == ["r1", "r4", "r2", "r0", "r3"]
    assert o("metrics.acc") == ["r1", "r4", "r2", "r0", "r3"]
    assert o("metrics.`my metric` DESC") == ["r4", "r2", "r1", "r0", "r3"]
    assert o("params.model ASC", "attributes.start_time ASC") == ["r0", "r1", "r3", "r2", "r4"]
    assert o("params.model DESC", "attributes.start_time DESC") == ["r4", "r2", "r3", "r1", "r0"]
    assert o("params.lr ASC", "attributes.start_time ASC") == ["r1", "r3", "r0", "r2", "r4"]
    assert o("attributes.start_time") == ["r0", "r1", "r2", "r3", "r4"]
    assert o("attributes.start_time DESC") == ["r4", "r3", "r2", "r1", "r0"]
    assert o("start_time ASC") == ["r0", "r1", "r2", "r3", "r4"]
    assert o("attributes.run_name DESC") == ["r4", "r3", "r2", "r1", "r0"]
    assert o("tags.team ASC") == ["r1", "r3", "r4", "r0", "r2"]  # byte order, missing last
    assert o("tags.team DESC") == ["r0", "r4", "r3", "r1", "r2"]
    # Ordering and filtering together, with pages.
    page = client.search_runs([exp], "metrics.acc > 0", order_by=["metrics.acc DESC"], max_results=2)
    assert names(page) == ["r0", "r2"] and page.token
    rest = client.search_runs([exp], "metrics.acc > 0", order_by=["metrics.acc DESC"], max_results=2, page_token=page.token)
    assert names(rest) == ["r4", "r1"]
    assert not rest.token


def test_nan_sorts_after_numbers_and_missing_last(client):
    exp = client.create_experiment(unique())
    for name, value in [("one", 1.0), ("nan", float("nan")), ("none", None), ("three", 3.0), ("inf", float("inf"))]:
        rid = client.create_run(exp, run_name=name).info.run_id
        if value is not None:
            client.log_metric(rid, "v", value)
    assert names(client.search_runs([exp], order_by=["metrics.v ASC"])) == ["one", "three", "inf", "nan", "none"]
    assert names(client.search_runs([exp], order_by=["metrics.v DESC"])) == ["inf", "three", "one", "nan", "none"]
    nan_run = client.search_runs([exp], "attributes.run_name = 'nan'")[0]
    assert math.isnan(nan_run.data.metrics["v"])


def test_ties_break_on_run_id(client):
    exp = client.create_experiment(unique())
    ids = [client.create_run(exp, start_time=T0).info.run_id for _ in range(9)]
    # start_time DESC, then run_id ASC.
    assert [r.info.run_id for r in client.search_runs([exp])] == sorted(ids)
    seen, token = [], None
    for _ in range(10):
        page = client.search_runs([exp], max_results=2, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert seen == sorted(ids)


def test_search_runs_view_types_and_pagination(client, search_runs):
    exp, ids = search_runs
    client.delete_run(ids["r1"])
    assert names(client.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)) == ["r1"]
    assert names(client.search_runs([exp], run_view_type=ViewType.ALL)) == ["r4", "r3", "r2", "r1", "r0"]
    assert names(client.search_runs([exp], run_view_type=ViewType.ACTIVE_ONLY)) == ["r4", "r3", "r2", "r0"]
    assert names(client.search_runs([exp])) == ["r4", "r3", "r2", "r0"]
    client.restore_run(ids["r1"])
    assert client.search_runs([exp], run_view_type=ViewType.DELETED_ONLY) == []
    # Many runs with the same start time: the run id breaks ties so pages never overlap.
    for _ in range(8):
        client.create_run(exp, start_time=1_600_000_000_000)
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([exp], max_results=3, page_token=token)
        assert len(page) <= 3
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
        assert pages < 20
    assert len(seen) == 13 and len(set(seen)) == 13
    assert pages == 5
    assert seen == [r.info.run_id for r in client.search_runs([exp])]


def test_search_runs_in_a_deleted_experiment(client):
    exp = client.create_experiment(unique())
    rid = client.create_run(exp).info.run_id
    client.delete_experiment(exp)
    assert client.search_runs([exp]) == []
    assert [r.info.run_id for r in client.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)] == [rid]


@pytest.mark.parametrize(
    "bad",
    [
        "metrics.acc >",
        "metrics.acc > 1 OR metrics.acc < 0",
        "(metrics.acc > 1) AND (metrics.acc < 2)",
        "params.model = 'unclosed",
        "nope.x = 'y'",
        "params.lr = 0.1",
        "metrics.acc > 'high'",
        "metrics.acc LIKE '1%'",
        "params.model > 'a'",
        "attributes.run_name IN ('a', 'b')",
        "attributes.nope = 'x'",
        "attributes.start_time = 'yesterday'",
    ],
)
def test_bad_filters_are_invalid_parameter_value(client, bad):
    with pytest.raises(MlflowException) as e:
        client.search_runs(["0"], bad)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE", e.value.message


@pytest.mark.parametrize("bad", ["metrics.acc UPWARDS", "nope.x", "metrics.acc DESC extra", ""])
def test_bad_order_by_is_invalid_parameter_value(client, bad):
    with pytest.raises(MlflowException) as e:
        client.search_runs(["0"], order_by=[bad])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE", e.value.message
