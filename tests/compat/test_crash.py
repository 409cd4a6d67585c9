"""SIGKILL during a write load loses no acknowledged point."""

import threading
import time

import requests


def test_sigkill_during_writes_loses_nothing_acknowledged(server):
    rid = requests.post(server.api("runs/create"), json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        session = requests.Session()
        i = 0
        while not stop.is_set() and i < 100_000:
            step = w * 1_000_000 + i
            points = [{"key": "k", "value": 1.0, "timestamp": 1, "step": step + k} for k in range(10)]
            try:
                r = session.post(server.api("runs/log-batch"), json={"run_id": rid, "metrics": points}, timeout=5)
            except requests.RequestException:
                return  # the server is gone; whatever was not acknowledged may be lost
            if r.status_code == 200:
                with lock:
                    acked.extend(p["step"] for p in points)
            i += 10

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.kill()  # SIGKILL mid-load
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 100, "the load barely ran before the kill"

    server.start()  # same data folder
    history = requests.get(server.api("metrics/get-history"), params={"run_id": rid, "metric_key": "k"}).json()["metrics"]
    stored = {m["step"] for m in history}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged points lost"
    # The database is consistent: the latest value is there and new writes work.
    assert requests.get(server.api("runs/get"), params={"run_id": rid}).json()["run"]["data"]["metrics"]
    r = requests.post(server.api("runs/log-metric"), json={"run_id": rid, "key": "after", "value": 1, "timestamp": 1})
    assert r.status_code == 200
