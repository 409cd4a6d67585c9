"""`ensemble drift` and `ensemble ab` against the same computation in pandas + SciPy, on the same
files, in one run (see scripts/bench-production).

Workloads from issue 14:
  1. drift on 1,000,000 rows x 20 columns (16 numeric, 4 categorical), reference and window;
  2. a 1 GB window against that reference: Ensemble's peak memory stays bounded (pandas holds it all);
  3. an A/B analysis of 10,000,000 units (two metrics, a guardrail, a CUPED covariate).

Both sides are timed end to end, reading the CSV files included, each in its own process so its peak
resident memory (ru_maxrss) is measured too. The Python side is what a data scientist would write:
pandas.read_csv, then per column scipy.stats.ks_2samp(method="asymp"), wasserstein_distance, PSI on
the reference's deciles with NumPy, chi2_contingency and jensenshannon; for the A/B test chisquare
for the split, ttest_ind(equal_var=False), the delta method and CUPED with NumPy, and Holm. Before any
time is reported the two sides' statistics are checked to agree (1e-9 relative).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

NUMERIC = [f"x{i:02d}" for i in range(16)]
CATEGORICAL = ["plan", "country", "device", "channel"]


def make_drift_table(path, rows, seed, shift, chunk=500_000):
    """16 numeric columns (normal, log-normal, integer-valued with many ties, uniform) and 4 categorical."""
    rng = np.random.default_rng(seed)
    first = True
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        cols = {}
        for i, name in enumerate(NUMERIC):
            s = shift * (i % 4 == 0)
            kind = i % 4
            if kind == 0:
                v = np.round(rng.normal(s, 1, n), 5)
            elif kind == 1:
                v = np.round(rng.lognormal(3 + s, 0.8, n), 3)
            elif kind == 2:
                v = rng.integers(0, 90, n).astype(float)
            else:
                v = np.round(rng.random(n) * 100, 4)
            cols[name] = v
        p = [0.5 - shift / 4, 0.3, 0.15, 0.05 + shift / 4]
        cols["plan"] = rng.choice(["basic", "plus", "pro", "team"], n, p=p)
        cols["country"] = rng.choice([f"c{k}" for k in range(40)], n)
        cols["device"] = rng.choice(["ios", "android", "web"], n, p=[0.4, 0.4, 0.2])
        cols["channel"] = rng.choice(["ads", "organic", "partner", "email", "referral"], n)
        pd.DataFrame(cols).to_csv(path, index=False, header=first, mode="w" if first else "a")
        first = False


def make_ab_table(path, units, seed, chunk=1_000_000):
    rng = np.random.default_rng(seed)
    first = True
    for start in range(0, units, chunk):
        n = min(chunk, units - start)
        arm = np.where(rng.random(n) < 0.5, "A", "B")
        before = np.round(rng.lognormal(3, 0.6, n), 4)
        revenue = np.round(before * rng.lognormal(0, 0.3, n) * np.where(arm == "B", 1.01, 1), 4)
        conversion = (rng.random(n) < np.where(arm == "B", 0.102, 0.1)).astype(int)
        latency = np.round(rng.gamma(4, 30, n), 2)
        unit = np.char.add("u", np.arange(start, start + n).astype(str))
        pd.DataFrame({"unit": unit, "arm": arm, "revenue": revenue, "conversion": conversion, "latency_ms": latency, "revenue_before": before}).to_csv(
            path, index=False, header=first, mode="w" if first else "a")
        first = False


def measured(args):
    """Runs a command; returns (seconds, peak resident memory in MB, stdout). The peak is the process's
    own VmHWM, read from /proc every 20 ms while it runs (ru_maxrss would include this parent's)."""
    out_path = os.path.join(WORKDIR, "stdout.txt")
    peak_kb = 0
    with open(out_path, "w") as out, open(os.path.join(WORKDIR, "stderr.txt"), "w") as err:
        t = time.perf_counter()
        p = subprocess.Popen(args, stdout=out, stderr=err)
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak_kb = max(peak_kb, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
            time.sleep(0.02)
        seconds = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed: {open(os.path.join(WORKDIR, 'stderr.txt')).read()}")
    return seconds, peak_kb / 1024, open(out_path).read()


# ---- the Python references, run in their own process (`production_bench.py --reference KIND ...`) ----

def reference_drift(ref_path, cur_path):
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ref, cur = pd.read_csv(ref_path), pd.read_csv(cur_path)
    columns = []
    for name in NUMERIC:
        a, b = ref[name].to_numpy(), cur[name].to_numpy()
        ks = stats.ks_2samp(a, b, method="asymp")
        w = stats.wasserstein_distance(a, b)
        edges = np.quantile(a, np.arange(1, 10) / 10)
        shares = [np.maximum(np.bincount(np.searchsorted(edges, v, side="left"), minlength=10) / len(v), 1e-4) for v in (a, b)]
        psi = float(np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0])))
        columns.append({"column": name, "statistic": float(ks.statistic), "p_value": float(ks.pvalue), "wasserstein": float(w), "psi": psi})
    for name in CATEGORICAL:
        counts = pd.concat([ref[name].value_counts().rename("a"), cur[name].value_counts().rename("b")], axis=1).fillna(0)
        chi = stats.chi2_contingency(counts.to_numpy().T, correction=False)
        js = jensenshannon(counts["a"].to_numpy(), counts["b"].to_numpy(), base=2)
        columns.append({"column": name, "statistic": float(chi.statistic), "p_value": float(chi.pvalue), "jensen_shannon": float(js)})
    return {"columns": columns}


def reference_ab(path):
    from scipy import stats

    df = pd.read_csv(path)
    c, t = (df["arm"] == "A").to_numpy(), (df["arm"] == "B").to_numpy()
    srm = stats.chisquare([c.sum(), t.sum()])
    before = df["revenue_before"].to_numpy()
    out = {"srm_p_value": float(srm.pvalue), "metrics": []}
    z = stats.norm.ppf(0.975)
    for name in ["revenue", "conversion", "latency_ms"]:
        y = df[name].to_numpy(dtype=float)
        r = stats.ttest_ind(y[t], y[c], equal_var=False)
        mc, mt = y[c].mean(), y[t].mean()
        vc, vt = y[c].var(ddof=1) / c.sum(), y[t].var(ddof=1) / t.sum()
        se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
        theta = np.cov(y, before, ddof=1)[0, 1] / np.var(before, ddof=1)
        adj = y - theta * (before - before.mean())
        cr = stats.ttest_ind(adj[t], adj[c], equal_var=False)
        out["metrics"].append({"name": name, "lift": mt - mc, "p_value": float(r.pvalue), "relative_ci_low": mt / mc - 1 - z * se,
                               "cuped_p_value": float(cr.pvalue), "cuped_lift": float(adj[t].mean() - adj[c].mean())})
    # Holm over the metrics.
    order = np.argsort([m["p_value"] for m in out["metrics"]])
    k, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * out["metrics"][i]["p_value"]))
        out["metrics"][i]["adjusted_p_value"] = running
    return out


def close(a, b, rel=1e-9, abs_tol=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def check_drift(ours, theirs):
    mine = {c["column"]: c for c in ours["columns"]}
    for c in theirs["columns"]:
        m = mine[c["column"]]
        for key, value in c.items():
            if key != "column":
                assert close(m[key], value, abs_tol=1e-12 if key != "p_value" else 1e-15), (c["column"], key, m[key], value)


def check_ab(ours, theirs):
    assert close(ours["srm_p_value"], theirs["srm_p_value"])
    mine = {m["name"]: m for m in ours["metrics"]}
    for m in theirs["metrics"]:
        for key, value in m.items():
            if key != "name":
                assert close(mine[m["name"]][key], value, abs_tol=1e-10), (m["name"], key, mine[m["name"]][key], value)


WORKDIR = ""


def main():
    global WORKDIR
    if len(sys.argv) > 2 and sys.argv[1] == "--reference":
        kind, files = sys.argv[2], sys.argv[3:]
        print(json.dumps(reference_drift(*files) if kind == "drift" else reference_ab(*files)))
        return
    p = argparse.ArgumentParser()
    p.add_argument("--ensemble-bin", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--window-gb", type=float, default=1.0, help="size of the large window (0 skips it)")
    p.add_argument("--units", type=int, default=10_000_000)
    p.add_argument("--skip-python-large", action="store_true", help="do not run pandas on the large window")
    p.add_argument("--only", choices=["drift", "ab"], help="run one workload")
    a = p.parse_args()
    WORKDIR = a.workdir
    me = [sys.executable, os.path.abspath(__file__), "--reference"]
    results = {"cores": os.cpu_count(), "commit": os.environ.get("BENCH_COMMIT", "")}

    if a.only != "ab":
        drift_workloads(a, me, results)
    if a.only != "drift":
        ab_workload(a, me, results)
    print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in results.items()}))


def drift_workloads(a, me, results):
    ref, cur = os.path.join(a.workdir, "reference.csv"), os.path.join(a.workdir, "window.csv")
    print(f"==> drift: {a.rows:,} rows x 20 columns on each side")
    make_drift_table(ref, a.rows, 1, 0.0)
    make_drift_table(cur, a.rows, 2, 0.1)
    print(f"  files: {os.path.getsize(ref) / 1e6:.0f} MB and {os.path.getsize(cur) / 1e6:.0f} MB")
    ours_s, ours_mb, out = measured([a.ensemble_bin, "drift", ref, cur, "--json", "--quiet"])
    py_s, py_mb, py_out = measured(me + ["drift", ref, cur])
    check_drift(json.loads(out), json.loads(py_out))
    print(f"  ensemble drift      {ours_s:8.2f} s  {ours_mb:7.0f} MB peak")
    print(f"  pandas + SciPy      {py_s:8.2f} s  {py_mb:7.0f} MB peak   ({py_s / ours_s:.1f}x the time)")
    results.update(drift_ensemble_s=ours_s, drift_ensemble_mb=ours_mb, drift_python_s=py_s, drift_python_mb=py_mb)

    if a.window_gb > 0:
        big = os.path.join(a.workdir, "window-large.csv")
        rows = int(a.window_gb * 1e9 / (os.path.getsize(cur) / a.rows))
        print(f"==> drift: a {a.window_gb:g} GB window ({rows:,} rows) against the {a.rows:,}-row reference")
        make_drift_table(big, rows, 3, 0.1)
        print(f"  file: {os.path.getsize(big) / 1e9:.2f} GB")
        os.remove(cur)
        ours_s, ours_mb, out = measured([a.ensemble_bin, "drift", ref, big, "--json", "--quiet"])
        print(f"  ensemble drift      {ours_s:8.2f} s  {ours_mb:7.0f} MB peak (64 MB for numbers per side; sorted runs in $TMPDIR)")
        results.update(large_rows=rows, large_ensemble_s=ours_s, large_ensemble_mb=ours_mb)
        if not a.skip_python_large:
            py_s, py_mb, py_out = measured(me + ["drift", ref, big])
            check_drift(json.loads(out), json.loads(py_out))
            print(f"  pandas + SciPy      {py_s:8.2f} s  {py_mb:7.0f} MB peak   ({py_s / ours_s:.1f}x the time, {py_mb / ours_mb:.1f}x the memory)")
            results.update(large_python_s=py_s, large_python_mb=py_mb)
        os.remove(big)


def ab_workload(a, me, results):
    path = os.path.join(a.workdir, "ab.csv")
    print(f"==> A/B: {a.units:,} units (revenue, conversion, latency guardrail, CUPED covariate)")
    make_ab_table(path, a.units, 4)
    print(f"  file: {os.path.getsize(path) / 1e6:.0f} MB")
    ours_s, ours_mb, out = measured([a.ensemble_bin, "ab", path, "--control", "A", "--metric", "revenue", "--metric", "conversion",
                                     "--guardrail", "latency_ms", "--lower-is-better", "latency_ms", "--covariate", "revenue_before", "--json"])
    py_s, py_mb, py_out = measured(me + ["ab", path])
    check_ab(json.loads(out), json.loads(py_out))
    print(f"  ensemble ab         {ours_s:8.2f} s  {ours_mb:7.0f} MB peak")
    print(f"  pandas + SciPy      {py_s:8.2f} s  {py_mb:7.0f} MB peak   ({py_s / ours_s:.1f}x the time)")
    results.update(ab_ensemble_s=ours_s, ab_ensemble_mb=ours_mb, ab_python_s=py_s, ab_python_mb=py_mb)


if __name__ == "__main__":
    main()
