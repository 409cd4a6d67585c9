"""MLflow 3.x logged models: `log_model` of a pyfunc model and loading it back."""

import mlflow
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def test_log_model_and_load_it_back(server):
    client = MlflowClient(server.url)
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        mlflow.log_metric("acc", 0.75)  # at the model's step (0), so log_model links it to the model
        info = mlflow.pyfunc.log_model(name="model", python_model=Doubler())
    assert info.model_id.startswith("m-")

    model = client.get_logged_model(info.model_id)
    assert model.status == LoggedModelStatus.READY
    assert model.name == "model"
    assert model.source_run_id == run.info.run_id
    assert model.artifact_location == f"mlflow-artifacts:/{run.info.experiment_id}/models/{info.model_id}/artifacts"
    # log_model re-logs the metrics at its step with the model's id.
    assert [(m.key, m.value) for m in model.metrics] == [("acc", 0.75)]
    # The run records the model as an output.
    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]

    # The files went through the proxy into the store (the data folder or the bucket).
    stored = server.artifact_files(f"{run.info.experiment_id}/models/{info.model_id}/artifacts")
    assert b"python_function" in stored["MLmodel"]
    assert len(stored["python_model.pkl"]) > 0

    frame = pd.DataFrame({"x": [1, 2, 3]})
    by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert by_run.predict(frame)["x"].tolist() == [2, 4, 6]
    by_id = mlflow.pyfunc.load_model(info.model_uri)
    assert by_id.predict(frame)["x"].tolist() == [2, 4, 6]


def test_logged_model_tags_params_search_and_delete(server):
    client = MlflowClient(server.url)
    exp = client.create_experiment("lm")
    run = client.create_run(exp)
    a = client.create_logged_model(exp, name="a", source_run_id=run.info.run_id, params={"lr": "0.1"}, tags={"team": "vision"})
    b = client.create_logged_model(exp, name="b", tags={"team": "nlp"})
    client.finalize_logged_model(a.model_id, "READY")
    client.set_logged_model_tags(b.model_id, {"stage": "dev"})
    client.delete_logged_model_tag(b.model_id, "team")
    assert client.get_logged_model(b.model_id).tags == {"stage": "dev"}
    client.log_model_params(a.model_id, {"depth": "3"})
    assert client.get_logged_model(a.model_id).params == {"lr": "0.1", "depth": "3"}

    found = client.search_logged_models(experiment_ids=[exp], filter_string="name = 'a'")
    assert [m.model_id for m in found] == [a.model_id]
    found = client.search_logged_models(experiment_ids=[exp], filter_string="tags.stage = 'dev'")
    assert [m.model_id for m in found] == [b.model_id]
    ordered = client.search_logged_models(experiment_ids=[exp], order_by=[{"field_name": "name", "ascending": False}])
    assert [m.name for m in ordered] == ["b", "a"]
    page = client.search_logged_models(experiment_ids=[exp], max_results=1)
    assert len(page) == 1 and page.token

    client.delete_logged_model(b.model_id)
    with pytest.raises(MlflowException) as e:
        client.get_logged_model(b.model_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert [m.name for m in client.search_logged_models(experiment_ids=[exp])] == ["a"]


def test_logged_model_artifact_routes_are_path_safe(server):
    client = MlflowClient(server.url)
    model = client.create_logged_model("0", name="files")
    base = server.url + f"/api/2.0/mlflow-artifacts/artifacts/0/models/{model.model_id}/artifacts"
    assert requests.put(base + "/sub/weights.bin", data=b"\x00\x01").status_code == 200
    api = server.api(f"logged-models/{model.model_id}/artifacts")
    listing = requests.get(api + "/directories").json()
    assert listing["files"] == [{"path": "sub", "is_dir": True}]
    assert requests.get(api + "/directories", params={"artifact_directory_path": "sub"}).json()["files"] == [
        {"path": "sub/weights.bin", "is_dir": False, "file_size": 2}
    ]
    assert requests.get(api + "/files", params={"artifact_file_path": "sub/weights.bin"}).content == b"\x00\x01"
    for bad in ["../../../../etc/passwd", "/etc/passwd", "sub/%2e%2e/%2e%2e/x"]:
        assert requests.get(api + "/files", params={"artifact_file_path": bad}).status_code == 400
        assert requests.get(api + "/directories", params={"artifact_directory_path": bad}).status_code == 400
    assert requests.get(server.api("logged-models/m-nothex/artifacts/directories")).status_code == 400
