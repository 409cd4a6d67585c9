"""Server time of the web UI at the shape real work has, on a release build (see bench/README.md).

One fresh server on a free loopback port:
  1. `ensemble demo --sweep-only --sweep-runs 100`: the generated sweep (108 params per run, train/val/test
     and system metrics, a 100,000-point series on the first run);
  2. the run page of that largest run, and of a typical run;
  3. compare of all 100 runs (charts, param table, parallel coordinates), also coloured by a param;
  4. an experiment of 50,000 runs with 100 params and 3 metrics each, made through the REST API; then the
     runs table with all 100 param columns (pages 1, 500, 1000), sorted by a metric, filtered, and grouped
     by a param with mean/min/max of the metrics.

Each figure is the median (and the slowest) of several GETs from one client on loopback: server-side
rendering plus the HTTP round trip, which on loopback is well under a millisecond.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import LOOPBACK, Target, post, run_parallel, say  # noqa: E402


def timed(session, url, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = session.get(url, timeout=300)
        times.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"GET {url[:200]} answered {r.status_code}: {r.text[:300]}")
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "n": repeat, "bytes": len(r.content)}


PARAM_NAMES = [f"model.encoder.block.{i}.layer.{i % 3}.self_attention.dropout_probability" for i in range(40)] + \
              [f"optimizer.param_groups.{i}.weight_decay" for i in range(30)] + \
              [f"data.augmentation.pipeline.step_{i}.probability" for i in range(30)]


def make_runs(target, experiment_id, n, workers):
    def one(s, rnd, i):
        rid = post(s, target, "runs/create", {"experiment_id": experiment_id, "run_name": f"sweep-trial-{i:05d}-lr{rnd.choice(['1e-4', '3e-4', '1e-3'])}",
                                              "start_time": 1_700_000_000_000 + i})["run"]["info"]["run_id"]
        params = [{"key": k, "value": str(rnd.choice([0.0, 0.05, 0.1, 0.2]))} for k in PARAM_NAMES]
        params[0]["value"] = rnd.choice(["adamw", "sgd", "lion"])
        post(s, target, "runs/log-batch", {"run_id": rid, "params": params,
             "metrics": [{"key": k, "value": rnd.random(), "timestamp": 1_700_000_000_000, "step": 0} for k in ("val/accuracy", "val/loss", "train/loss")]})

    return run_parallel(n, workers, 1e9, one, progress_every=5000)[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ensemble-bin", required=True)
    p.add_argument("--runs", type=int, default=50_000, help="runs in the big experiment (default 50000)")
    p.add_argument("--sweep-runs", type=int, default=100, help="runs in the generated sweep, all compared (default 100)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--workdir", required=True)
    p.add_argument("--out", default=str(HERE / f"ui-results-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    args = p.parse_args()

    tmp = Path(args.workdir)
    piddir = tmp / "pids"
    piddir.mkdir(parents=True, exist_ok=True)
    target = Target("ensemble-ui", lambda port, d: [args.ensemble_bin, "serve", "--host", LOOPBACK, "--port", str(port),
                                                    "--data", str(d / "data"), "--log-level", "warning"], tmp / "ensemble", piddir)
    figures = {}
    s = requests.Session()
    target.start()
    try:
        say(f"== sweep fixture: {args.sweep_runs} runs (ensemble demo --sweep-only) ==")
        t = time.time()
        out = subprocess.run([args.ensemble_bin, "demo", "--sweep-only", "--sweep-runs", str(args.sweep_runs), "--server", target.url],
                             capture_output=True, text=True, timeout=1800)
        if out.returncode != 0:
            raise RuntimeError(f"ensemble demo failed: {out.stderr}")
        figures["sweep_upload_s"] = round(time.time() - t, 1)
        exp = s.get(target.api("experiments/get-by-name"), params={"experiment_name": "llm-finetune-sweep"}, timeout=60).json()["experiment"]["experiment_id"]
        runs = post(s, target, "runs/search", {"experiment_ids": [exp], "max_results": 1000, "order_by": ["attributes.start_time ASC"]})["runs"]
        largest, typical = runs[0]["info"]["run_id"], runs[1]["info"]["run_id"]
        figures["run_page_largest"] = timed(s, f"{target.url}/runs/{largest}", args.repeat)
        figures["run_page_typical"] = timed(s, f"{target.url}/runs/{typical}", args.repeat)
        query = "&".join(f"run={r['info']['run_id']}" for r in runs)
        figures["compare_runs"] = len(runs)
        figures["compare"] = timed(s, f"{target.url}/compare?{query}", args.repeat)
        figures["compare_coloured_by_param"] = timed(s, f"{target.url}/compare?{query}&colour=params.lora.r", args.repeat)
        for k in ("run_page_largest", "run_page_typical", "compare", "compare_coloured_by_param"):
            say(f"  {k:28} {figures[k]['median_ms']:8.1f} ms median   {figures[k]['max_ms']:8.1f} ms max   {figures[k]['bytes'] / 1024:7.0f} KiB")

        say(f"== runs table: {args.runs:,} runs x {len(PARAM_NAMES)} params ==")
        big = post(s, target, "experiments/create", {"name": "ui-bench-runs"})["experiment_id"]
        figures["big_create_s"] = round(make_runs(target, big, args.runs, args.workers), 1)
        cols = ",".join(["metrics.val/accuracy", "metrics.val/loss", "metrics.train/loss"] + [f"params.{k}" for k in PARAM_NAMES])
        base = f"{target.url}/experiments/{big}?cols={urllib.parse.quote(cols)}"
        last = (args.runs + 49) // 50
        filter_text = "metrics.`val/accuracy` > 0.9 and params.`optimizer.param_groups.3.weight_decay` = '0.1'"
        cases = {
            "runs_page_1": base,
            "runs_page_middle": f"{base}&page={max(1, last // 2)}",
            "runs_page_last": f"{base}&page={last}",
            "runs_sorted_by_metric": f"{base}&order={urllib.parse.quote('metrics.`val/accuracy` DESC')}",
            "runs_filtered": f"{base}&filter={urllib.parse.quote(filter_text)}",
            "runs_grouped_by_param": f"{base}&group={urllib.parse.quote('params.' + PARAM_NAMES[0])}",
        }
        for name, url in cases.items():
            figures[name] = timed(s, url, args.repeat)
            say(f"  {name:28} {figures[name]['median_ms']:8.1f} ms median   {figures[name]['max_ms']:8.1f} ms max   {figures[name]['bytes'] / 1024:7.0f} KiB")
        page = s.get(base, timeout=300).text
        columns = page.count('<th class="col"><button') + page.count('<th class="num col"><button')
        if columns != 3 + len(PARAM_NAMES):
            raise RuntimeError(f"the runs table shows {columns} columns, not {3 + len(PARAM_NAMES)}")
        figures["runs_table_columns"] = columns
    finally:
        target.stop()
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": os.environ.get("BENCH_COMMIT", ""),
              "machine": {"cores": os.cpu_count()}, "args": {k: v for k, v in vars(args).items() if k != "workdir"}, "figures": figures}
    Path(args.out).write_text(json.dumps(report, indent=2))
    say(f"\nresults: {args.out}")


if __name__ == "__main__":
    main()
