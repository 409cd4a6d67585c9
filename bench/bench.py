"""Ensemble tracking benchmark, optionally side by side with the MLflow server.

Run it through `scripts/bench`, which builds the release binary and installs wrk and this script's
virtualenv. Every server runs on 127.0.0.1 with a fresh temporary data folder; nothing else is
contacted. See bench/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
PHASE_STEP = 10**12          # log-metric phase k logs steps in [k*1e12, (k+1)*1e12)
LEVELS = (1, 8, 32)          # log-metric concurrencies
BATCH_CONNECTIONS = 4


def say(msg=""):
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class Target:
    """A tracking server under test, started in its own process group on a free loopback port."""

    def __init__(self, name, command, workdir: Path, piddir: Path):
        self.name = name
        self.command = command
        self.workdir = workdir
        self.piddir = piddir
        self.port = None
        self.proc = None
        self.log_path = workdir / f"{name}.log"

    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.port}"

    def api(self, path):
        return f"{self.url}/api/2.0/mlflow/{path}"

    def start(self, timeout=180):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(self.port, self.workdir), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        # scripts/bench's EXIT trap stops whatever is still listed here.
        (self.piddir / f"{self.name}.pid").write_text(str(self.proc.pid))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before answering /health:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} did not answer /health within {timeout} s:\n{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
                except ProcessLookupError:
                    pass
            (self.piddir / f"{self.name}.pid").unlink(missing_ok=True)
        self.proc = None


class Recorder:
    """Figures and notes for one target."""

    def __init__(self, name):
        self.name = name
        self.figures = {}
        self.notes = []
        self.problems = []

    def note(self, msg):
        self.notes.append(msg)
        say(f"  note: {msg}")

    def problem(self, msg):
        self.problems.append(msg)
        say(f"  PROBLEM: {msg}")


def post(session, target, path, body, timeout=120, headers=None):
    r = session.post(target.api(path), json=body, timeout=timeout, headers=headers)
    if r.status_code // 100 != 2:
        raise RuntimeError(f"POST {path} answered {r.status_code}: {r.text[:300]}")
    return r.json()


def new_run(target, experiment_id="0", name=None, headers=None):
    body = {"experiment_id": experiment_id, "start_time": int(time.time() * 1000)}
    if name:
        body["run_name"] = name
    return post(requests.Session(), target, "runs/create", body, headers=headers)["run"]["info"]["run_id"]


def run_wrk(target, script, connections, duration, env):
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s", str(HERE / script), target.url]
    p = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 180)
    line = next((l for l in p.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary (exit {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    r = json.loads(line[len("WRKJSON "):])
    r["socket_errors"] = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def fetch_history(session, target, run_id, key, page=25000):
    """The whole history, read as the MLflow client reads it. Returns (points, requests made)."""
    points, token, calls = [], None, 0
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": page}
        if token:
            params["page_token"] = token
        r = session.get(target.api("metrics/get-history"), params=params, timeout=600)
        calls += 1
        if r.status_code != 200:
            raise RuntimeError(f"get-history answered {r.status_code}: {r.text[:300]}")
        body = r.json()
        points.extend(body.get("metrics", []))
        token = body.get("next_page_token")
        if not token:
            return points, calls


def timed(fn, repeat, budget_s, min_repeat=3):
    """Median wall time of fn() in ms over `repeat` calls, stopping early (after at least
    `min_repeat`) when `budget_s` is used up. Returns (median_ms, calls)."""
    times, start = [], time.time()
    for i in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        if i + 1 >= min_repeat and time.time() - start > budget_s:
            break
    return statistics.median(times), len(times)


class RawClient:
    """One kept-alive HTTP/1.1 connection with the body encoded once: a request costs the client
    next to nothing, so the time measured is the server's (as wrk's is for log-metric). The
    `requests` library, which the mlflow client uses, added 0.9-2.7 ms to a 100-run search (84 KB)
    on the 2-core bench machine, for both servers alike; the search rows show that figure too."""

    def __init__(self, target):
        self.conn = http.client.HTTPConnection(LOOPBACK, target.port, timeout=300)

    def post(self, path, body: bytes):
        try:
            r = self._send(path, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the idle connection (a keep-alive timeout) while the other client
            # was timed: a new connection, once.
            self.conn.close()
            r = self._send(path, body)
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{path} answered {r.status}: {data[:300]!r}")
        return data

    def _send(self, path, body):
        self.conn.request("POST", f"/api/2.0/mlflow/{path}", body, {"Content-Type": "application/json"})
        return self.conn.getresponse()


# --- (a) single log-metric, (e) acknowledged vs stored -------------------------------------------

def bench_log_metric(target, rec, args):
    f = rec.figures
    run_id = new_run(target, name="bench-log-metric")
    f["log_metric_run_id"] = run_id
    s = requests.Session()
    total_acked = 0
    for phase, c in enumerate(LEVELS, start=1):
        r = run_wrk(target, "log_metric.lua", c, args.duration, {"RUN_ID": run_id, "METRIC_KEY": "m", "STEP_BASE": str(phase * PHASE_STEP)})
        acked = r["requests"] - r["non2xx"]
        total_acked += acked
        points, _ = fetch_history(s, target, run_id, "m")
        in_phase = sum(1 for p in points if phase * PHASE_STEP <= int(p["step"]) < (phase + 1) * PHASE_STEP)
        p = f"log_metric_c{c}"
        f[f"{p}_rps"] = round(r["rps"], 1)
        f[f"{p}_p50_ms"] = r["p50_us"] / 1000
        f[f"{p}_p99_ms"] = r["p99_us"] / 1000
        f[f"{p}_max_ms"] = r["max_us"] / 1000
        f[f"{p}_requests"] = r["requests"]
        f[f"{p}_non2xx"] = r["non2xx"]
        f[f"{p}_socket_errors"] = r["socket_errors"]
        f[f"{p}_acknowledged"] = acked
        f[f"{p}_stored"] = in_phase
        say(f"  log-metric c={c:<2}  {r['rps']:9.1f} req/s   p50 {r['p50_us'] / 1000:7.2f} ms   p99 {r['p99_us'] / 1000:8.2f} ms   "
            f"non-2xx {r['non2xx']}   socket errors {r['socket_errors']}   acknowledged {acked}, stored {in_phase}")
        if r["non2xx"]:
            rec.problem(f"log-metric c={c}: {r['non2xx']} non-2xx answers")
        if r["socket_errors"]:
            rec.problem(f"log-metric c={c}: socket errors {r['socket_errors']} (connect/read/write/timeout "
                        f"{r['connect_errors']}/{r['read_errors']}/{r['write_errors']}/{r['timeouts']})")
        if in_phase < acked:
            rec.problem(f"log-metric c={c}: {acked - in_phase} acknowledged points are missing from the history")
        elif in_phase > acked + c + r["non2xx"]:
            rec.problem(f"log-metric c={c}: {in_phase - acked} more points stored than acknowledged (at most {c} can be in flight)")

    # (e) the whole series against everything acknowledged
    points, calls = fetch_history(s, target, run_id, "m")
    steps = [int(p["step"]) for p in points]
    distinct = len(set(steps))
    f["log_metric_total_acknowledged"] = total_acked
    f["log_metric_total_stored"] = len(points)
    f["log_metric_total_distinct_steps"] = distinct
    f["log_metric_lost"] = max(0, total_acked - len(points))
    in_flight = len(points) - total_acked
    verdict = "OK" if 0 <= in_flight <= sum(LEVELS) and distinct == len(points) else "MISMATCH"
    f["log_metric_check"] = verdict
    say(f"  check: acknowledged {total_acked} log-metric points, get-history returns {len(points)} "
        f"({distinct} distinct steps, {calls} request(s)); difference {in_flight:+d} -> {verdict}")
    if distinct != len(points):
        rec.problem(f"log-metric history has {len(points) - distinct} duplicate steps")
    if verdict != "OK":
        rec.problem(f"log-metric: acknowledged {total_acked} but history holds {len(points)}")

    # wrk cannot give an exact count (it drops the answers of the requests in flight when it stops),
    # so an exact check follows: a closed-loop client where every request is awaited, same run.
    threads, per = 8, args.exact_requests // 8
    acked = [0] * threads
    failures = []

    deadline = time.time() + args.timing_budget

    def client(t):
        sess = requests.Session()
        for i in range(per):
            if time.time() > deadline:
                return
            try:
                r = sess.post(target.api("runs/log-metric"), json={"run_id": run_id, "key": "m_exact", "value": 1.5,
                              "timestamp": 1_700_000_000_000 + i, "step": t * 1_000_000 + i}, timeout=120)
                if r.status_code == 200:
                    acked[t] += 1
                else:
                    failures.append(f"{r.status_code} {r.text[:200]}")
            except requests.RequestException as e:
                failures.append(str(e))

    ths = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    t0 = time.time()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    exact_s = time.time() - t0
    points, _ = fetch_history(s, target, run_id, "m_exact")
    f["log_metric_exact_acknowledged"] = sum(acked)
    f["log_metric_exact_stored"] = len(points)
    f["log_metric_exact_failures"] = len(failures)
    exact_ok = len(points) == sum(acked) and not failures
    if sum(acked) + len(failures) < threads * per:
        rec.note(f"closed-loop log-metric check stopped by its {args.timing_budget:.0f} s cap after {sum(acked) + len(failures)} requests")
    f["log_metric_exact_check"] = "OK" if exact_ok else "MISMATCH"
    say(f"  check: {threads} threads x {per} awaited log-metric requests in {exact_s:.1f} s: {sum(acked)} acknowledged, "
        f"get-history returns {len(points)} -> {f['log_metric_exact_check']}")
    if failures:
        rec.problem(f"log-metric (closed loop): {len(failures)} failed requests, e.g. {failures[0]}")
    if not exact_ok:
        rec.problem(f"log-metric (closed loop): acknowledged {sum(acked)} of {threads * per}, history holds {len(points)}")


# --- (b) log-batch ---------------------------------------------------------------------------------

def bench_log_batch(target, rec, args):
    f = rec.figures
    run_id = new_run(target, name="bench-log-batch")
    r = run_wrk(target, "log_batch.lua", BATCH_CONNECTIONS, args.duration, {"RUN_ID": run_id, "METRIC_KEY": "b"})
    f["log_batch_rps"] = round(r["rps"], 2)
    f["log_batch_points_per_s"] = round(r["rps"] * 1000)
    f["log_batch_p50_ms"] = r["p50_us"] / 1000
    f["log_batch_p99_ms"] = r["p99_us"] / 1000
    f["log_batch_non2xx"] = r["non2xx"]
    f["log_batch_socket_errors"] = r["socket_errors"]
    acked_points = (r["requests"] - r["non2xx"]) * 1000
    s = requests.Session()
    stored = 0
    for t in (1, 2):  # one series per wrk thread
        pts, _ = fetch_history(s, target, run_id, f"b-t{t}")
        stored += len(pts)
    f["log_batch_points_acknowledged"] = acked_points
    f["log_batch_points_stored"] = stored
    say(f"  log-batch c={BATCH_CONNECTIONS}   {r['rps'] * 1000:9.0f} points/s  ({r['rps']:.1f} req/s of 1000 points; p50 {r['p50_us'] / 1000:.1f} ms, "
        f"p99 {r['p99_us'] / 1000:.1f} ms)   non-2xx {r['non2xx']}   socket errors {r['socket_errors']}   "
        f"points acknowledged {acked_points}, stored {stored}")
    if r["non2xx"] or r["socket_errors"]:
        rec.problem(f"log-batch: {r['non2xx']} non-2xx answers, {r['socket_errors']} socket errors")
    if stored < acked_points:
        rec.problem(f"log-batch: {acked_points - stored} acknowledged points missing")
    elif stored > acked_points + 1000 * BATCH_CONNECTIONS:
        rec.problem(f"log-batch: {stored - acked_points} more points stored than acknowledged")


# --- (c) get-history of a 100k-point series --------------------------------------------------------

TOKEN_RE = re.compile(rb'"next_page_token"\s*:\s*"([^"]+)"')


def bench_history(target, rec, args, load_budget_s):
    f = rec.figures
    run_id = new_run(target, name="bench-history")
    s = requests.Session()
    t0, loaded = time.time(), 0
    for b in range(args.history_points // 1000):
        post(s, target, "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "h", "value": i * 0.5, "timestamp": 1_700_000_000_000 + b * 1000 + i, "step": b * 1000 + i} for i in range(1000)]})
        loaded += 1000
        if time.time() - t0 > load_budget_s and loaded < args.history_points:
            rec.note(f"history load stopped by its {load_budget_s:.0f} s cap at {loaded} points")
            break
    load_s = time.time() - t0
    f["history_points"] = loaded
    f["history_load_s"] = round(load_s, 2)

    points, calls = fetch_history(s, target, run_id, "h")
    steps_ok = sorted(int(p["step"]) for p in points) == list(range(loaded))
    f["history_paged_requests"] = calls
    if len(points) != loaded or not steps_ok:
        rec.problem(f"get-history returned {len(points)} points (expected {loaded}, steps match: {steps_ok})")

    def paged():
        # The client's access pattern: pages of 25000 until no token. Each answer is read in full,
        # but only its token is extracted, so the figure is the server's rather than Python's JSON decoder.
        token = None
        while True:
            params = {"run_id": run_id, "metric_key": "h", "max_results": 25000}
            if token:
                params["page_token"] = token
            r = s.get(target.api("metrics/get-history"), params=params, timeout=600)
            if r.status_code != 200:
                raise RuntimeError(f"get-history answered {r.status_code}")
            at = r.content.rfind(b'"next_page_token"')
            m = TOKEN_RE.match(r.content, at) if at >= 0 else None
            token = m.group(1).decode() if m else None
            if not token:
                return

    def whole():
        r = s.get(target.api("metrics/get-history"), params={"run_id": run_id, "metric_key": "h"}, timeout=600)
        if r.status_code != 200:
            raise RuntimeError(f"get-history answered {r.status_code}")
        if len(r.content) < 20 * loaded:
            raise RuntimeError(f"get-history without max_results answered only {len(r.content)} bytes")

    n_whole = len(s.get(target.api("metrics/get-history"), params={"run_id": run_id, "metric_key": "h"}, timeout=600).json().get("metrics", []))
    if n_whole != loaded:
        rec.problem(f"get-history without max_results returned {n_whole} of {loaded} points")

    f["history_paged_ms"], f["history_paged_n"] = timed(paged, args.repeat, args.timing_budget)
    f["history_one_request_ms"], f["history_one_request_n"] = timed(whole, args.repeat, args.timing_budget)
    say(f"  get-history {loaded} points (loaded in {load_s:.1f} s): {f['history_paged_ms']:9.1f} ms paged by 25000 "
        f"({calls} requests, median of {f['history_paged_n']}), {f['history_one_request_ms']:9.1f} ms in one request "
        f"(median of {f['history_one_request_n']})")


# --- (d) runs/search -----------------------------------------------------------------------------

def run_parallel(n, workers, budget_s, work, progress_every=None):
    """Calls work(session, rnd, i) for i in 0..<n from `workers` threads (each with its own session and
    seeded random source) until done, an error, or the budget runs out. Returns (done, seconds)."""
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "error": None}
    deadline = time.time() + budget_s

    def worker(seed):
        rnd = random.Random(seed)
        s = requests.Session()
        while True:
            with lock:
                if state["next"] >= n or state["error"] or time.time() > deadline:
                    return
                i = state["next"]
                state["next"] += 1
            try:
                work(s, rnd, i)
            except Exception as e:  # noqa: BLE001 - reported by the caller
                with lock:
                    state["error"] = state["error"] or e
                return
            with lock:
                state["done"] += 1
                if progress_every and state["done"] % progress_every == 0:
                    say(f"  {state['done']:,} runs")

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(workers)]
    t = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if state["error"]:
        raise RuntimeError(f"creating runs failed after {state['done']}: {state['error']}")
    return state["done"], time.time() - t


def make_runs(target, experiment_id, n, workers, budget_s):
    def one(s, rnd, i):
        rid = post(s, target, "runs/create", {"experiment_id": experiment_id, "run_name": f"r{i}",
                                              "start_time": 1_700_000_000_000 + i})["run"]["info"]["run_id"]
        post(s, target, "runs/log-batch", {"run_id": rid,
            "metrics": [{"key": k, "value": rnd.random(), "timestamp": 1_700_000_000_000, "step": 0} for k in ("acc", "loss", "f1")],
            "params": [{"key": "model", "value": rnd.choice(["cnn", "rnn", "mlp"])},
                       {"key": "lr", "value": str(rnd.choice([0.1, 0.01, 0.001]))},
                       {"key": "depth", "value": str(rnd.randint(1, 9))}],
            "tags": [{"key": "team", "value": rnd.choice(["vision", "nlp"])}, {"key": "stage", "value": "dev"}]})

    return run_parallel(n, workers, budget_s, one)


SEARCH_CASES = {
    "no_filter": ("no filter", {"filter": "", "order_by": []}),
    "metric_filter": ("metrics.acc > 0.5", {"filter": "metrics.acc > 0.5", "order_by": []}),
    "param_metric_order": ("params.model='cnn' AND metrics.loss<0.3 by acc DESC",
                           {"filter": "params.model = 'cnn' AND metrics.loss < 0.3", "order_by": ["metrics.acc DESC"]}),
}


def bench_search(target, rec, args, n, create_budget_s, label):
    """Creates n runs in a new experiment and times the searches. Figures are keyed by `label`."""
    f = rec.figures
    s = requests.Session()
    exp = post(s, target, "experiments/create", {"name": f"bench-search-{label}-{time.time_ns()}"})["experiment_id"]
    made, took = make_runs(target, exp, n, args.workers, create_budget_s)
    f[f"search_{label}_runs"] = made
    f[f"search_{label}_create_s"] = round(took, 1)
    say(f"  created {made} runs (3 params, 3 metrics, 2 tags each; {args.workers} client threads) in {took:.1f} s "
        f"({made / took:.0f} runs/s)")
    if made < n:
        rec.note(f"run creation stopped by its {create_budget_s:.0f} s cap at {made} of {n} runs; search figures are for {made} runs")

    def search(case):
        r = s.post(target.api("runs/search"), json={"experiment_ids": [exp], "max_results": 100, **case}, timeout=300)
        if r.status_code != 200:
            raise RuntimeError(f"runs/search answered {r.status_code}: {r.text[:300]}")

    raw = RawClient(target)

    for key, (desc, case) in SEARCH_CASES.items():
        got = post(s, target, "runs/search", {"experiment_ids": [exp], "max_results": 100, **case}).get("runs", [])
        if not got:
            rec.problem(f"search {desc!r} returned no runs")
        if key == "param_metric_order":
            def val(run, kind, k):
                items = run["data"].get(kind, [])
                return next((x["value"] for x in items if x["key"] == k), None)
            ok = all(val(r, "params", "model") == "cnn" and val(r, "metrics", "loss") < 0.3 for r in got)
            accs = [val(r, "metrics", "acc") for r in got]
            if not ok or accs != sorted(accs, reverse=True):
                rec.problem(f"search {desc!r}: results do not match the filter/order")
        body = json.dumps({"experiment_ids": [exp], "max_results": 100, **case}).encode()
        ms, calls = timed(lambda: raw.post("runs/search", body), args.repeat, args.timing_budget)
        via_requests, _ = timed(lambda: search(case), args.repeat, args.timing_budget)
        f[f"search_{label}_{key}_ms"] = ms
        f[f"search_{label}_{key}_requests_ms"] = via_requests
        say(f"  search {made} runs, {desc:<52} {ms:8.1f} ms  (100 results, median of {calls}; "
            f"{via_requests:.1f} ms through requests)")

    def page_all(check=False):
        token, total, pages = None, 0, 0
        while True:
            body = {"experiment_ids": [exp], "max_results": 1000}
            if token:
                body["page_token"] = token
            r = s.post(target.api("runs/search"), json=body, timeout=300)
            pages += 1
            if r.status_code != 200:
                raise RuntimeError(f"runs/search answered {r.status_code}: {r.text[:300]}")
            if check:
                j = r.json()
                total += len(j.get("runs", []))
                token = j.get("next_page_token")
            else:
                at = r.content.rfind(b'"next_page_token"')
                m = TOKEN_RE.match(r.content, at) if at >= 0 else None
                token = m.group(1).decode() if m else None
            if not token:
                return total, pages

    total, pages = page_all(check=True)
    if total != made:
        rec.problem(f"paging through runs/search returned {total} runs, expected {made}")
    ms, calls = timed(page_all, args.repeat, args.timing_budget)
    f[f"search_{label}_page_all_ms"] = ms
    say(f"  search {made} runs, {'all runs, pages of 1000 (' + str(pages) + ' requests)':<52} {ms:8.1f} ms  (median of {calls})")
    return made


# --- (e) one large artifact through the server's proxy ------------------------------------------------

def group_rss_kib(pgid: int) -> int:
    """Resident memory of every process in the server's process group (MLflow runs several)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5, pgrp, counted after the command name
                continue
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


class PeakRSS:
    """Samples the group's resident memory every 50 ms while a transfer runs."""

    def __init__(self, pgid):
        self.pgid, self.peak, self.stop = pgid, group_rss_kib(pgid), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, group_rss_kib(self.pgid))
            time.sleep(0.05)

    def __enter__(self):
        self.base = group_rss_kib(self.pgid)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def bench_artifact(target, rec, args):
    """PUT one `--artifact-mb` file through the artifact proxy as a stream (what the MLflow client does
    for `log_artifact`), then GET it back as a stream, checking every byte by SHA-256. Figures: MB/s
    each way, and the server's resident memory at rest and at its peak during the upload."""
    f = rec.figures
    size = args.artifact_mb * 1024 * 1024
    chunk = 1024 * 1024
    block = hashlib.sha256(b"artifact").digest() * (chunk // 32)
    url = f"{target.url}/api/2.0/mlflow-artifacts/artifacts/0/bench/artifacts/model-{uuid.uuid4().hex[:6]}.bin"
    sent = hashlib.sha256()

    def body():
        for i in range(size // chunk):
            piece = block[:-8] + i.to_bytes(8, "big")
            sent.update(piece)
            yield piece

    with PeakRSS(target.proc.pid) as up:
        t = time.perf_counter()
        r = requests.put(url, data=body(), timeout=3600)
        up_s = time.perf_counter() - t
    if r.status_code // 100 != 2:
        rec.problem(f"artifact upload of {args.artifact_mb} MB answered {r.status_code}: {r.text[:300]}")
        return
    got = hashlib.sha256()
    n = 0
    with PeakRSS(target.proc.pid) as down:
        t = time.perf_counter()
        with requests.get(url, stream=True, timeout=3600) as d:
            for piece in d.iter_content(chunk):
                got.update(piece)
                n += len(piece)
        down_s = time.perf_counter() - t
    f["artifact_mb"] = args.artifact_mb
    f["artifact_upload_mb_s"] = round(args.artifact_mb / up_s, 1)
    f["artifact_download_mb_s"] = round(args.artifact_mb / down_s, 1)
    f["artifact_rss_rest_mb"] = round(up.base / 1024)
    f["artifact_upload_peak_rss_mb"] = round(up.peak / 1024)
    f["artifact_download_peak_rss_mb"] = round(down.peak / 1024)
    say(f"  artifact {args.artifact_mb} MB   upload {f['artifact_upload_mb_s']} MB/s, download {f['artifact_download_mb_s']} MB/s; "
        f"server memory {f['artifact_rss_rest_mb']} MB at rest, peak {f['artifact_upload_peak_rss_mb']} MB uploading, "
        f"{f['artifact_download_peak_rss_mb']} MB downloading")
    if n != size or got.hexdigest() != sent.hexdigest():
        rec.problem(f"artifact: {n} bytes came back of {size}, or other bytes (SHA-256 mismatch)")


# --- driver -----------------------------------------------------------------------------------------

def phase(rec, target, name, fn, *a):
    t = time.time()
    try:
        fn(target, rec, *a)
    except Exception as e:  # noqa: BLE001 - the run goes on; the failure is reported
        rec.problem(f"{name} failed: {type(e).__name__}: {e}")
        if not target.alive():
            rec.problem(f"{target.name} is no longer running (exit {target.proc.returncode}); last log lines:\n{target.log_tail()}")
            return False
    rec.figures[f"phase_{name}_s"] = round(time.time() - t, 1)
    return True


def run_suite(target, rec, args, search_runs, load_budget, create_budget):
    target.start()
    say(f"\n== {target.name}: {target.url} ==")
    try:
        for name, fn, extra in (("log_metric", bench_log_metric, (args,)),
                                ("log_batch", bench_log_batch, (args,)),
                                ("history", bench_history, (args, load_budget)),
                                ("search", bench_search, (args, search_runs, create_budget, "main")),
                                ("artifact", bench_artifact, (args,))):
            if args.only and name not in args.only:
                continue
            if not phase(rec, target, name, fn, *extra):
                break
        if not target.alive():
            rec.problem(f"{target.name} exited during the run (exit {target.proc.returncode})")
    finally:
        target.stop()
    errors = [l for l in target.log_tail(2000).splitlines() if re.search(r"\b(error|critical|fatal|traceback)\b", l, re.I)]
    if errors:
        rec.note(f"{len(errors)} error-looking line(s) in the {target.name} log, e.g. {errors[0][:200]!r}")


ROWS = [
    # key, label, unit, higher is better
    ("log_metric_c1_rps", "log-metric, 1 connection", "req/s", True),
    ("log_metric_c1_p50_ms", "  p50 latency", "ms", False),
    ("log_metric_c1_p99_ms", "  p99 latency", "ms", False),
    ("log_metric_c8_rps", "log-metric, 8 connections", "req/s", True),
    ("log_metric_c8_p50_ms", "  p50 latency", "ms", False),
    ("log_metric_c8_p99_ms", "  p99 latency", "ms", False),
    ("log_metric_c32_rps", "log-metric, 32 connections", "req/s", True),
    ("log_metric_c32_p50_ms", "  p50 latency", "ms", False),
    ("log_metric_c32_p99_ms", "  p99 latency", "ms", False),
    ("log_batch_points_per_s", "log-batch (1000/request, 4 conn)", "points/s", True),
    ("history_paged_ms", "get-history {hp} pts, pages of 25000", "ms", False),
    ("history_one_request_ms", "get-history {hp} pts, one request", "ms", False),
    ("search_{L}_no_filter_ms", "search {sr} runs, no filter", "ms", False),
    ("search_{L}_no_filter_requests_ms", "  through requests", "ms", False),
    ("search_{L}_metric_filter_ms", "search {sr} runs, metrics.acc > 0.5", "ms", False),
    ("search_{L}_metric_filter_requests_ms", "  through requests", "ms", False),
    ("search_{L}_param_metric_order_ms", "search {sr} runs, param+metric, order", "ms", False),
    ("search_{L}_param_metric_order_requests_ms", "  through requests", "ms", False),
    ("search_{L}_page_all_ms", "search {sr} runs, all, pages of 1000", "ms", False),
    ("artifact_upload_mb_s", "artifact {am} MB upload (proxy, streamed)", "MB/s", True),
    ("artifact_download_mb_s", "artifact {am} MB download", "MB/s", True),
    ("artifact_rss_rest_mb", "  server memory at rest", "MB", False),
    ("artifact_upload_peak_rss_mb", "  server memory, peak while uploading", "MB", False),
    ("artifact_download_peak_rss_mb", "  server memory, peak while downloading", "MB", False),
]


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ms":
        return f"{v:,.2f}" if v < 10 else f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"
    return f"{v:,.0f}"


def print_table(title, cols, label_for_search, ratio_header="Ensemble/MLflow"):
    """cols: list of (header, figures dict, search label). With two columns, adds the speed-up."""
    say(f"\n{title}")
    width = 44
    head = f"  {'workload':<{width}} {'unit':<9}" + "".join(f"{h:>15}" for h, _, _ in cols)
    if len(cols) == 2:
        head += f"{ratio_header:>18}"
    say(head)
    say("  " + "-" * (len(head) - 2))
    ratios = {}
    for key, label, unit, higher in ROWS:
        vals = []
        for _, figs, L in cols:
            k = key.replace("{L}", L)
            vals.append(figs.get(k))
        first = cols[0]
        hp = first[1].get("history_points", "?")
        sr = first[1].get(f"search_{first[2]}_runs", "?")
        am = first[1].get("artifact_mb", "?")
        line = f"  {label.format(hp=f'{hp // 1000}k' if isinstance(hp, int) else hp, sr=f'{sr:,}' if isinstance(sr, int) else sr, am=am):<{width}} {unit:<9}"
        line += "".join(f"{fmt(v, unit):>15}" for v in vals)
        if len(cols) == 2 and all(isinstance(v, (int, float)) and v > 0 for v in vals):
            e, m = vals
            r = e / m if higher else m / e
            ratios[key.replace("{L}", cols[0][2])] = round(r, 2)
            line += f"{r:>16,.1f}x"
        say(line)
    return ratios


def _terminate(signum, _frame):
    say(f"\n!! interrupted (signal {signum}): stopping servers, writing what was measured")
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers stopped, results written


def bench_auth(args, tmp, piddir, rec):
    """log-metric with authentication off, with an API token, and with Basic (bcrypt once, then the
    cache), on two fresh servers measured alternately in one run, so the ratios compare like with like."""
    import base64

    f = rec.figures
    auth_dir = tmp / "ensemble-auth"
    password = "bench password 0123456789"

    def admin(*a, stdin=None):
        out = subprocess.run([args.ensemble_bin, "admin", *a, "--data", str(auth_dir / "data")], input=stdin,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"ensemble admin {a[0]} failed: {out.stderr}")
        return out.stdout

    admin("create-user", "bench", "--email", "bench@example.com", "--password-stdin", stdin=password + "\n")
    token = json.loads(admin("create-token", "bench", "--name", "bench", "--json"))["token"]
    headers = {
        "token": f"Bearer {token}",
        "basic": "Basic " + base64.b64encode(f"bench:{password}".encode()).decode(),
    }

    def cmd(extra):
        return lambda port, d: [args.ensemble_bin, "serve", "--host", LOOPBACK, "--port", str(port), "--data", str(d / "data"),
                                "--log-level", "warning", *extra]

    off = Target("ensemble-noauth", cmd([]), tmp / "ensemble-noauth", piddir).start()
    on = Target("ensemble-auth", cmd(["--auth", "required"]), auth_dir, piddir).start()
    try:
        run_off = new_run(off, name="bench-auth-off")
        run_on = new_run(on, name="bench-auth-on", headers={"Authorization": headers["token"]})
        for c in (1, 32):
            for label, target, run_id, auth in (("off", off, run_off, ""), ("token", on, run_on, headers["token"]),
                                                ("basic", on, run_on, headers["basic"])):
                r = run_wrk(target, "log_metric.lua", c, args.duration,
                            {"RUN_ID": run_id, "METRIC_KEY": label, "STEP_BASE": str(c * PHASE_STEP), "AUTHORIZATION": auth})
                f[f"auth_{label}_c{c}_rps"] = round(r["rps"], 1)
                if r["non2xx"]:
                    rec.problem(f"log-metric with auth {label}, c={c}: {r['non2xx']} non-2xx answers")
            for label in ("token", "basic"):
                f[f"auth_{label}_c{c}_ratio"] = round(f[f"auth_{label}_c{c}_rps"] / f[f"auth_off_c{c}_rps"], 3)
            say(f"  log-metric c={c:<2}  auth off {f[f'auth_off_c{c}_rps']:9.1f} req/s   token {f[f'auth_token_c{c}_rps']:9.1f} "
                f"({f[f'auth_token_c{c}_ratio']:.0%})   basic {f[f'auth_basic_c{c}_rps']:9.1f} ({f[f'auth_basic_c{c}_ratio']:.0%})")
    finally:
        off.stop()
        on.stop()


def main():
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ensemble-bin", required=True)
    p.add_argument("--mlflow", help="path to the `mlflow` executable to compare against")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk phase (default 10)")
    p.add_argument("--runs", type=int, default=10000, help="runs for the search workload (default 10000)")
    p.add_argument("--mlflow-runs", type=int, default=2000, help="runs for the search workload on MLflow, and on Ensemble for the side-by-side (default 2000)")
    p.add_argument("--history-points", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=20, help="timed repetitions for get-history and search (median)")
    p.add_argument("--timing-budget", type=float, default=60, help="seconds after which a timed measurement stops repeating (at least 3 calls)")
    p.add_argument("--exact-requests", type=int, default=2000, help="awaited log-metric requests for the exact stored-count check")
    p.add_argument("--workers", type=int, default=6, help="client threads creating runs")
    p.add_argument("--mlflow-load-budget", type=float, default=180, help="cap in seconds for each MLflow data-loading phase")
    p.add_argument("--workdir", help="temporary folder (default: a new one, removed at the end)")
    p.add_argument("--auth-only", action="store_true", help="only the authentication phases (log-metric with auth off, a token, Basic)")
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                   help="postgres: Ensemble and MLflow each on their own database of one PostgreSQL started for the run "
                        "(durable settings), and Ensemble on SQLite too, for the PostgreSQL/SQLite ratios")
    p.add_argument("--storage", choices=("folder", "s3"), default="folder",
                   help="s3: every server keeps its artifacts in a bucket of one moto S3 server started for the run")
    p.add_argument("--artifact-mb", type=int, default=512, help="size of the file sent through each server's artifact proxy (default 512)")
    p.add_argument("--only", type=lambda v: sorted(set(v.split(","))), default=None,
                   help="comma-separated phases to run (log_metric, log_batch, history, search, artifact, auth); default all")
    p.add_argument("--out", default=str(HERE / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    args = p.parse_args()

    own_tmp = args.workdir is None
    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="ensemble-bench-"))
    piddir = tmp / "pids"
    piddir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    report = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "ensemble_commit": os.environ.get("BENCH_COMMIT", ""),
        "args": {k: v for k, v in vars(args).items() if k not in ("workdir",)},
        "targets": {},
    }
    recs = {}
    pg = None
    s3 = None
    try:
        if args.storage == "s3":
            from s3 import S3

            s3 = S3()
            report["s3"] = {"server": "moto (in memory)", "endpoint": s3.endpoint}
            say(f"S3: moto on {s3.endpoint}; each server gets its own bucket")
        if args.backend == "postgres":
            from pg import Postgres

            pg = Postgres()
            report["postgres"] = {"version": pg.version, "settings": "initdb defaults (fsync, synchronous_commit on), shared_buffers 256MB"}
            say(f"PostgreSQL {pg.version} on {LOOPBACK}:{pg.port} (durable defaults); each server gets its own database")

        def database_args():
            return ["--database", pg.new_database("ensemble")] if pg else []

        def artifact_args(label):
            return ["--artifacts", s3.new_bucket(label)] if s3 else []

        def ens_cmd(sub):
            return lambda port, d: [args.ensemble_bin, "serve", "--host", LOOPBACK, "--port", str(port),
                                    "--data", str(d / "data"), "--log-level", "warning", *database_args(), *artifact_args("ensemble")]

        ens = Target("ensemble", ens_cmd("main"), tmp / "ensemble", piddir)
        rec_e = recs["ensemble"] = Recorder("ensemble")
        if not args.auth_only:
            run_suite(ens, rec_e, args, args.runs, load_budget=1e9, create_budget=1e9)
        if pg:
            rec_s = recs["ensemble-sqlite"] = Recorder("ensemble-sqlite")
            sqlite = Target("ensemble-sqlite", lambda port, d: [args.ensemble_bin, "serve", "--host", LOOPBACK, "--port", str(port),
                                                                 "--data", str(d / "data"), "--log-level", "warning", *artifact_args("sqlite")],
                            tmp / "ensemble-sqlite", piddir)
            run_suite(sqlite, rec_s, args, args.runs, load_budget=1e9, create_budget=1e9)
        elif not args.only or "auth" in args.only:
            say(f"\n== ensemble: authentication cost (log-metric; auth off vs token vs Basic, alternating, {LOOPBACK}) ==")
            bench_auth(args, tmp, piddir, rec_e)

        if args.mlflow:
            mlflow_store = (lambda d: pg.new_database("mlflow")) if pg else (lambda d: f"sqlite:///{d / 'mlflow.db'}")
            mlf = Target("mlflow", lambda port, d: [args.mlflow, "server", "--host", LOOPBACK, "--port", str(port),
                                                     "--backend-store-uri", mlflow_store(d),
                                                     "--artifacts-destination", s3.new_bucket("mlflow") if s3 else str(d / "artifacts")],
                         tmp / "mlflow", piddir)
            rec_m = recs["mlflow"] = Recorder("mlflow")
            try:
                run_suite(mlf, rec_m, args, args.mlflow_runs, load_budget=args.mlflow_load_budget, create_budget=args.mlflow_load_budget)
            except Exception as e:  # noqa: BLE001
                rec_m.problem(f"MLflow run failed: {type(e).__name__}: {e}")
            if args.mlflow_runs != args.runs:
                rec_m.note(f"the search workload uses {args.mlflow_runs:,} runs on MLflow (not {args.runs:,}): creating and "
                           f"searching {args.runs:,} runs there takes too long; Ensemble is measured again at the same size")
            made = rec_m.figures.get("search_main_runs")
            if made:
                # Same search size on Ensemble, on a fresh server, for the side-by-side.
                if made == rec_e.figures.get("search_main_runs"):
                    for k in [k for k in rec_e.figures if k.startswith("search_main_")]:
                        rec_e.figures[k.replace("search_main_", "search_cmp_")] = rec_e.figures[k]
                else:
                    ens2 = Target("ensemble-cmp", ens_cmd("cmp"), tmp / "ensemble-cmp", piddir)
                    say(f"\n== ensemble: search at {made} runs, the size MLflow got, on a fresh server ({LOOPBACK}) ==")
                    ens2.start()
                    try:
                        bench_search(ens2, rec_e, args, made, 1e9, "cmp")
                    except Exception as e:  # noqa: BLE001
                        rec_e.problem(f"search at {made} runs failed: {e}")
                    finally:
                        ens2.stop()
                for k in [k for k in rec_m.figures if k.startswith("search_main_")]:
                    rec_m.figures[k.replace("search_main_", "search_cmp_")] = rec_m.figures[k]
    finally:
        for name, rec in recs.items():
            report["targets"][name] = {"figures": rec.figures, "notes": rec.notes, "problems": rec.problems}
        report["elapsed_s"] = round(time.time() - started, 1)

        where = " on PostgreSQL" if pg else ""
        if "ensemble" in recs:
            print_table(f"== Ensemble{where} ==", [("Ensemble", recs["ensemble"].figures, "main")], "main")
        if "ensemble-sqlite" in recs and recs["ensemble-sqlite"].figures:
            report["postgres_vs_sqlite"] = print_table(
                "== Ensemble on PostgreSQL vs on SQLite (same workloads, same run; last column: PostgreSQL's figure as a multiple of SQLite's, above 1 is better) ==",
                [("PostgreSQL", recs["ensemble"].figures, "main"), ("SQLite", recs["ensemble-sqlite"].figures, "main")], "main",
                ratio_header="PG/SQLite")
        if "mlflow" in recs and recs["mlflow"].figures:
            report["ratios"] = print_table(
                f"== Ensemble vs MLflow 3.17.2{', both on PostgreSQL' if pg else ''} (same workloads, same run; last column: how many times better Ensemble is) ==",
                [("Ensemble", recs["ensemble"].figures, "cmp"), ("MLflow", recs["mlflow"].figures, "cmp")], "cmp")
        say("")
        for name, rec in recs.items():
            f = rec.figures
            if "log_metric_total_acknowledged" in f:
                say(f"{name}: log-metric check (wrk phases): {f['log_metric_total_acknowledged']} acknowledged, {f['log_metric_total_stored']} "
                    f"in get-history (+{f['log_metric_total_stored'] - f['log_metric_total_acknowledged']} in flight when wrk stopped) -> {f['log_metric_check']}")
            if "log_metric_exact_acknowledged" in f:
                say(f"{name}: log-metric check (closed loop, every answer awaited): {f['log_metric_exact_acknowledged']} acknowledged, "
                    f"{f['log_metric_exact_stored']} in get-history -> {f['log_metric_exact_check']}")
            for msg in rec.notes:
                say(f"{name}: note: {msg}")
            for msg in rec.problems:
                say(f"{name}: PROBLEM: {msg}")
        try:
            Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
            say(f"\nresults written to {os.path.relpath(args.out)}   (elapsed {report['elapsed_s']:.0f} s)")
        finally:
            # Whatever failed above, nothing started for the run is left running.
            if pg:
                pg.stop()
            if s3:
                s3.stop()
            if own_tmp:
                shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if any(r.problems for r in recs.values()) else 0)


if __name__ == "__main__":
    main()
