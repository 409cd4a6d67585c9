"""The model registry with the real client: register, alias, load by alias, stages, search, rename, delete."""

import warnings

import mlflow
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def test_register_alias_and_load_by_alias(server):
    client = MlflowClient(server.url)
    mlflow.set_experiment("registry")
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Doubler(), registered_model_name="doubler")
    assert str(info.registered_model_version) == "1"
    version = client.get_model_version("doubler", "1")
    assert version.status == "READY"
    assert version.run_id == run.info.run_id
    raw = requests.get(server.api("model-versions/get"), params={"name": "doubler", "version": "1"}).json()["model_version"]
    assert raw["model_id"] == info.model_id
    assert raw["source"] == f"models:/{info.model_id}"
    # A version registered from a logged model downloads from the model's own artifact folder.
    assert client.get_model_version_download_uri("doubler", "1") == (
        f"mlflow-artifacts:/{run.info.experiment_id}/models/{info.model_id}/artifacts"
    )

    client.set_registered_model_alias("doubler", "champion", "1")
    assert client.get_model_version_by_alias("doubler", "champion").version == "1"
    frame = pd.DataFrame({"x": [5]})
    assert mlflow.pyfunc.load_model("models:/doubler@champion").predict(frame)["x"].tolist() == [10]
    assert mlflow.pyfunc.load_model("models:/doubler/1").predict(frame)["x"].tolist() == [10]

    second = mlflow.register_model(f"runs:/{run.info.run_id}/model", "doubler")
    assert second.version == "2"
    client.set_registered_model_alias("doubler", "champion", "2")
    model = client.get_registered_model("doubler")
    assert model.aliases == {"champion": "2"}
    client.delete_registered_model_alias("doubler", "champion")
    with pytest.raises(MlflowException) as e:
        client.get_model_version_by_alias("doubler", "champion")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        client.set_registered_model_alias("doubler", "latest", "1")


def test_stage_transitions_with_archiving(server):
    client = MlflowClient(server.url)
    run = client.create_run("0")
    client.create_registered_model("staged")
    for _ in range(3):
        client.create_model_version("staged", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated in MLflow; they still work
        client.transition_model_version_stage("staged", "1", "Production")
        client.transition_model_version_stage("staged", "2", "production")
        client.transition_model_version_stage("staged", "3", "Production", archive_existing_versions=True)
        latest = client.get_latest_versions("staged", stages=["Production"])
    assert [v.version for v in latest] == ["3"]
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'staged'")}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Production"}


def test_search_rename_delete_and_numbering(server):
    client = MlflowClient(server.url)
    run = client.create_run("0")
    for name in ["alpha", "beta", "gamma"]:
        client.create_registered_model(name, tags={"team": "vision" if name != "gamma" else "nlp"}, description=f"{name} model")
    assert [m.name for m in client.search_registered_models()] == ["alpha", "beta", "gamma"]
    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'a%'")] == ["alpha"]
    assert [m.name for m in client.search_registered_models(filter_string="tags.team = 'vision'")] == ["alpha", "beta"]
    assert [m.name for m in client.search_registered_models(order_by=["name DESC"])] == ["gamma", "beta", "alpha"]
    page = client.search_registered_models(max_results=2)
    assert [m.name for m in page] == ["alpha", "beta"] and page.token
    rest = client.search_registered_models(max_results=2, page_token=page.token)
    assert [m.name for m in rest] == ["gamma"] and not rest.token

    for _ in range(3):
        client.create_model_version("alpha", f"runs:/{run.info.run_id}/m", run_id=run.info.run_id)
    client.delete_model_version("alpha", "3")
    assert client.create_model_version("alpha", f"runs:/{run.info.run_id}/m", run_id=run.info.run_id).version == "4"
    assert sorted(v.version for v in client.search_model_versions(f"run_id = '{run.info.run_id}'")) == ["1", "2", "4"]
    assert [v.version for v in client.search_model_versions("name = 'alpha'", max_results=2)] == ["4", "2"]

    client.rename_registered_model("alpha", "omega")
    assert client.get_model_version("omega", "4").name == "omega"
    client.update_registered_model("omega", description="renamed")
    assert client.get_registered_model("omega").description == "renamed"
    client.update_model_version("omega", "4", description="fourth")
    assert client.get_model_version("omega", "4").description == "fourth"
    client.set_model_version_tag("omega", "4", "validated", "yes")
    assert client.get_model_version("omega", "4").tags == {"validated": "yes"}
    client.delete_registered_model("omega")
    with pytest.raises(MlflowException) as e:
        client.get_registered_model("omega")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_registry_errors(server):
    client = MlflowClient(server.url)
    client.create_registered_model("dup")
    with pytest.raises(MlflowException) as e:
        client.create_registered_model("dup")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as e:
        client.get_model_version("dup", "7")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.create_model_version("dup", "/etc/passwd")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.create_model_version("dup", "runs:/../../etc")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_alias_history_records_who_with_the_real_client(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-checked-yet")
    client = MlflowClient(server.url)
    client.create_registered_model("who")
    client.create_model_version("who", "s3://bucket/who")
    client.set_registered_model_alias("who", "champion", "1")
    events = requests.get(f"{server.url}/api/v1/models/who/history").json()["events"]
    assert [(e["kind"], e.get("actor")) for e in events] == [("version_created", "ana"), ("alias_set", "ana")]
