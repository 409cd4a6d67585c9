"""`ensemble backup` while the server is writing, and `/ready`.

A writer thread logs metrics through the real mlflow client the whole time the backup runs. The
backup folder is then served by a second server: every run that was in the copied database is there
with all its metric points (each batch went in whole or not at all), the artifacts and a stored
dataset come back byte for byte, BACKUP.json's row counts equal the copy's, and SQLite's integrity
check passed. Bad destinations exit 2 and touch nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import requests

from _server import Server, ensemble_binary


def backup(*args, env=None):
    return subprocess.run([ensemble_binary(), "backup", *map(str, args)], capture_output=True, text=True, timeout=300, env=env)


def test_a_backup_taken_under_writes_serves_as_it_was(server, tmp_path):
    import mlflow
    from mlflow.entities import Metric

    client = mlflow.MlflowClient(server.url)
    exp = client.create_experiment("backed-up")
    fixed = client.create_run(exp).info.run_id
    client.log_batch(fixed, metrics=[Metric("loss", 1 / (i + 1), 0, i) for i in range(500)])
    payload = os.urandom(300_000)
    (tmp_path / "weights.bin").write_bytes(payload)
    client.log_artifact(fixed, str(tmp_path / "weights.bin"), "model")
    (tmp_path / "train.csv").write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(1000)))
    env = dict(os.environ, ENSEMBLE_SERVER=server.url)
    assert subprocess.run([ensemble_binary(), "dataset", "add", "train", str(tmp_path / "train.csv"), "--quiet"], env=env, capture_output=True).returncode == 0

    # A writer logs batches of 50 points to new runs for as long as the backup takes.
    stop = threading.Event()
    written: list[str] = []

    def writer():
        while not stop.is_set():
            run = client.create_run(exp).info.run_id
            client.log_batch(run, metrics=[Metric("acc", i / 50, 0, i) for i in range(50)])
            written.append(run)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.5)
        r = backup(tmp_path / "copy", "--data", server.data_dir, "--json")
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout)
    assert manifest["integrity"] == "ok" and manifest["files"] >= 2
    assert json.loads((tmp_path / "copy" / "BACKUP.json").read_text())["tables"] == manifest["tables"]
    assert not list((tmp_path / "copy").glob("*.partial"))

    restored = Server(tmp_path / "copy", tmp_path / "restored.log").start()
    try:
        other = mlflow.MlflowClient(restored.url)
        runs = other.search_runs([exp], max_results=5000)
        ids = {run.info.run_id for run in runs}
        assert fixed in ids and len(ids) == manifest["tables"]["runs"]
        assert len(other.get_metric_history(fixed, "loss")) == 500
        # Every writer run in the copy has its whole batch: none was caught half-written.
        copied = [run for run in written if run in ids]
        assert copied, "the writer ran while the backup was taken"
        for run in copied:
            assert len(other.get_metric_history(run, "acc")) in (0, 50)
        assert sum(len(other.get_metric_history(run, "acc")) for run in copied) + 500 == manifest["tables"]["metrics"]
        path = other.download_artifacts(fixed, "model/weights.bin", str(tmp_path / "down"))
        assert open(path, "rb").read() == payload
        out = tmp_path / "restored-data"
        env2 = dict(os.environ, ENSEMBLE_SERVER=restored.url)
        got = subprocess.run([ensemble_binary(), "dataset", "get", "train@1", str(out)], env=env2, capture_output=True, text=True)
        assert got.returncode == 0, got.stderr
        assert (out / "train.csv").read_text() == (tmp_path / "train.csv").read_text()
        assert requests.get(restored.url + "/ready", timeout=10).json() == {"status": "ready", "checks": {"database": "ok", "artifacts": "ok", "blobs": "ok"}}
    finally:
        restored.stop()


def test_bad_destinations_exit_2_and_touch_nothing(server, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    for args, words in [
        ([tmp_path / "full", "--data", server.data_dir], "not an empty folder"),
        ([tmp_path / "x", "--data", tmp_path / "nowhere"], "holds no ensemble.sqlite"),
        ([server.data_dir / "inside", "--data", server.data_dir], "cannot be inside the data folder"),
    ]:
        r = backup(*args)
        assert r.returncode == 2 and words in r.stderr, (args, r.returncode, r.stderr)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine" and os.listdir(tmp_path / "full") == ["keep.txt"]
    assert not (tmp_path / "x").exists() and not (server.data_dir / "inside").exists()
