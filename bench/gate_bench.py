"""`ensemble gate` against a straightforward NumPy + scikit-learn paired bootstrap on the same files,
in one run (see scripts/bench-gate).

Two workloads from issue 13:
  1. accuracy and F1 on 1,000,000 examples x 10,000 resamples;
  2. ROC AUC on 100,000 examples x 2,000 resamples.

Ensemble is timed end to end (`ensemble gate FILE --json`: reading the CSV, the point values, every
resample, the intervals). The Python references read the same file with pandas and resample rows
with NumPy, computing each resample's metrics with scikit-learn (the straightforward version a data
scientist would write), and, for the first workload, also with a vectorised NumPy count of the four
confusion cells (the fast version). They run fewer resamples: their time per resample is measured
and multiplied out to the same number of resamples, and the report says so. Both sides' point values
are checked to agree before any time is reported, and their intervals to agree within Monte Carlo error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def make_file(path, n, seed, lift):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = np.clip(y * 0.30 + rng.normal(0.35, 0.25, n), 0, 1)
    cand = np.clip(y * (0.30 + lift) + rng.normal(0.35 - lift / 2, 0.25, n), 0, 1)
    pd.DataFrame({"id": np.arange(n), "label": y, "baseline": np.round(base, 6), "candidate": np.round(cand, 6)}).to_csv(path, index=False)


def run_ensemble(binary, path, metrics, resamples, seed=1):
    args = [binary, "gate", path, "--resamples", str(resamples), "--seed", str(seed), "--json"]
    for m in metrics:
        args += ["--metric", m]
    t = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode not in (0, 1):
        raise SystemExit(f"ensemble gate failed: {out.stderr}")
    return seconds, {m["name"]: m for m in json.loads(out.stdout)["sets"][0]["metrics"]}


def python_threshold(path, resamples, vectorised, seed=1):
    """Accuracy and F1 of both models on `resamples` paired resamples of the rows."""
    t = time.perf_counter()
    df = pd.read_csv(path)
    y = df["label"].to_numpy()
    pb, pc = df["baseline"].to_numpy() >= 0.5, df["candidate"].to_numpy() >= 0.5
    n = len(y)
    point = {"accuracy": (skm.accuracy_score(y, pb), skm.accuracy_score(y, pc)), "f1": (skm.f1_score(y, pb), skm.f1_score(y, pc))}
    rng = np.random.default_rng(seed)
    diffs = {"accuracy": [], "f1": []}
    if vectorised:
        cells = (y.astype(np.int64) << 2) | (pb.astype(np.int64) << 1) | pc.astype(np.int64)
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        if vectorised:
            c = np.bincount(cells[idx], minlength=8)
            out = []
            for bit in (2, 1):
                tp = sum(c[k] for k in range(8) if k & 4 and k & bit)
                fp = sum(c[k] for k in range(8) if not k & 4 and k & bit)
                fn = sum(c[k] for k in range(8) if k & 4 and not k & bit)
                tn = n - tp - fp - fn
                out.append(((tp + tn) / n, 2 * tp / (2 * tp + fp + fn)))
            diffs["accuracy"].append(out[1][0] - out[0][0])
            diffs["f1"].append(out[1][1] - out[0][1])
        else:
            yy = y[idx]
            diffs["accuracy"].append(skm.accuracy_score(yy, pc[idx]) - skm.accuracy_score(yy, pb[idx]))
            diffs["f1"].append(skm.f1_score(yy, pc[idx]) - skm.f1_score(yy, pb[idx]))
    return time.perf_counter() - t, point, diffs


def python_auc(path, resamples, seed=1):
    t = time.perf_counter()
    df = pd.read_csv(path)
    y, b, c = df["label"].to_numpy(), df["baseline"].to_numpy(), df["candidate"].to_numpy()
    n = len(y)
    point = {"roc_auc": (skm.roc_auc_score(y, b), skm.roc_auc_score(y, c))}
    rng = np.random.default_rng(seed)
    diffs = {"roc_auc": []}
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        diffs["roc_auc"].append(skm.roc_auc_score(y[idx], c[idx]) - skm.roc_auc_score(y[idx], b[idx]))
    return time.perf_counter() - t, point, diffs


def check(ours, point, diffs):
    for name, (b, c) in point.items():
        assert abs(ours[name]["baseline"] - b) < 1e-9 and abs(ours[name]["candidate"] - c) < 1e-9, (name, ours[name], b, c)
        # The Python side runs few resamples, so its tail percentiles are rough; its mean and spread are not:
        # the bootstrap distributions agree when the means are within half a spread and the spreads within 25%.
        ours_sd = (ours[name]["ci_high"] - ours[name]["ci_low"]) / 3.92
        mean, sd = float(np.mean(diffs[name])), float(np.std(diffs[name], ddof=1))
        assert abs(mean - ours[name]["difference"]) < 0.5 * ours_sd and abs(sd / ours_sd - 1) < 0.25, (name, ours[name], mean, sd)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ensemble-bin", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--examples", type=int, default=1_000_000)
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--auc-examples", type=int, default=100_000)
    p.add_argument("--auc-resamples", type=int, default=2_000)
    p.add_argument("--python-resamples", type=int, default=100, help="resamples the scikit-learn references run (then multiplied out)")
    p.add_argument("--numpy-resamples", type=int, default=400, help="resamples the vectorised NumPy reference runs")
    a = p.parse_args()

    big, small = os.path.join(a.workdir, "gate-1m.csv"), os.path.join(a.workdir, "gate-auc.csv")
    print(f"==> files: {a.examples:,} and {a.auc_examples:,} examples (CSV: id, label, baseline, candidate)")
    make_file(big, a.examples, 1, 0.02)
    make_file(small, a.auc_examples, 2, 0.02)
    cores = os.cpu_count()
    results = {"cores": cores, "commit": os.environ.get("BENCH_COMMIT", "")}

    print(f"==> accuracy + F1, {a.examples:,} examples x {a.resamples:,} resamples")
    ours_s, ours = run_ensemble(a.ensemble_bin, big, ["accuracy", "f1"], a.resamples)
    sk_s, point, diffs = python_threshold(big, a.python_resamples, vectorised=False)
    check(ours, point, diffs)
    np_s, point2, diffs2 = python_threshold(big, a.numpy_resamples, vectorised=True)
    check(ours, point2, diffs2)
    read_s = python_threshold(big, 0, vectorised=True)[0]
    sk_full = read_s + (sk_s - read_s) / a.python_resamples * a.resamples
    np_full = read_s + (np_s - read_s) / a.numpy_resamples * a.resamples
    print(f"  ensemble gate                              {ours_s:>9.2f} s")
    print(f"  NumPy + scikit-learn ({a.python_resamples} resamples run)  {sk_full:>9.1f} s   ({sk_full / ours_s:,.0f}x)")
    print(f"  vectorised NumPy ({a.numpy_resamples} resamples run)      {np_full:>9.1f} s   ({np_full / ours_s:,.0f}x)")
    results.update(threshold_ensemble_s=ours_s, threshold_sklearn_s=sk_full, threshold_numpy_s=np_full)

    print(f"==> ROC AUC, {a.auc_examples:,} examples x {a.auc_resamples:,} resamples")
    ours_s, ours = run_ensemble(a.ensemble_bin, small, ["roc_auc"], a.auc_resamples)
    py_runs = min(a.auc_resamples, max(a.python_resamples * 2, 100))
    sk_s, point, diffs = python_auc(small, py_runs)
    check(ours, point, diffs)
    read_s = python_auc(small, 0)[0]
    sk_full = read_s + (sk_s - read_s) / py_runs * a.auc_resamples
    print(f"  ensemble gate                              {ours_s:>9.2f} s")
    print(f"  NumPy + scikit-learn ({py_runs} resamples run)  {sk_full:>9.1f} s   ({sk_full / ours_s:,.0f}x)")
    results.update(auc_ensemble_s=ours_s, auc_sklearn_s=sk_full)
    print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in results.items()}))


if __name__ == "__main__":
    main()
