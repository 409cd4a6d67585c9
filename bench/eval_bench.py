"""`ensemble eval` vs scikit-learn and jiwer on the same inputs, in one run (see scripts/bench-eval).

Each measurement is the best of --repeat runs. Two views:
- end to end: from the CSV file on disk to the numbers (Ensemble: `ensemble eval`; Python: pandas.read_csv
  + the library call), which is what a person running an evaluation waits for;
- compute only: the metric computation on data already in memory (Ensemble: total minus the reading
  time it reports with --timings; Python: the library call alone).
Both results are checked to agree before any time is reported.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import time

import jiwer
import numpy as np
import pandas as pd
from sklearn import metrics as skm


def best_of(n, fn):
    times, value = [], None
    for _ in range(n):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return min(times), value


def ensemble(binary, path, *args):
    t = time.perf_counter()
    out = subprocess.run([binary, "eval", path, "--json", "--quiet", "--timings", *args], capture_output=True, text=True, check=True)
    total = time.perf_counter() - t
    read = float(out.stderr.split("read ")[1].split(" s")[0])
    compute = float(out.stderr.split("compute ")[1].split(" s")[0])
    return total, read, compute, json.loads(out.stdout)["metrics"]


def row(label, ours, theirs):
    if ours < 0.001:
        # Streaming metrics (counts) are computed while the file is read: no separate compute step.
        print(f"  {label:<44} {'(in read)':>11} {theirs:>9.3f} s {'-':>9}")
        return None
    ratio = theirs / ours
    print(f"  {label:<44} {ours:>9.3f} s {theirs:>9.3f} s {ratio:>8.1f}x")
    return ratio


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ensemble-bin", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--samples", type=int, default=10_000_000)
    p.add_argument("--pairs", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    results = {}

    print(f"==> classification: {a.samples:,} samples")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, a.samples)
    score = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.25), 0, 1), 4)  # 4 decimals: many ties
    pred = (score >= 0.5).astype(int)
    path = os.path.join(a.workdir, "cls.csv")
    pd.DataFrame({"label": y, "prediction": pred, "score": score}).to_csv(path, index=False)
    print(f"  file: {os.path.getsize(path) / 1e6:.0f} MB")

    for metric, args, sk in [
        ("roc_auc", ["--metric", "roc_auc", "--score-column", "score"], lambda df: skm.roc_auc_score(df["label"].to_numpy(), df["score"].to_numpy())),
        ("f1", ["--metric", "f1"], lambda df: skm.f1_score(df["label"].to_numpy(), df["prediction"].to_numpy())),
    ]:
        ens = [ensemble(a.ensemble_bin, path, *args) for _ in range(a.repeat)]
        e_total = min(x[0] for x in ens)
        e_compute = min(x[2] for x in ens)
        value = ens[0][3][metric]
        py_total, (df, ref) = best_of(a.repeat, lambda: (lambda d: (d, sk(d)))(pd.read_csv(path)))
        frame = pd.read_csv(path)
        py_compute, ref2 = best_of(a.repeat, lambda: sk(frame))
        assert math.isclose(value, ref, rel_tol=1e-9), (metric, value, ref)
        print(f"  {metric}: ensemble {value!r}, scikit-learn {ref!r}")
        print(f"  {'':<44} {'ensemble':>11} {'python':>11} {'faster':>9}")
        results[f"{metric}_end_to_end"] = row(f"{metric}, CSV -> number (read_csv + sklearn)", e_total, py_total)
        results[f"{metric}_compute"] = row(f"{metric}, compute only", e_compute, py_compute)

    print(f"==> speech: {a.pairs:,} sentence pairs")
    r = random.Random(1)
    vocab = [f"w{i}" for i in range(2000)]
    refs, hyps = [], []
    for _ in range(a.pairs):
        ref = [r.choice(vocab) for _ in range(r.randint(3, 25))]
        hyp = [w if r.random() < 0.85 else r.choice(vocab) for w in ref if r.random() > 0.05]
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    path = os.path.join(a.workdir, "asr.csv")
    pd.DataFrame({"reference": refs, "hypothesis": hyps}).to_csv(path, index=False)
    ens = [ensemble(a.ensemble_bin, path, "--metric", "wer") for _ in range(a.repeat)]
    e_total, e_compute, value = min(x[0] for x in ens), min(x[2] for x in ens), ens[0][3]["wer"]
    py_total, ref = best_of(a.repeat, lambda: (lambda d: jiwer.wer(d["reference"].tolist(), d["hypothesis"].tolist()))(pd.read_csv(path)))
    py_compute, _ = best_of(a.repeat, lambda: jiwer.wer(refs, hyps))
    assert math.isclose(value, ref, rel_tol=1e-9), (value, ref)
    print(f"  wer: ensemble {value!r}, jiwer {ref!r}")
    results["wer_end_to_end"] = row("wer, CSV -> number (read_csv + jiwer)", e_total, py_total)
    results["wer_compute"] = row("wer, compute only", e_compute, py_compute)
    print(json.dumps({k: (round(v, 2) if v is not None else None) for k, v in results.items()}))


if __name__ == "__main__":
    main()
