"""`ensemble dataset add/get/list` and `ensemble lineage` against a real server, with the real client
logging a stored dataset version as a run input and registering a model trained on it."""

import json
import os
import subprocess
from pathlib import Path

import mlflow
import pytest
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.meta_dataset import MetaDataset

from _server import ensemble_binary


def cli(server, *args, check=True):
    env = dict(os.environ, ENSEMBLE_SERVER=server.url)
    result = subprocess.run([ensemble_binary(), *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert result.returncode == 0, f"ensemble {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def test_add_get_and_lineage(server, tmp_path):
    data = tmp_path / "iris"
    (data / "raw").mkdir(parents=True)
    (data / "train.csv").write_text("x,y\n1,2\n3,4\n")
    (data / "raw" / "blob.bin").write_bytes(os.urandom(1_500_000))
    (data / "same.csv").write_text("x,y\n1,2\n3,4\n")

    added = cli(server, "dataset", "add", "iris", str(data), "--description", "first cut")
    assert "Added iris@1: 3 files" in added.stdout
    assert "uploaded 2 new file(s)" in added.stdout  # train.csv and same.csv share one content
    assert "hashing" in added.stderr  # progress goes to stderr
    digest = next(line.split("digest=")[1] for line in added.stdout.splitlines() if "digest=" in line)

    again = cli(server, "dataset", "add", "iris", str(data))
    assert "Unchanged: iris@1" in again.stdout

    (data / "train.csv").write_text("x,y\n1,2\n3,5\n")  # one byte
    assert "Added iris@2" in cli(server, "dataset", "add", "iris", str(data)).stdout

    out = tmp_path / "restored"
    cli(server, "dataset", "get", "iris@2", str(out))
    assert tree(out) == tree(data)
    out1 = tmp_path / "restored1"
    cli(server, "dataset", "get", "iris@1", str(out1))
    assert (out1 / "train.csv").read_text() == "x,y\n1,2\n3,4\n"
    assert (out1 / "raw" / "blob.bin").read_bytes() == (data / "raw" / "blob.bin").read_bytes()

    listing = cli(server, "dataset", "list", "iris").stdout
    assert "iris@2" in listing and "iris@1" in listing and "first cut" in listing
    manifest = json.loads(cli(server, "dataset", "show", "iris@1").stdout)["version"]
    assert [f["path"] for f in manifest["files"]] == ["raw/blob.bin", "same.csv", "train.csv"]
    assert manifest["digest"].startswith(digest)

    # A run trains on iris@1 (logged with the MLflow digest the CLI printed) and registers a model.
    mlflow.set_experiment("lineage-cli")
    source = HTTPDatasetSource(f"{server.url}/api/v1/datasets/iris/versions/1")
    with mlflow.start_run() as run:
        mlflow.log_input(MetaDataset(source=source, name="iris", digest=digest), context="training")
        mlflow.pyfunc.log_model(name="model", python_model=Doubler(), registered_model_name="iris-model")
    mlflow.MlflowClient(server.url).set_registered_model_alias("iris-model", "champion", "1")

    graph = json.loads(cli(server, "lineage", "models:/iris-model@champion").stdout)
    nodes = {n["id"]: n for n in graph["nodes"]}
    dataset_node = nodes[f"dataset:iris@{digest}"]
    attributes = {a["key"]: a["value"] for a in dataset_node["attributes"]}
    assert attributes["stored_version"] == "1" and attributes["files"] == "3"
    assert f"run:{run.info.run_id}" in nodes
    assert {"from": f"run:{run.info.run_id}", "to": f"dataset:iris@{digest}", "relation": "trained_on"} in graph["edges"]

    # From the dataset side: the run that trained on it.
    back = json.loads(cli(server, "lineage", "datasets:/iris@1").stdout)
    assert f"run:{run.info.run_id}" in {n["id"] for n in back["nodes"]}
    dot = cli(server, "lineage", "models:/iris-model/1", "--format", "dot").stdout
    assert dot.startswith("digraph lineage {") and "trained_on" in dot


@pytest.mark.parametrize(
    "args, message",
    [
        (["dataset", "get", "nope@1", "DIR"], "No stored dataset named 'nope'"),
        (["dataset", "add", "bad/name", "."], "Invalid dataset name"),
        (["dataset", "get", "iris@zero", "DIR"], "must be a positive number"),
        (["dataset", "add", "x", "/definitely/not/here"], "does not exist"),
        (["lineage", "models:/nothing/1"], "not found"),
        (["lineage", "somewhere"], "Start from models:/"),
    ],
)
def test_cli_errors_are_clear(server, tmp_path, args, message):
    args = [str(tmp_path / "d") if a == "DIR" else a for a in args]
    result = cli(server, *args, check=False)
    assert result.returncode != 0
    assert message.lower() in (result.stderr + result.stdout).lower(), result.stderr


def test_unreachable_server_says_what_to_do(tmp_path):
    env = dict(os.environ, ENSEMBLE_SERVER="http://127.0.0.1:9")
    result = subprocess.run([ensemble_binary(), "dataset", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert "Is `ensemble serve` running" in result.stderr
