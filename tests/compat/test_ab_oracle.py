"""`ensemble ab` against SciPy, statsmodels and NumPy on random A/B tests (fixed seeds, 24 per family),
and its bad-input messages.

Oracles: Welch's t-test and its interval (`scipy.stats.ttest_ind(equal_var=False)`), the
sample-ratio check (`scipy.stats.chisquare`), Holm (`statsmodels` `multipletests(method="holm")`),
the delta-method relative interval and CUPED (the textbook θ = cov(Y, X) / var(X), with NumPy).
"""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from _server import ensemble_binary

REL = 1e-9


def ab(*args):
    return subprocess.run([ensemble_binary(), "ab", *map(str, args)], capture_output=True, text=True, timeout=120)


def close(a, b, rel=REL, abs_tol=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def make_test(path, seed):
    rng = np.random.default_rng(seed)
    nc, nt = int(rng.integers(50, 3000)), int(rng.integers(50, 3000))
    arms = np.array(["A"] * nc + ["B"] * nt)
    rng.shuffle(arms)
    n = nc + nt
    before = rng.lognormal(3, 0.6, n)
    lift = rng.normal(0, 0.05)
    revenue = before * rng.lognormal(0, 0.3, n) * np.where(arms == "B", 1 + lift, 1)
    conversion = (rng.random(n) < np.where(arms == "B", 0.11 + lift / 10, 0.1)).astype(float)
    latency = rng.gamma(4, 30, n) + np.where(arms == "B", rng.normal(2, 1), 0)
    with open(path, "w") as f:
        f.write("unit,arm,revenue,conversion,latency_ms,revenue_before\n")
        for i in range(n):
            f.write(f"u{i},{arms[i]},{float(revenue[i])!r},{float(conversion[i])!r},{float(latency[i])!r},{float(before[i])!r}\n")
    cols = {"revenue": revenue, "conversion": conversion, "latency_ms": latency}
    return arms, cols, before


@pytest.mark.parametrize("seed", range(24))
def test_welch_delta_srm_holm_cuped_equal_the_references(tmp_path, seed):
    path = tmp_path / "ab.csv"
    arms, cols, before = make_test(path, seed)
    split = [(50, 50), (60, 40), (45, 55)][seed % 3]
    r = ab(path, "--control", "A", "--metric", "revenue", "--metric", "conversion", "--guardrail", "latency_ms",
           "--lower-is-better", "latency_ms", "--covariate", "revenue_before", "--split", f"{split[0]}/{split[1]}", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    c, t = arms == "A", arms == "B"
    srm = stats.chisquare([c.sum(), t.sum()], f_exp=np.array(split) / sum(split) * (c.sum() + t.sum()))
    assert close(out["srm_p_value"], srm.pvalue) and close(out["srm_chi_square"], srm.statistic)
    pvals = []
    for m in out["metrics"]:
        y = cols[m["name"]]
        ref = stats.ttest_ind(y[t], y[c], equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert close(m["control_mean"], y[c].mean()) and close(m["treatment_mean"], y[t].mean())
        assert close(m["lift"], y[t].mean() - y[c].mean(), abs_tol=1e-10)
        assert close(m["p_value"], ref.pvalue), (m["name"], m["p_value"], ref.pvalue)
        assert close(m["t"], ref.statistic) and close(m["df"], ref.df)
        assert close(m["ci_low"], ci.low) and close(m["ci_high"], ci.high), (m, ci)
        # Delta method for the ratio of means.
        mc, mt = y[c].mean(), y[t].mean()
        vc, vt = y[c].var(ddof=1) / c.sum(), y[t].var(ddof=1) / t.sum()
        se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
        z = stats.norm.ppf(0.975)
        assert close(m["relative_lift"], mt / mc - 1, abs_tol=1e-12)
        assert close(m["relative_ci_low"], mt / mc - 1 - z * se, abs_tol=1e-12) and close(m["relative_ci_high"], mt / mc - 1 + z * se, abs_tol=1e-12)
        # The minimum detectable effect at 80% power.
        assert close(m["mde"], (z + stats.norm.ppf(0.8)) * math.sqrt(vc + vt))
        # CUPED: θ from both arms pooled.
        theta = np.cov(y, before, ddof=1)[0, 1] / np.var(before, ddof=1)
        adj = y - theta * (before - before.mean())
        cref = stats.ttest_ind(adj[t], adj[c], equal_var=False)
        assert close(m["cuped_theta"], theta) and close(m["cuped_p_value"], cref.pvalue)
        assert close(m["cuped_lift"], adj[t].mean() - adj[c].mean(), abs_tol=1e-10)
        cci = cref.confidence_interval(0.95)
        assert close(m["cuped_ci_low"], cci.low) and close(m["cuped_ci_high"], cci.high)
        pvals.append(ref.pvalue)
    holm = multipletests(pvals, method="holm")[1]
    for m, h in zip(out["metrics"], holm):
        assert close(m["adjusted_p_value"], h), (m["adjusted_p_value"], h)
    assert out["summary"].endswith(".")


def test_a_broken_split_is_flagged_and_named_in_the_summary(tmp_path):
    path = tmp_path / "ab.csv"
    with open(path, "w") as f:
        f.write("unit,arm,conversion\n")
        for i in range(10000):
            f.write(f"u{i},{'A' if i % 5 < 3 else 'B'},{i % 7 == 0:d}\n")
    out = json.loads(ab(path, "--control", "A", "--metric", "conversion", "--json").stdout)
    assert out["srm_flagged"] and out["srm_p_value"] < 1e-80  # 6,000 vs 4,000 against 50/50: chi-square 400
    assert out["summary"].startswith("Do not trust this test")


def test_the_summary_reads_as_a_sentence(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "ab.csv"
    n = 40000
    arms = np.where(rng.random(n) < 0.5, "old", "new")
    conv = rng.random(n) < np.where(arms == "new", 0.12, 0.10)
    lat = rng.normal(100, 10, n)
    with open(path, "w") as f:
        f.write("unit,arm,conversion,latency\n")
        for i in range(n):
            f.write(f"u{i},{arms[i]},{int(conv[i])},{float(lat[i])!r}\n")
    r = ab(path, "--control", "old", "--metric", "conversion", "--guardrail", "latency", "--lower-is-better", "latency")
    assert r.returncode == 0, r.stderr
    assert "The new model (new) raised conversion by" in r.stdout and "no guardrail got worse." in r.stdout, r.stdout


@pytest.mark.parametrize("rows, args, message", [
    ([("u1", "A", "1"), ("u2", "B", "0")], ["--control", "C"], "no unit is in the control arm 'C'; the arms in column 'arm' are: 'A', 'B'"),
    ([("u1", "A", "1"), ("u2", "A", "0")], ["--control", "A"], "the treatment arm is empty"),
    ([("u1", "A", "1"), ("u2", "B", "yes")], ["--control", "A"], "ab.csv:3: column 'm' is 'yes', not a number"),
    ([("u1", "A", "1"), ("u1", "B", "0")], ["--control", "A"], "ab.csv:3: unit 'u1' in column 'unit' already appeared on line 2"),
    ([("u1", "A", "1"), ("u2", "B", "nan")], ["--control", "A"], "ab.csv:3: column 'm' is nan"),
    ([("u1", "A", "1"), ("u2", "B", "0"), ("u3", "C", "0")], ["--control", "A"], "say which is the treatment with --treatment"),
    ([("u1", "A", "1"), ("u2", "B", "0")], ["--control", "A", "--covariate", "pre"], "has no column 'pre'"),
    ([("u1", "A", "1"), ("u2", "B", "0")], ["--control", "A", "--split", "50"], "--split needs two shares"),
    ([("u1", "A", "1"), ("u2", "B", "0")], ["--control", "A"], "each arm needs at least 2 units"),
])
def test_bad_input_exits_2_and_names_the_place(tmp_path, rows, args, message):
    path = tmp_path / "ab.csv"
    with open(path, "w") as f:
        f.write("unit,arm,m\n")
        for row in rows:
            f.write(",".join(row) + "\n")
    r = ab(path, "--metric", "m", *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
