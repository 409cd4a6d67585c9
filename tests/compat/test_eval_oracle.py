"""`ensemble eval --json` against the reference implementations on random inputs with fixed seeds.

scikit-learn for classification and regression, jiwer for speech, the textbook formulas (NumPy) for
Jaccard and perplexity. Relative tolerance 1e-9, absolute 1e-12 for values near zero.
"""

import csv
import json
import math
import random
import subprocess

import jiwer
import numpy as np
import pytest
from sklearn import metrics as skm

from _server import ensemble_binary

SEEDS = range(20)


def evaluate(path, *args):
    result = subprocess.run([ensemble_binary(), "eval", str(path), "--json", "--quiet", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"ensemble eval {' '.join(args)} failed:\n{result.stderr}"
    return json.loads(result.stdout)


def close(ours, theirs, name):
    assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12), f"{name}: ensemble {ours!r} != reference {theirs!r}"


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_classification(tmp_path, seed):
    rng = random.Random(seed)
    n = rng.randint(20, 400)
    truth = [rng.randint(0, 1) for _ in range(n)]
    truth[0], truth[1] = 0, 1  # both classes present
    # Scores rounded to one or two decimals: plenty of ties, within and across classes.
    digits = 1 if seed % 2 else 2
    scores = [round(min(1.0, max(0.0, rng.gauss(0.35 + 0.3 * t, 0.25))), digits) for t in truth]
    predicted = [1 if s >= 0.5 else 0 for s in scores]
    if seed % 5 == 0:
        predicted = [0] * n  # nothing predicted positive: zero division in precision
    path = tmp_path / "binary.csv"
    write_csv(path, ["label", "prediction", "score"], zip(truth, predicted, scores))
    ours = evaluate(path, "--task", "classification", "--score-column", "score")["metrics"]
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, zero_division=0),
        "recall": skm.recall_score(truth, predicted, zero_division=0),
        "f1": skm.f1_score(truth, predicted, zero_division=0),
        "mcc": skm.matthews_corrcoef(truth, predicted),
        "roc_auc": skm.roc_auc_score(truth, scores),
        "average_precision": skm.average_precision_score(truth, scores),
        "log_loss": skm.log_loss(truth, scores),
    }
    for name, value in expected.items():
        close(ours[name], value, name)
    for beta in (0.5, 2.0):
        fb = evaluate(path, "--metric", "fbeta", "--beta", str(beta))["metrics"]["fbeta"]
        close(fb, skm.fbeta_score(truth, predicted, beta=beta, zero_division=0), f"fbeta({beta})")


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_classification(tmp_path, seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 6))
    n = int(rng.integers(30, 400))
    truth = rng.integers(0, k, n)
    truth[:k] = np.arange(k)  # every class present
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[truth]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if seed % 2:
        # Ties in scores: quantise, then renormalise exactly representable-ish rows.
        probs = np.round(probs, 1) + 1e-3
        probs = probs / probs.sum(axis=1, keepdims=True)
    predicted = probs.argmax(axis=1)
    if seed % 3 == 0:
        predicted[rng.random(n) < 0.3] = rng.integers(0, k)  # some noise, maybe a class never predicted
    labels = [f"c{i}" for i in range(k)] if seed % 4 == 0 else list(range(k))
    path = tmp_path / "multi.jsonl"
    with open(path, "w") as f:
        for t, p, row in zip(truth, predicted, probs):
            f.write(json.dumps({"label": labels[t], "prediction": labels[p], "probs": [float(x) for x in row]}) + "\n")
    t_lab = [labels[t] for t in truth]
    p_lab = [labels[p] for p in predicted]
    for average in ("micro", "macro", "weighted"):
        got = evaluate(path, "--task", "classification", "--proba-column", "probs", "--average", average, "--k", "2")
        m = got["metrics"]
        close(m["precision"], skm.precision_score(t_lab, p_lab, average=average, zero_division=0), f"precision/{average}")
        close(m["recall"], skm.recall_score(t_lab, p_lab, average=average, zero_division=0), f"recall/{average}")
        close(m["f1"], skm.f1_score(t_lab, p_lab, average=average, zero_division=0), f"f1/{average}")
        if average != "micro":
            close(m["roc_auc"], skm.roc_auc_score(truth, probs, multi_class="ovr", average=average), f"roc_auc/ovr/{average}")
    close(m["accuracy"], skm.accuracy_score(t_lab, p_lab), "accuracy")
    close(m["balanced_accuracy"], skm.balanced_accuracy_score(t_lab, p_lab), "balanced_accuracy")
    close(m["mcc"], skm.matthews_corrcoef(t_lab, p_lab), "mcc")
    close(m["log_loss"], skm.log_loss(truth, probs), "log_loss")
    close(m["top_k_accuracy"], skm.top_k_accuracy_score(truth, probs, k=2), "top_k_accuracy")
    assert got["confusion_matrix"] == skm.confusion_matrix(t_lab, p_lab).tolist()
    assert got["labels"] == [str(x) for x in sorted(set(t_lab) | set(p_lab))]

    # Labels only: the streaming path (pair counts, no rows kept) gives the same numbers.
    plain = tmp_path / "plain.csv"
    write_csv(plain, ["label", "prediction"], zip(t_lab, p_lab))
    streamed = evaluate(plain, "--task", "classification", "--average", "weighted")
    assert streamed["confusion_matrix"] == got["confusion_matrix"]
    close(streamed["metrics"]["f1"], skm.f1_score(t_lab, p_lab, average="weighted", zero_division=0), "f1/weighted streamed")
    close(streamed["metrics"]["mcc"], skm.matthews_corrcoef(t_lab, p_lab), "mcc streamed")


@pytest.mark.parametrize("seed", SEEDS)
def test_regression(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 2000))
    y = rng.normal(scale=10 ** rng.uniform(-2, 3), size=n)
    if seed % 4 == 0:
        y[: n // 3] = 0.0  # zeros: MAPE's epsilon
    p = y + rng.normal(scale=abs(y).mean() * 0.3 + 1e-3, size=n)
    if seed % 7 == 0:
        p = y.copy()  # perfect fit
    path = tmp_path / "reg.csv"
    write_csv(path, ["label", "prediction"], zip(map(repr, y.tolist()), map(repr, p.tolist())))
    features = int(rng.integers(1, 5))
    m = evaluate(path, "--task", "regression", "--features", str(features))["metrics"]
    r2 = skm.r2_score(y, p)
    expected = {
        "mse": skm.mean_squared_error(y, p),
        "rmse": skm.root_mean_squared_error(y, p),
        "mae": skm.mean_absolute_error(y, p),
        "median_absolute_error": skm.median_absolute_error(y, p),
        "mape": skm.mean_absolute_percentage_error(y, p),
        "r2": r2,
        "explained_variance": skm.explained_variance_score(y, p),
        "adjusted_r2": 1 - (1 - r2) * (n - 1) / (n - features - 1),
    }
    for name, value in expected.items():
        close(m[name], value, name)


VOCAB = "the a cat dog sat on mat quickly ran über naïve 東京 data model".split()


def sentence(rng, lo=1, hi=12):
    words = [rng.choice(VOCAB) for _ in range(rng.randint(lo, hi))]
    sep = rng.choice([" ", " ", "  ", "\t "])
    return rng.choice(["", " "]) + sep.join(words) + rng.choice(["", "  "])


@pytest.mark.parametrize("seed", SEEDS)
def test_speech(tmp_path, seed):
    rng = random.Random(seed)
    refs, hyps = [], []
    for _ in range(rng.randint(1, 60)):
        ref = sentence(rng)
        words = ref.split()
        hyp = []
        for w in words:
            r = rng.random()
            if r < 0.1:
                continue  # deletion
            hyp.append(rng.choice(VOCAB) if r < 0.25 else w)
            if rng.random() < 0.08:
                hyp.append(rng.choice(VOCAB))  # insertion
        refs.append(ref)
        hyps.append(" ".join(hyp) if seed % 6 else "")
    path = tmp_path / "asr.csv"
    write_csv(path, ["reference", "hypothesis"], zip(refs, hyps))
    got = evaluate(path, "--task", "speech")
    close(got["metrics"]["wer"], jiwer.wer(refs, hyps), "wer")
    close(got["metrics"]["cer"], jiwer.cer(refs, hyps), "cer")
    out = jiwer.process_words(refs, hyps)
    assert got["counts"] == {"substitutions": out.substitutions, "deletions": out.deletions, "insertions": out.insertions, "hits": out.hits}


@pytest.mark.parametrize("seed", SEEDS)
def test_text_formulas(tmp_path, seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(rng.randint(1, 50)):
        logprobs = [math.log(rng.uniform(1e-4, 1.0)) for _ in range(rng.randint(1, 20))]
        rows.append((sentence(rng, 0), sentence(rng, 0), json.dumps(logprobs)))
    path = tmp_path / "text.csv"
    write_csv(path, ["reference", "hypothesis", "logprobs"], rows)
    m = evaluate(path, "--task", "text", "--logprobs-column", "logprobs")["metrics"]

    def jaccard(a, b):
        x, y = set(a.split()), set(b.split())
        return 1.0 if not (x | y) else len(x & y) / len(x | y)

    close(m["jaccard"], float(np.mean([jaccard(a, b) for a, b, _ in rows])), "jaccard")
    tokens = [v for _, _, lp in rows for v in json.loads(lp)]
    close(m["perplexity"], math.exp(-float(np.mean(tokens))), "perplexity")


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("label,prediction\n", ["--task", "regression"], "has no data rows"),
        ("", ["--task", "regression"], "is empty"),
        ("label,prediction\n1,2\n3,abc\n", ["--task", "regression"], "reg.csv:3: the prediction 'abc' is not a number"),
        ("label,prediction\n1,2\nNaN,2\n", ["--task", "regression"], "reg.csv:3: the true value is NaN"),
        ("label,pred\n1,2\n", ["--task", "regression"], "has no column 'prediction'"),
        ('label,prediction\n"1,2\n', ["--task", "regression"], "quoted field is not closed"),
        ("label,prediction\n1,1\n1,1\n", ["--metric", "roc_auc", "--score-column", "label"], "only one class"),
        ("label,prediction\na,b\nc,d\nx,y\n", ["--task", "classification", "--labels", "a,b,c,d"], "reg.csv:4: label 'x' is not one of --labels"),
        ("label,prediction\na,a\nb,b\nc,c\n", ["--metric", "f1", "--average", "binary"], "binary averaging takes two"),
        ("label,prediction\n1,1\n", ["--metric", "nonsense"], "Unknown metric 'nonsense'"),
        ("label,prediction,probs\n0,0,[0.5]\n1,1,\"[0.2, 0.8]\"\n", ["--task", "classification", "--proba-column", "probs"], "reg.csv:3: 2 probabilities, but earlier rows have 1"),
    ],
)
def test_clear_errors(tmp_path, content, args, message):
    path = tmp_path / "reg.csv"
    path.write_text(content)
    result = subprocess.run([ensemble_binary(), "eval", str(path), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message.lower() in result.stderr.lower(), result.stderr


def test_jsonl_line_numbers_and_logging_to_a_run(tmp_path, server):
    import mlflow

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": 1, "prediction": 1}\n\n{"label": 2, oops}\n')
    result = subprocess.run([ensemble_binary(), "eval", str(bad), "--task", "regression"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "bad.jsonl:3: not valid JSON" in result.stderr

    good = tmp_path / "good.csv"
    write_csv(good, ["label", "prediction"], [(1, 1), (0, 1), (1, 1), (0, 0)])
    client = mlflow.MlflowClient(server.url)
    run = client.create_run("0")
    out = subprocess.run(
        [ensemble_binary(), "eval", str(good), "--task", "classification", "--run", run.info.run_id, "--server", server.url, "--prefix", "val_"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    logged = client.get_run(run.info.run_id).data.metrics
    close(logged["val_accuracy"], 0.75, "logged accuracy")
    close(logged["val_f1"], skm.f1_score([1, 0, 1, 0], [1, 1, 1, 0]), "logged f1")


def test_bootstrap_is_reproducible(tmp_path):
    rng = random.Random(3)
    path = tmp_path / "b.csv"
    write_csv(path, ["label", "prediction"], [(rng.randint(0, 1), rng.randint(0, 1)) for _ in range(300)])
    a = evaluate(path, "--task", "classification", "--bootstrap", "300", "--seed", "9")
    b = evaluate(path, "--task", "classification", "--bootstrap", "300", "--seed", "9")
    c = evaluate(path, "--task", "classification", "--bootstrap", "300", "--seed", "10")
    assert a["intervals"] == b["intervals"] and a["intervals"] != c["intervals"]
    acc = a["intervals"]["accuracy"]
    assert acc["lower"] <= a["metrics"]["accuracy"] <= acc["upper"] and acc["resamples"] == 300


PUNCT_VOCAB = VOCAB + ["3.14", "1,000", "e.g.", "(hi)", "x-ray", "5-4", "&amp;", "&quot;ok&quot;", "U.S.A.", "it's", "end.", "Über", "a/b", "<tag>", "mid,word"]


@pytest.mark.parametrize("seed", SEEDS)
def test_bleu_chrf_rouge(tmp_path, seed):
    import sacrebleu
    from rouge_score import rouge_scorer

    rng = random.Random(seed)
    refs, hyps = [], []
    for _ in range(rng.randint(1, 40)):
        ref = [rng.choice(PUNCT_VOCAB) for _ in range(rng.randint(0 if seed % 5 == 0 else 1, 15))]
        hyp = [w if rng.random() < 0.7 else rng.choice(PUNCT_VOCAB) for w in ref]
        if rng.random() < 0.3:
            hyp = hyp[: rng.randint(0, len(hyp))]  # short hypotheses: brevity penalty
        if rng.random() < 0.2:
            hyp += [rng.choice(PUNCT_VOCAB) for _ in range(3)]
        refs.append(" ".join(ref) + rng.choice(["", " ", "\t"]))
        hyps.append(" ".join(hyp))
    path = tmp_path / "mt.csv"
    write_csv(path, ["reference", "hypothesis"], zip(refs, hyps))
    m = evaluate(path, "--task", "text")["metrics"]
    close(m["bleu"], sacrebleu.corpus_bleu(hyps, [refs]).score, "bleu")
    close(m["chrf"], sacrebleu.corpus_chrf(hyps, [refs]).score, "chrf")
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    close(m["rouge_l"], float(np.mean([scorer.score(r, h)["rougeL"].fmeasure for r, h in zip(refs, hyps)])), "rouge_l")


@pytest.mark.parametrize("seed", SEEDS)
def test_coco_detection_map(tmp_path, seed):
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = random.Random(seed)
    cats = [1, 2, 3] if seed % 3 else [1, 2, 3, 7]
    images, gts, dts, lines = [], [], [], []
    image_ids = rng.sample(range(1, 500), rng.randint(3, 25))
    for img in image_ids:
        truth, dets = [], []
        for _ in range(rng.randint(0, 8)):
            scale = rng.choice([10, 40, 150])  # small, medium, large objects
            w, h = rng.uniform(2, scale), rng.uniform(2, scale)
            box = [rng.uniform(0, 400), rng.uniform(0, 400), w, h]
            cat = rng.choice(cats[:3])
            crowd = 1 if rng.random() < 0.08 else 0
            truth.append({"bbox": box, "category": cat, "iscrowd": crowd})
            if rng.random() < 0.8:  # detected, with jitter
                jit = [box[0] + rng.gauss(0, w * 0.15), box[1] + rng.gauss(0, h * 0.15), w * rng.uniform(0.7, 1.3), h * rng.uniform(0.7, 1.3)]
                dets.append({"bbox": jit, "category": cat if rng.random() < 0.9 else rng.choice(cats), "score": round(rng.random(), 2)})
        for _ in range(rng.randint(0, 6) if seed % 7 else 130):  # false positives; sometimes > 100 per image
            dets.append({"bbox": [rng.uniform(0, 400), rng.uniform(0, 400), rng.uniform(1, 120), rng.uniform(1, 120)],
                         "category": rng.choice(cats), "score": round(rng.random(), 1)})
        images.append({"id": img})
        for t in truth:
            gts.append({"id": len(gts) + 1, "image_id": img, "category_id": t["category"], "bbox": t["bbox"],
                        "area": t["bbox"][2] * t["bbox"][3], "iscrowd": t["iscrowd"]})
        for d in dets:
            dts.append({"image_id": img, "category_id": d["category"], "bbox": d["bbox"], "score": d["score"]})
        lines.append({"image": img, "ground_truth": truth, "detections": dets})
    if not gts:
        pytest.skip("no ground truth drawn")  # never happens for these seeds; guarded for clarity
    path = tmp_path / "det.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    all_cats = sorted(set(cats) | {d["category_id"] for d in dts})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": gts, "categories": [{"id": c} for c in all_cats]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        res = coco.loadRes(dts) if dts else COCO()
        ev = COCOeval(coco, res, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    got = evaluate(path, "--task", "detection")["metrics"]
    names = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"]
    for name, value in zip(names, ev.stats):
        assert math.isclose(got[name], float(value), rel_tol=1e-6, abs_tol=1e-9), f"{name}: ensemble {got[name]} != pycocotools {value}"
    for k, cat in enumerate(ev.params.catIds):
        p = ev.eval["precision"][:, :, k, 0, 2]
        expected = float(np.mean(p[p > -1])) if (p > -1).any() else -1.0
        assert math.isclose(got[f"ap_class_{cat}"], expected, rel_tol=1e-6, abs_tol=1e-9), f"class {cat}"
