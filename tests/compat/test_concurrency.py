"""32 concurrent clients logging to the same run for 10 s: no errors, no lost points."""

import threading
import time

import requests
from mlflow import MlflowClient

WRITERS = 32
DURATION_S = 10.0
MAX_REQUESTS = 200_000  # bound on total work, whatever the machine's speed
T0 = 1_700_000_000_000


def test_32_concurrent_writers_to_one_run(server):
    rid = requests.post(server.api("runs/create"), json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    acked = [[] for _ in range(WRITERS)]
    failures = []
    sent = [0]
    lock = threading.Lock()
    start = threading.Event()
    deadline = [0.0]

    def writer(w):
        session = requests.Session()
        i = 0
        start.wait()
        while time.time() < deadline[0]:
            with lock:
                if sent[0] >= MAX_REQUESTS:
                    break
                sent[0] += 1
            step = w * 10_000_000 + i
            try:
                if i % 10 == 9:
                    # Every tenth request is a small batch, to mix both write paths.
                    points = [{"key": "load", "value": float(step + k), "timestamp": T0 + w, "step": step + k} for k in range(5)]
                    r = session.post(server.api("runs/log-batch"), json={"run_id": rid, "metrics": points}, timeout=30)
                    steps = [step + k for k in range(5)]
                    i += 5
                else:
                    r = session.post(
                        server.api("runs/log-metric"),
                        json={"run_id": rid, "run_uuid": rid, "key": "load", "value": float(step), "timestamp": T0 + w, "step": step},
                        timeout=30,
                    )
                    steps = [step]
                    i += 1
            except requests.RequestException as e:
                failures.append(("exception", repr(e)[:200]))
                continue
            if r.status_code == 200:
                acked[w].extend(steps)
            else:
                failures.append((r.status_code, r.text[:200]))
        session.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    deadline[0] = time.time() + DURATION_S
    start.set()
    for t in threads:
        t.join()

    assert failures == [], f"{len(failures)} failed requests, first: {failures[:5]}"
    expected = sorted(s for per in acked for s in per)
    assert len(expected) > 1000, "the load barely ran"
    assert all(acked[w] for w in range(WRITERS)), "a writer was starved"

    # Raw history (no max_results: everything in one answer).
    history = requests.get(server.api("metrics/get-history"), params={"run_id": rid, "metric_key": "load"}).json()["metrics"]
    stored = sorted(m["step"] for m in history)
    assert stored == expected
    # The client's paginated read (25000 per page) sees the same points in step order.
    client_history = MlflowClient(server.url).get_metric_history(rid, "load")
    assert [m.step for m in client_history] == expected
    assert all(m.value == float(m.step) for m in client_history)
    latest = requests.get(server.api("runs/get"), params={"run_id": rid}).json()["run"]["data"]["metrics"]
    assert len(latest) == 1
    assert (latest[0]["key"], latest[0]["value"], latest[0]["step"]) == ("load", float(expected[-1]), expected[-1])
