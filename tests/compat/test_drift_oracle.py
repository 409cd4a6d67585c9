"""`ensemble drift` against SciPy and NumPy on random reference/current pairs (fixed seeds, 24 per family):
the two-sample Kolmogorov–Smirnov statistic and p-value (`ks_2samp(method="asymp")`), the Wasserstein
distance, PSI on the reference's deciles (NumPy), chi-square on the 2 × k table (`chi2_contingency`
without correction) and the Jensen–Shannon distance (`jensenshannon`, base 2); then the decisions and
the bad-input messages."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from _server import ensemble_binary

REL = 1e-9


def drift(*args):
    return subprocess.run([ensemble_binary(), "drift", *map(str, args)], capture_output=True, text=True, timeout=120)


def close(a, b, rel=REL, abs_tol=1e-13):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def write(path, columns):
    names = list(columns)
    n = len(columns[names[0]])
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(n):
            f.write(",".join(repr(float(columns[c][i])) if isinstance(columns[c][i], (float, np.floating)) else str(columns[c][i]) for c in names) + "\n")


def psi(ref, cur):
    edges = np.quantile(ref, np.arange(1, 10) / 10)
    def shares(v):
        bins = np.searchsorted(edges, v, side="left")
        return np.maximum(np.bincount(bins, minlength=10) / len(v), 1e-4)
    r, c = shares(ref), shares(cur)
    return float(np.sum((c - r) * np.log(c / r)))


@pytest.mark.parametrize("seed", range(24))
def test_every_statistic_equals_the_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    # Sizes from tens to thousands reach every region of the KS p-value (exact matrix, Smirnov tail, Pelz–Good).
    n_ref, n_cur = int(rng.integers(30, 4000)), int(rng.integers(30, 4000))
    shift = [0.0, 0.05, 0.2, 1.0][seed % 4]
    ref = {
        "amount": rng.lognormal(3, 1, n_ref),
        "age": np.round(rng.normal(40, 12, n_ref), 1),
        "plan": rng.choice(["basic", "plus", "pro", "team"], n_ref, p=[0.5, 0.3, 0.15, 0.05]),
    }
    cur = {
        "amount": rng.lognormal(3 + shift, 1, n_cur),
        "age": np.round(rng.normal(40 + 10 * shift, 12, n_cur), 1),
        "plan": rng.choice(["basic", "plus", "pro", "team", "enterprise"], n_cur, p=[0.5 - shift / 4, 0.3, 0.15, 0.05, shift / 4]),
    }
    write(tmp_path / "ref.csv", ref)
    write(tmp_path / "cur.csv", cur)
    r = drift(tmp_path / "ref.csv", tmp_path / "cur.csv", "--json")
    assert r.returncode == 0, r.stderr
    out = {c["column"]: c for c in json.loads(r.stdout)["columns"]}
    for name in ("amount", "age"):
        c = out[name]
        assert c["kind"] == "numeric"
        ks = stats.ks_2samp(ref[name], cur[name], method="asymp")
        assert close(c["statistic"], ks.statistic), (name, c["statistic"], ks.statistic)
        assert close(c["p_value"], ks.pvalue), (name, n_ref, n_cur, c["statistic"], c["p_value"], ks.pvalue)
        w = stats.wasserstein_distance(ref[name], cur[name])
        assert close(c["wasserstein"], w) and close(c["wasserstein_normed"], w / np.std(ref[name]))
        assert close(c["psi"], psi(ref[name], cur[name]), rel=1e-9, abs_tol=1e-12)
        assert c["jensen_shannon"] is None
    c = out["plan"]
    cats = sorted(set(ref["plan"]) | set(cur["plan"]))
    a = [int(np.sum(ref["plan"] == k)) for k in cats]
    b = [int(np.sum(cur["plan"] == k)) for k in cats]
    chi = stats.chi2_contingency([a, b], correction=False)
    assert c["kind"] == "categorical" and close(c["statistic"], chi.statistic) and close(c["p_value"], chi.pvalue)
    assert close(c["jensen_shannon"], jensenshannon(a, b, base=2))
    assert c["wasserstein"] is None and c["psi"] is None
    # The decisions follow the documented thresholds.
    for c in out.values():
        small = c["reference_count"] <= 1000
        distance = c["wasserstein_normed"] if c["kind"] == "numeric" else c["jensen_shannon"]
        assert c["drifted"] == (c["p_value"] < 0.05 if small else distance >= 0.1), c
    report = json.loads(r.stdout)
    assert report["drift_share"] == sum(c["drifted"] for c in out.values()) / 3
    assert report["drifted"] == (report["drift_share"] >= 0.5)


def test_a_shifted_window_drifts_and_the_same_data_does_not(tmp_path):
    rng = np.random.default_rng(1)
    ref = {"x": rng.normal(0, 1, 5000), "score": rng.random(5000), "segment": rng.choice(list("abc"), 5000)}
    same = {"x": rng.normal(0, 1, 5000), "score": rng.random(5000), "segment": rng.choice(list("abc"), 5000)}
    moved = {"x": rng.normal(0.5, 1, 5000), "score": rng.random(5000) ** 2, "segment": rng.choice(list("abc"), 5000, p=[0.6, 0.3, 0.1])}
    write(tmp_path / "ref.csv", ref)
    write(tmp_path / "same.csv", same)
    write(tmp_path / "moved.csv", moved)
    calm = json.loads(drift(tmp_path / "ref.csv", tmp_path / "same.csv", "--json", "--prediction-column", "score").stdout)
    assert calm["drift_share"] == 0 and not calm["drifted"] and calm["prediction_drift"] is False
    r = drift(tmp_path / "ref.csv", tmp_path / "moved.csv", "--prediction-column", "score")
    assert r.returncode == 0 and "3 of 3 columns drifted (100%): the dataset DRIFTED." in r.stdout, r.stdout
    assert json.loads(drift(tmp_path / "ref.csv", tmp_path / "moved.csv", "--json", "--prediction-column", "score").stdout)["prediction_drift"] is True


def test_json_lines_work_like_csv(tmp_path):
    rng = np.random.default_rng(2)
    rows = [{"x": float(v), "k": str(k)} for v, k in zip(rng.normal(0, 1, 300), rng.choice(list("ab"), 300))]
    (tmp_path / "ref.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "ref.csv").write_text("x,k\n" + "\n".join(f"{r['x']!r},{r['k']}" for r in rows) + "\n")
    a = json.loads(drift(tmp_path / "ref.jsonl", tmp_path / "ref.csv", "--json").stdout)
    assert a["drift_share"] == 0 and {c["column"] for c in a["columns"]} == {"x", "k"}


@pytest.mark.parametrize("ref, cur, args, message", [
    ("x,y\n1,2\n", "x\n1\n", [], "cur.csv: has no column 'y', which the reference"),
    ("x\n1\n", "x,y\n1,2\n", [], "ref.csv: has no column 'y', which the current window"),
    ("x\n" + "\n".join(str(i) for i in range(20)) + "\n", "x\n1\n2\nthree\n", [], "cur.csv:4: column 'x' is 'three', but the column is numeric"),
    ("x\n1\n", "x\n", [], "cur.csv: no rows"),
    ("x\n1\n", "x\n1\n", ["--column", "z"], "has no column 'z'"),
    ("x\n1\n", "x\n1\n", ["--prediction-column", "p"], "--prediction-column 'p' is not a column"),
    ("x\n1\n", "x\n1\n", ["--p-threshold", "2"], "between 0 and 1"),
])
def test_bad_input_exits_2_and_names_the_place(tmp_path, ref, cur, args, message):
    (tmp_path / "ref.csv").write_text(ref)
    (tmp_path / "cur.csv").write_text(cur)
    r = drift(tmp_path / "ref.csv", tmp_path / "cur.csv", *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr


def region_cases():
    """Samples built to reach each region of the KS p-value (Simard and L'Ecuyer's choice of method);
    the comment says where each lands (n = round(m·n/(m+n)), x = D)."""
    base = np.arange(300.0)
    evens = np.arange(0, 300, 2.0)
    evens_moved = evens.copy()
    evens_moved[-1] = 1000.0
    big = np.random.default_rng(11).normal(0, 1, 4000)
    r5, r6, r7, r8 = (np.random.default_rng(s) for s in (5, 6, 7, 8))
    return {
        "identical (D = 0)": (base, base.copy()),
        "t <= 0.5": (base, evens),                                                # n = 100, t = 0.33
        "0.5 < t <= 1 (Ruben-Gambino)": (base, evens_moved),                       # t = 0.67
        "t >= n - 1 (Ruben-Gambino)": (np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])),  # n = 2, D = 1
        "n <= 140, exact matrix": (r7.normal(0, 1, 60), r7.normal(0, 1, 90)),      # n = 36, n·x² ≤ 4
        "n <= 140, Smirnov tail": (r5.normal(0, 1, 60), r5.normal(0.9, 1, 90)),    # n·x² = 8.6
        "x >= 0.5": (r8.normal(0, 1, 300), r8.normal(2.5, 1, 300)),
        "n > 140, exact matrix": (big, big + np.random.default_rng(12).normal(0, 0.001, 4000)),  # n·x^1.5 ≤ 1.4
        "n > 140, Pelz-Good": (r7.normal(0, 1, 2000), r7.normal(0, 1, 2000)),
        "n > 140, Smirnov tail": (r8.normal(0, 1, 2000), r8.normal(0.2, 1, 2000)),  # n·x² ≥ 2.2
        "n > 140, far tail (0)": (r6.normal(0, 1, 4000), r6.normal(1.15, 1, 4000)),  # n·x² = 388 ≥ 370
    }


@pytest.mark.parametrize("case", list(region_cases()))
def test_ks_p_values_in_every_region_equal_scipy(tmp_path, case):
    a, b = region_cases()[case]
    write(tmp_path / "ref.csv", {"x": a})
    write(tmp_path / "cur.csv", {"x": b})
    r = drift(tmp_path / "ref.csv", tmp_path / "cur.csv", "--numeric", "x", "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["columns"][0]
    ks = stats.ks_2samp(a, b, method="asymp")
    assert close(c["statistic"], ks.statistic), (case, c["statistic"], ks.statistic)
    assert close(c["p_value"], ks.pvalue, abs_tol=1e-300), (case, c["p_value"], ks.pvalue)


def test_stored_dataset_versions_as_either_side(server, tmp_path):
    import os

    env = dict(os.environ, ENSEMBLE_SERVER=server.url)
    rng = np.random.default_rng(9)
    write(tmp_path / "ref.csv", {"x": rng.normal(0, 1, 500), "k": rng.choice(list("ab"), 500)})
    write(tmp_path / "cur.csv", {"x": rng.normal(0.3, 1, 400), "k": rng.choice(list("ab"), 400)})
    (tmp_path / "notes.txt").write_text("not a table\n")
    (tmp_path / "two").mkdir()
    write(tmp_path / "two" / "a.csv", {"x": rng.normal(0, 1, 50), "k": rng.choice(list("ab"), 50)})
    write(tmp_path / "two" / "b.csv", {"x": rng.normal(0, 1, 50), "k": rng.choice(list("ab"), 50)})
    for name, paths in [("training", [tmp_path / "ref.csv", tmp_path / "notes.txt"]), ("two-tables", [tmp_path / "two"])]:
        r = subprocess.run([ensemble_binary(), "dataset", "add", name, *map(str, paths), "--quiet"], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
    files = drift(tmp_path / "ref.csv", tmp_path / "cur.csv", "--json")
    stored = subprocess.run([ensemble_binary(), "drift", "datasets:/training@1", str(tmp_path / "cur.csv"), "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout) == json.loads(files.stdout)
    named = subprocess.run([ensemble_binary(), "drift", "datasets:/training@latest/ref.csv", str(tmp_path / "cur.csv"), "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(named.stdout) == json.loads(files.stdout)
    many = subprocess.run([ensemble_binary(), "drift", "datasets:/two-tables@1", str(tmp_path / "cur.csv")], capture_output=True, text=True, env=env, timeout=60)
    assert many.returncode == 2 and "holds 2 table files" in many.stderr and "name one: datasets:/two-tables@1/PATH" in many.stderr, many.stderr
    missing = subprocess.run([ensemble_binary(), "drift", "datasets:/training@1/nope.csv", str(tmp_path / "cur.csv")], capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 2 and "has no file 'nope.csv'" in missing.stderr


def test_a_window_larger_than_its_memory_equals_scipy(tmp_path):
    """400,000 rows with 1 MB for numbers: each column is sorted in runs on disk and merged back."""
    rng = np.random.default_rng(21)
    n_ref, n_cur = 150_000, 400_000
    ref = {"amount": np.round(rng.lognormal(3, 1, n_ref), 3), "age": rng.integers(18, 90, n_ref)}
    cur = {"amount": np.round(rng.lognormal(3.02, 1, n_cur), 3), "age": rng.integers(18, 92, n_cur)}
    for path, columns in [(tmp_path / "ref.csv", ref), (tmp_path / "cur.csv", cur)]:
        with open(path, "w") as f:
            f.write("amount,age\n")
            f.writelines(f"{a!r},{b}\n" for a, b in zip(columns["amount"].tolist(), columns["age"].tolist()))
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    r = subprocess.run([ensemble_binary(), "drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv"), "--json", "--memory-mb", "1"],
                       capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "TMPDIR": str(spill_dir)})
    assert r.returncode == 0, r.stderr
    assert list(spill_dir.iterdir()) == [], "the temporary runs are removed"
    out = {c["column"]: c for c in json.loads(r.stdout)["columns"]}
    for name in ("amount", "age"):
        c = out[name]
        ks = stats.ks_2samp(ref[name], cur[name], method="asymp")
        assert c["kind"] == "numeric" and c["reference_count"] == n_ref and c["current_count"] == n_cur
        assert close(c["statistic"], ks.statistic) and close(c["p_value"], ks.pvalue), (name, c, ks)
        assert close(c["wasserstein"], stats.wasserstein_distance(ref[name], cur[name]))
        assert close(c["psi"], psi(ref[name], cur[name]), abs_tol=1e-12)
    small = drift(tmp_path / "ref.csv", tmp_path / "cur.csv", "--json", "--memory-mb", "0")
    assert small.returncode == 2 and "--memory-mb" in small.stderr
