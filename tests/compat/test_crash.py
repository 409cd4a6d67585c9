"""SIGKILL during a write load loses nothing that was acknowledged."""

import threading
import time

import requests
from mlflow import MlflowClient

WRITERS = 8
LOAD_S = 3.0


def test_sigkill_during_writes_loses_nothing_acknowledged(server):
    exp = requests.post(server.api("experiments/create"), json={"name": "before-the-crash"}).json()["experiment_id"]
    rid = requests.post(server.api("runs/create"), json={"experiment_id": exp, "run_name": "crash"}).json()["run"]["info"]["run_id"]
    url = server.url  # the restarted server gets a new port
    acked_steps, acked_params = [], []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        session = requests.Session()
        i = 0
        while not stop.is_set() and i < 200_000:
            step = w * 10_000_000 + i
            try:
                if i % 50 == 40:
                    key = f"p{w}_{i}"
                    r = session.post(f"{url}/api/2.0/mlflow/runs/log-parameter", json={"run_id": rid, "key": key, "value": str(i)}, timeout=5)
                    if r.status_code == 200:
                        with lock:
                            acked_params.append(key)
                    i += 10
                    continue
                points = [{"key": "k", "value": float(step + k), "timestamp": 1, "step": step + k} for k in range(10)]
                r = session.post(f"{url}/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, "metrics": points}, timeout=5)
            except requests.RequestException:
                return  # the server is gone; whatever was not acknowledged may be lost
            if r.status_code == 200:
                with lock:
                    acked_steps.extend(p["step"] for p in points)
            i += 10

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    time.sleep(LOAD_S)
    server.kill()  # SIGKILL mid-load
    stop.set()
    for t in threads:
        t.join()
    assert len(acked_steps) > 100, "the load barely ran before the kill"
    assert acked_params, "no parameter was acknowledged before the kill"

    server.start()  # same data folder, new process
    history = requests.get(server.api("metrics/get-history"), params={"run_id": rid, "metric_key": "k"}).json()["metrics"]
    stored = {m["step"] for m in history}
    missing = set(acked_steps) - stored
    assert not missing, f"{len(missing)} of {len(acked_steps)} acknowledged points lost"
    assert all(m["value"] == float(m["step"]) for m in history)
    client = MlflowClient(server.url)
    run = client.get_run(rid)
    lost_params = set(acked_params) - set(run.data.params)
    assert not lost_params, f"{len(lost_params)} acknowledged params lost"
    # The database is consistent: the experiment and run are there, the latest value matches the
    # history, and new writes work.
    assert client.get_experiment(exp).name == "before-the-crash"
    assert run.info.run_name == "crash"
    assert run.data.metrics["k"] == float(max(stored))
    client.log_metric(rid, "after", 1.0)
    client.set_terminated(rid)
    assert client.get_run(rid).info.status == "FINISHED"
    assert [r.info.run_id for r in client.search_runs([exp])] == [rid]
