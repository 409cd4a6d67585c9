"""`ensemble gate`: point values equal scikit-learn's, exit codes 0/1/2 as CI expects, the JSON shape,
the Markdown report, a policy over two sets, and bad input named by file, line and column."""

import csv
import json
import math
import os
import subprocess

import numpy as np
import pytest
from sklearn import metrics as skm

from _server import ensemble_binary


def gate(*args):
    return subprocess.run([ensemble_binary(), "gate", *map(str, args)], capture_output=True, text=True, timeout=300)


def write(path, rows, header=("id", "y", "p_prod", "p_new")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def make_set(path, seed, n=2000, lift=0.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = np.clip(y * 0.3 + rng.normal(0.35, 0.25, n), 0, 1)
    cand = np.clip(y * (0.3 + lift) + rng.normal(0.35 - lift / 2, 0.25, n), 0, 1)
    write(path, [(f"ex-{i}", int(y[i]), repr(float(base[i])), repr(float(cand[i]))) for i in range(n)])
    return y, base, cand


COLUMNS = ["--label-column", "y", "--baseline-column", "p_prod", "--candidate-column", "p_new"]


@pytest.mark.parametrize("seed", range(5))
def test_point_values_equal_scikit_learn(tmp_path, seed):
    y, base, cand = make_set(tmp_path / "val.csv", seed, n=1500, lift=0.05 * seed)
    metrics = ["accuracy", "precision", "recall", "f1", "roc_auc"]
    r = gate(tmp_path / "val.csv", *COLUMNS, *sum([["--metric", m] for m in metrics], []), "--resamples", 200, "--json")
    assert r.returncode in (0, 1), r.stderr
    got = {m["name"]: m for m in json.loads(r.stdout)["sets"][0]["metrics"]}
    for scores, side in ((base, "baseline"), (cand, "candidate")):
        pred = scores >= 0.5
        want = {"accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred, zero_division=0),
                "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred), "roc_auc": skm.roc_auc_score(y, scores)}
        for name, value in want.items():
            assert math.isclose(got[name][side], value, rel_tol=1e-9, abs_tol=1e-12), (name, side, got[name][side], value)
    for m in got.values():
        assert math.isclose(m["difference"], m["candidate"] - m["baseline"], abs_tol=1e-12) and m["ci_low"] <= m["ci_high"]


def test_exit_codes_json_and_report_for_ci(tmp_path):
    make_set(tmp_path / "better.csv", 1, lift=0.15)
    make_set(tmp_path / "worse.csv", 2, lift=-0.1)
    report = tmp_path / "gate.md"
    ok = gate(tmp_path / "better.csv", *COLUMNS, "--metric", "roc_auc", "--rule", "superior", "--seed", 3, "--resamples", 2000, "--json", "--report", report)
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert body["decision"] == "pass" and body["sets"][0]["name"] == "better" and body["sets"][0]["n"] == 2000
    assert set(body["sets"][0]["metrics"][0]) >= {"name", "baseline", "candidate", "difference", "ci_low", "ci_high", "rule", "passed"}
    assert body["sets"][0]["metrics"][0]["ci_low"] > 0
    assert "Release gate: ✅ pass" in report.read_text() and "| roc_auc |" in report.read_text()
    # The same seed gives the same answer.
    again = gate(tmp_path / "better.csv", *COLUMNS, "--metric", "roc_auc", "--rule", "superior", "--seed", 3, "--resamples", 2000, "--json")
    assert json.loads(again.stdout) == body
    bad = gate(tmp_path / "worse.csv", *COLUMNS, "--metric", "roc_auc", "--metric", "accuracy", "--rule", "non-inferior", "--margin", 0.01)
    assert bad.returncode == 1, bad.stderr
    assert "Decision: FAIL" in bad.stdout and "FAIL" in bad.stdout.splitlines()[2]


def test_a_policy_over_two_sets_needs_every_set_to_pass(tmp_path):
    make_set(tmp_path / "val.csv", 4, lift=0.1)
    make_set(tmp_path / "test.csv", 5, lift=-0.1)
    policy = tmp_path / "gate.json"
    policy.write_text(json.dumps({
        "sets": [{"name": "validation", "file": "val.csv", "label_column": "y", "baseline_column": "p_prod", "candidate_column": "p_new"},
                 {"name": "test", "file": "test.csv", "label_column": "y", "baseline_column": "p_prod", "candidate_column": "p_new"}],
        "metrics": [{"name": "roc_auc", "rule": "non-inferior", "margin": 0.01}, {"name": "accuracy", "rule": "at-least", "floor": 0.5}],
        "resamples": 500, "seed": 1, "stratify": True}))
    r = gate("--policy", policy, "--json")
    assert r.returncode == 1, r.stderr
    body = json.loads(r.stdout)
    verdicts = {s["name"]: [m["passed"] for m in s["metrics"]] for s in body["sets"]}
    assert verdicts == {"validation": [True, True], "test": [False, True]} and body["decision"] == "fail"


@pytest.mark.parametrize("rows, args, message", [
    ([("a", 1, 0.2, 0.3), ("a", 0, 0.1, 0.2)], [], "bad.csv:3: id 'a' in column 'id' already appeared on line 2"),
    ([("a", 1, 0.2, 0.3), ("", 0, 0.1, 0.2)], [], "bad.csv:3: column 'id' is empty"),
    ([("a", 1, 0.2, 0.3), ("b", "", 0.1, 0.2)], [], "bad.csv:3: column 'y' is empty"),
    ([("a", 1, 0.2, "nan"), ("b", 0, 0.1, 0.2)], [], "bad.csv:2: column 'p_new' is nan"),
    ([("a", 1, 0.2, 0.3), ("b", 0, "", 0.2)], [], "bad.csv:3: column 'p_prod' is empty"),
    ([], [], "has no examples"),
    ([("a", 1, 0.2, 0.3), ("b", 0, 0.1, 0.2)], ["--metric", "bleu"], "Unknown metric 'bleu'"),
    ([("a", 1, 0.2, 0.3), ("b", 0, 0.1, 0.2)], ["--metric", "accuracy", "--rule", "at-least"], "needs --floor"),
    ([("a", 1, 0.2, 0.3), ("b", 0, 0.1, 0.2)], ["--metric", "accuracy", "--label-column", "truth"], "has no column 'truth'"),
    ([("a", 1, 0.2, 0.3), ("b", 0, 0.1, 0.2)], ["--metric", "accuracy", "--margin", "nan"], "must be a finite number"),
    ([("a", 1, 0.2, 0.3), ("b", 0, 0.1, 0.2)], ["--metric", "accuracy", "--threshold", "nan"], "--threshold must be a finite number"),
    ([("a", 1, 0.2, 0.3), ("b", 0, 0.1, 0.2)], ["--metric", "accuracy", "--seed", "18446744073709551615"], "--seed must be at most"),
])
def test_bad_input_exits_2_and_names_the_place(tmp_path, rows, args, message):
    write(tmp_path / "bad.csv", rows)
    cols = [a for a in COLUMNS]
    if "--label-column" in args:
        cols = cols[2:]
    metric = [] if "--metric" in args else ["--metric", "roc_auc"]
    r = gate(tmp_path / "bad.csv", *cols, *metric, *args, "--resamples", 100)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr


def test_two_files_joined_by_id_give_the_same_result_as_one(tmp_path):
    y, base, cand = make_set(tmp_path / "one.csv", 11, n=800, lift=0.1)
    write(tmp_path / "prod.csv", [(f"ex-{i}", int(y[i]), repr(float(base[i]))) for i in range(len(y))], header=("id", "y", "p_prod"))
    # The candidate's file in another order: the join is by id, not by line.
    write(tmp_path / "new.csv", [(f"ex-{i}", repr(float(cand[i]))) for i in reversed(range(len(y)))], header=("id", "p_new"))
    args = [*COLUMNS, "--metric", "roc_auc", "--metric", "f1", "--resamples", 300, "--json"]
    one = gate(tmp_path / "one.csv", *args)
    two = gate(tmp_path / "prod.csv", "--candidate-file", tmp_path / "new.csv", *args)
    assert one.returncode == two.returncode and one.returncode in (0, 1), two.stderr
    a, b = json.loads(one.stdout)["sets"][0], json.loads(two.stdout)["sets"][0]
    assert a["metrics"] == b["metrics"] and a["n"] == b["n"] == len(y)


@pytest.mark.parametrize("prod, new, message", [
    ([("a", 1, 0.2), ("b", 0, 0.1)], [("a", 0.3)], "prod.csv:3: id 'b' has no row in"),
    ([("a", 1, 0.2)], [("a", 0.3), ("c", 0.1)], "new.csv:3: id 'c' is not in"),
    ([("a", 1, 0.2)], [("a", 0.3), ("a", 0.1)], "new.csv:3: id 'a' in column 'id' already appeared on line 2"),
    ([("a", 1, 0.2), ("b", 0, 0.1)], [("a", 0.3), ("b", "nan")], "new.csv:3: column 'p_new' is nan"),
    ([("a", 1, 0.2)], [("", 0.3)], "new.csv:2: column 'id' is empty"),
])
def test_mismatched_files_exit_2_naming_file_and_line(tmp_path, prod, new, message):
    write(tmp_path / "prod.csv", prod, header=("id", "y", "p_prod"))
    write(tmp_path / "new.csv", new, header=("id", "p_new"))
    r = gate(tmp_path / "prod.csv", "--candidate-file", tmp_path / "new.csv", *COLUMNS, "--metric", "accuracy", "--resamples", 100)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "Unknown option '--bogus'"),
    (["x.csv", "--promote", "champion", "--metric", "f1"], "--promote needs --model"),
    (["x.csv", "--model", "churn", "--metric", "f1"], "--model and --version go together"),
    (["a.csv", "b.csv", "--candidate-file", "c.csv"], "exactly one FILE"),
    (["x.csv", "--resamples", "many"], "--resamples"),
])
def test_usage_errors_exit_2(args, message):
    r = gate(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr


def test_a_result_that_cannot_be_stored_exits_2(tmp_path):
    make_set(tmp_path / "val.csv", 3, n=300)
    env = dict(os.environ, ENSEMBLE_SERVER="http://127.0.0.1:9")  # nothing listens on the discard port
    r = subprocess.run([ensemble_binary(), "gate", str(tmp_path / "val.csv"), *COLUMNS, "--metric", "f1", "--resamples", "100", "--model", "m", "--version", "1"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "the result was not stored" in r.stderr
