"""32 concurrent clients logging to the same run: no errors, no lost points."""

import threading
import time

import requests

WRITERS = 32
DURATION_S = 10.0
MAX_REQUESTS = 200_000  # bound on total work, whatever the machine's speed


def test_32_concurrent_writers_to_one_run(server):
    rid = requests.post(server.api("runs/create"), json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    acked = [[] for _ in range(WRITERS)]
    failures = []
    sent = [0]
    lock = threading.Lock()
    deadline = time.time() + DURATION_S

    def writer(w):
        session = requests.Session()
        i = 0
        while time.time() < deadline:
            with lock:
                if sent[0] >= MAX_REQUESTS:
                    return
                sent[0] += 1
            step = w * 10_000_000 + i
            if i % 10 == 9:
                # Every tenth request is a small batch, to mix both write paths.
                points = [{"key": "load", "value": float(step + k), "timestamp": 1_700_000_000_000 + w, "step": step + k} for k in range(5)]
                r = session.post(server.api("runs/log-batch"), json={"run_id": rid, "metrics": points})
                steps = [step + k for k in range(5)]
                i += 5
            else:
                r = session.post(
                    server.api("runs/log-metric"),
                    json={"run_id": rid, "key": "load", "value": float(step), "timestamp": 1_700_000_000_000 + w, "step": step},
                )
                steps = [step]
                i += 1
            if r.status_code == 200:
                acked[w].extend(steps)
            else:
                failures.append((r.status_code, r.text[:200]))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    expected = sorted(s for per in acked for s in per)
    assert len(expected) > 1000, "the load barely ran"
    history = requests.get(server.api("metrics/get-history"), params={"run_id": rid, "metric_key": "load"}).json()["metrics"]
    stored = sorted(m["step"] for m in history)
    assert stored == expected
    latest = requests.get(server.api("runs/get"), params={"run_id": rid}).json()["run"]["data"]["metrics"]
    assert latest == [{"key": "load", "value": float(expected[-1]), "timestamp": latest[0]["timestamp"], "step": expected[-1]}]
