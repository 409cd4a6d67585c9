"""Ensemble tracking benchmark, optionally side by side with the MLflow server.

Run through `scripts/bench`, which builds the release binary and installs wrk. Every server runs on
127.0.0.1 with a fresh temporary data folder; nothing else is contacted.
"""

from __future__ import annotations

import argparse
import json
import re
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target:
    """A tracking server under test."""

    def __init__(self, name: str, command, tmp: Path):
        self.name = name
        self.command = command
        self.tmp = tmp
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def api(self, path):
        return f"{self.url}/api/2.0/mlflow/{path}"

    def start(self):
        log = open(self.tmp / f"{self.name}.log", "wb")
        self.proc = subprocess.Popen(self.command(self.port, self.tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.tmp / (self.name + '.log')}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become healthy")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None


def post(session, target, path, body):
    r = session.post(target.api(path), json=body, timeout=120)
    r.raise_for_status()
    return r.json()


def new_run(target, experiment_id="0"):
    return post(requests.Session(), target, "runs/create", {"experiment_id": experiment_id, "start_time": int(time.time() * 1000)})["run"]["info"]["run_id"]


def wrk(target, script, connections, duration, env):
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s", str(HERE / script), target.url]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 120).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    result = json.loads(line[len("WRKJSON "):])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def history_count(target, run_id, key):
    n, token = 0, None
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": 25000}
        if token:
            params["page_token"] = token
        body = requests.get(target.api("metrics/get-history"), params=params, timeout=300).json()
        n += len(body.get("metrics", []))
        token = body.get("next_page_token")
        if not token:
            return n


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_log_metric(target, duration, results):
    run_id = new_run(target)
    acked = 0
    for c in (1, 8, 32):
        key = f"single_c{c}"
        r = wrk(target, "log_metric.lua", c, duration, {"RUN_ID": run_id, "METRIC_KEY": key})
        stored = history_count(target, run_id, key)
        ok = r["requests"] - r["non2xx"]
        acked += ok
        results[f"log_metric_c{c}_rps"] = round(r["rps"])
        results[f"log_metric_c{c}_p50_ms"] = r["p50_us"] / 1000
        results[f"log_metric_c{c}_p99_ms"] = r["p99_us"] / 1000
        results[f"log_metric_c{c}_errors"] = r["non2xx"] + r["socket_errors"]
        results[f"log_metric_c{c}_lost"] = max(0, ok - stored)
        print(f"  log-metric c={c:<2}: {r['rps']:9.0f} req/s  p50 {r['p50_us']/1000:6.2f} ms  p99 {r['p99_us']/1000:7.2f} ms  "
              f"errors {r['non2xx'] + r['socket_errors']}  acknowledged {ok}, stored {stored}", flush=True)


def bench_log_batch(target, duration, results):
    run_id = new_run(target)
    r = wrk(target, "log_batch.lua", 4, duration, {"RUN_ID": run_id, "METRIC_KEY": "batch"})
    results["log_batch_points_per_s"] = round(r["rps"] * 1000)
    results["log_batch_errors"] = r["non2xx"] + r["socket_errors"]
    print(f"  log-batch c=4  : {r['rps'] * 1000:9.0f} points/s ({r['rps']:.1f} req/s of 1000)  errors {results['log_batch_errors']}", flush=True)


def bench_history(target, points, results, repeat):
    run_id = new_run(target)
    s = requests.Session()
    for b in range(points // 1000):
        post(s, target, "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "h", "value": i * 0.5, "timestamp": 1_700_000_000_000 + i, "step": b * 1000 + i} for i in range(1000)]})

    token_re = re.compile(rb'"next_page_token"\s*:\s*"([^"]+)"')

    def paged(check=False):
        # The client's access pattern (pages of 25000). Only the token is extracted from each answer,
        # so the figure measures the server rather than Python's JSON decoder.
        n, token = 0, None
        while True:
            params = {"run_id": run_id, "metric_key": "h", "max_results": 25000}
            if token:
                params["page_token"] = token
            r = s.get(target.api("metrics/get-history"), params=params, timeout=300)
            r.raise_for_status()
            if check:
                n += len(r.json()["metrics"])
            at = r.content.rfind(b'"next_page_token"')
            m = token_re.match(r.content, at) if at >= 0 else None
            token = m.group(1).decode() if m else None
            if not token:
                assert not check or n == points, (n, points)
                return

    def whole():
        r = s.get(target.api("metrics/get-history"), params={"run_id": run_id, "metric_key": "h"}, timeout=300)
        r.raise_for_status()

    paged(check=True)
    results["history_paged_ms"] = median_ms(paged, repeat)
    results["history_one_request_ms"] = median_ms(whole, repeat)
    print(f"  get-history {points} points: {results['history_paged_ms']:8.1f} ms paged by 25000 (as the client does), "
          f"{results['history_one_request_ms']:8.1f} ms in one request", flush=True)


def make_runs(target, experiment_id, n):
    def worker(count, seed):
        rnd = random.Random(seed)
        s = requests.Session()
        for _ in range(count):
            rid = post(s, target, "runs/create", {"experiment_id": experiment_id, "start_time": 1_700_000_000_000 + rnd.randint(0, 10**7)})["run"]["info"]["run_id"]
            post(s, target, "runs/log-batch", {"run_id": rid,
                "metrics": [{"key": k, "value": rnd.random(), "timestamp": 1, "step": 0} for k in ("acc", "loss", "f1")],
                "params": [{"key": "model", "value": rnd.choice(["cnn", "rnn", "mlp"])}, {"key": "lr", "value": str(rnd.random())}, {"key": "depth", "value": str(rnd.randint(1, 9))}],
                "tags": [{"key": "team", "value": rnd.choice(["vision", "nlp"])}, {"key": "stage", "value": "dev"}]})

    threads = [threading.Thread(target=worker, args=(n // 4 + (1 if i < n % 4 else 0), i)) for i in range(4)]
    t = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.time() - t


def bench_search(target, n, results, repeat, label):
    exp = post(requests.Session(), target, "experiments/create", {"name": f"bench-{label}-{time.time()}"})["experiment_id"]
    took = make_runs(target, exp, n)
    print(f"  created {n} runs (with 3 params, 3 metrics, 2 tags each) in {took:.1f} s", flush=True)
    s = requests.Session()
    cases = {
        "no_filter": {"filter": "", "order_by": []},
        "metric_filter": {"filter": "metrics.acc > 0.5", "order_by": []},
        "param_metric_filter_order": {"filter": "params.model = 'cnn' AND metrics.loss < 0.3", "order_by": ["metrics.acc DESC"]},
    }
    def search(case):
        r = s.post(target.api("runs/search"), json={"experiment_ids": [exp], "max_results": 100, **case}, timeout=120)
        r.raise_for_status()  # the body is read but not decoded: the figure is the server's

    for name, case in cases.items():
        assert len(post(s, target, "runs/search", {"experiment_ids": [exp], "max_results": 100, **case}).get("runs", [])) > 0
        ms = median_ms(lambda: search(case), repeat)
        results[f"search_{label}_{name}_ms"] = ms
        print(f"  search {n} runs, {name:<26}: {ms:8.1f} ms (100 results)", flush=True)

    def page_all():
        token, total = None, 0
        while True:
            body = {"experiment_ids": [exp], "max_results": 1000}
            if token:
                body["page_token"] = token
            j = post(s, target, "runs/search", body)
            total += len(j.get("runs", []))
            token = j.get("next_page_token")
            if not token:
                assert total == n, (total, n)
                return

    ms = median_ms(page_all, max(3, repeat // 4))
    results[f"search_{label}_page_all_ms"] = ms
    print(f"  search {n} runs, {'all pages of 1000':<26}: {ms:8.1f} ms", flush=True)


def run_target(target, args, runs):
    results = {}
    print(f"\n== {target.name} ==", flush=True)
    target.start()
    try:
        bench_log_metric(target, args.duration, results)
        bench_log_batch(target, args.duration, results)
        bench_history(target, args.history_points, results, args.repeat)
        bench_search(target, runs, results, args.repeat, label=f"{runs}")
    finally:
        target.stop()
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ensemble-bin", required=True)
    p.add_argument("--mlflow", help="path to the `mlflow` executable to compare against")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk phase")
    p.add_argument("--runs", type=int, default=10000, help="runs for the search workload")
    p.add_argument("--mlflow-runs", type=int, default=2000, help="runs for the search workload on both servers when comparing")
    p.add_argument("--history-points", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--out", default=str(HERE / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ensemble-bench-"))
    report = {"machine": {"cores": os.cpu_count()}, "args": vars(args)}
    try:
        ens = Target("ensemble", lambda port, d: [args.ensemble_bin, "serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(d / "ens"), "--log-level", "warning"], tmp)
        report["ensemble"] = run_target(ens, args, args.runs)
        if args.mlflow:
            # The comparison runs the search workload at the same size on both servers.
            if args.mlflow_runs != args.runs:
                ens_small = Target("ensemble-small", lambda port, d: [args.ensemble_bin, "serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(d / "ens-small"), "--log-level", "warning"], tmp)
                ens_small.start()
                try:
                    print(f"\n== ensemble, search at {args.mlflow_runs} runs (for the comparison) ==", flush=True)
                    bench_search(ens_small, args.mlflow_runs, report["ensemble"], args.repeat, label=f"{args.mlflow_runs}")
                finally:
                    ens_small.stop()
            (tmp / "mlf").mkdir()
            mlf = Target("mlflow", lambda port, d: [args.mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
                                                    "--backend-store-uri", f"sqlite:///{d / 'mlf' / 'mlflow.db'}",
                                                    "--artifacts-destination", str(d / "mlf" / "artifacts")], tmp)
            report["mlflow"] = run_target(mlf, args, args.mlflow_runs)
            print("\n== Ensemble / MLflow (higher is better for Ensemble) ==")
            e, m = report["ensemble"], report["mlflow"]
            ratios = {}
            for k in sorted(m):
                if k not in e or not isinstance(m[k], (int, float)) or k.endswith(("_errors", "_lost")):
                    continue
                if m[k] == 0 or e[k] == 0:
                    continue
                better = e[k] / m[k] if k.endswith(("_rps", "_per_s")) else m[k] / e[k]
                ratios[k] = round(better, 1)
                print(f"  {k:<45} ensemble {e[k]:>12.1f}   mlflow {m[k]:>12.1f}   ×{better:,.1f}")
            report["ratios"] = ratios
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"\nresults written to {args.out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
