"""The web UI, server-rendered: every page renders with the demo data, user text is escaped, the runs
table searches, sorts and pages through 5,000 runs, the update form posts, charts draw downsampled."""

import os
import re
import subprocess
import time

import pytest
import requests

from _server import ensemble_binary


def cli(server, *args):
    env = dict(os.environ, ENSEMBLE_SERVER=server.url)
    r = subprocess.run([ensemble_binary(), *args], capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, r.stderr
    return r.stdout


def get(server, path, status=200):
    r = requests.get(server.url + path, timeout=60)
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    if status in (200, 400):
        assert r.headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    return r.text


def api(server, path, body):
    r = requests.post(f"{server.url}/api/2.0/mlflow/{path}", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def demo(shared_server):
    cli(shared_server, "demo")
    return shared_server


def test_every_page_renders_with_the_demo(demo):
    home = get(demo, "/")
    assert "Customer churn prediction" in home and "churn-classifier" in home and "Runs this week" in home
    assert "Bruno Silva" in get(demo, "/team") and 'class="lvl lvl5"' in get(demo, "/team")
    assert "forecasting: nobody" in get(demo, "/team")
    projects = get(demo, "/projects")
    assert "Store demand forecasting" in projects and "does not fit" in projects
    churn = get(demo, "/projects/churn")
    for text in ["Reduce monthly churn", "roc_auc", "P50", "P95", "Staffing for modeling", "Bruno Silva", "Post update", "<svg class=\"chart\""]:
        assert text in churn, text
    assert "Elif Yilmaz" in get(demo, "/people/elif")
    models = get(demo, "/models")
    assert "churn-classifier" in models and "@champion" in models
    model = get(demo, "/models/churn-classifier")
    assert "alias_set" in model and "champion" in model
    experiments = get(demo, "/experiments")
    exp_id = re.search(r'href="/experiments/(\d+)"><bdi>churn-model', experiments).group(1)
    runs = get(demo, f"/experiments/{exp_id}")
    assert runs.count('href="/runs/') == 18
    run_id = re.search(r'href="/runs/([0-9a-f]{32})"', runs).group(1)
    run = get(demo, f"/runs/{run_id}")
    assert "roc_auc" in run and "learning_rate" in run and '<svg class="chart"' in run
    lineage = get(demo, f"/lineage?run={run_id}")
    assert "code_version" in lineage
    assert "not found" in get(demo, "/runs/" + "0" * 32, status=404).lower()
    css = requests.get(demo.url + "/static/app.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css") and "@media print" in css.text


def test_user_text_is_escaped_everywhere(server):
    evil = '<script>alert("x")</script>"\'><img src=x onerror=alert(1)>'
    exp = api(server, "experiments/create", {"name": "exp " + evil})["experiment_id"]
    run = api(server, "runs/create", {"experiment_id": exp, "run_name": "run " + evil, "start_time": int(time.time() * 1000)})["run"]["info"]["run_id"]
    api(server, "runs/log-batch", {"run_id": run, "params": [{"key": "p", "value": evil}], "tags": [{"key": "t", "value": evil}],
                                   "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}]})
    requests.post(f"{server.url}/api/v1/projects", json={"name": "Proj " + evil, "id": "proj", "brd": {"problem": evil}, "experiments": ["exp " + evil]}).raise_for_status()
    requests.post(f"{server.url}/api/v1/people", json={"name": "Person " + evil, "email": "p@example.com"}).raise_for_status()
    requests.post(f"{server.url}/api/v1/projects/proj/updates", json={"author": evil, "done": evil}).raise_for_status()
    # The last one is an invalid filter (the quote ends the string early): a 400 page that shows it escaped.
    for path, status in [("/", 200), ("/experiments", 200), (f"/experiments/{exp}", 200), (f"/runs/{run}", 200), ("/projects", 200),
                         ("/projects/proj", 200), ("/team", 200), ("/people/p", 200),
                         (f"/experiments/{exp}?filter=" + requests.utils.quote("params.p = '" + evil + "'"), 400)]:
        html = get(server, path, status=status)
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;" in html or "&lt;img" in html, path


def test_runs_table_searches_sorts_and_pages_5000_runs(server):
    exp = api(server, "experiments/create", {"name": "big"})["experiment_id"]
    session = requests.Session()
    for i in range(5000):
        r = session.post(f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": exp, "run_name": f"r{i}", "start_time": 1_700_000_000_000 + i})
        rid = r.json()["run"]["info"]["run_id"]
        session.post(f"{server.url}/api/2.0/mlflow/runs/log-batch",
                     json={"run_id": rid, "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": 0}], "params": [{"key": "k", "value": str(i % 7)}]})
    page1 = get(server, f"/experiments/{exp}")
    assert page1.count('href="/runs/') == 50 and "r4999" in page1  # newest first
    nxt = re.search(r'href="([^"]+)" rel="next"', page1).group(1).replace("&amp;", "&")
    page2 = get(server, nxt)
    assert "Page 2" in page2 and "r4949" in page2 and "r4999" not in page2
    t = time.perf_counter()
    filtered = get(server, f"/experiments/{exp}?filter=" + requests.utils.quote("metrics.m >= 4990 and params.k = '3'") + "&order=" + requests.utils.quote("metrics.m ASC"))
    elapsed = time.perf_counter() - t
    names = re.findall(r'href="/runs/[0-9a-f]+"><bdi>(r\d+)<', filtered)
    assert names == [f"r{i}" for i in range(4990, 5000) if i % 7 == 3]
    assert elapsed < 30  # a sanity bound only; speed is measured by scripts/bench
    bad = get(server, f"/experiments/{exp}?filter=" + requests.utils.quote("metrics.m >"), status=400)
    assert "class=\"error\"" in bad


def test_update_form_posts_and_the_update_is_shown(demo):
    r = requests.post(demo.url + "/projects/fraud-alerts/updates", data={"author": "farid", "done": "GPU pool ready", "next": "", "blocked": ""}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/projects/fraud-alerts"
    assert "GPU pool ready" in get(demo, "/projects/fraud-alerts")
    empty = requests.post(demo.url + "/projects/fraud-alerts/updates", data={"author": "farid"}, allow_redirects=False)
    assert empty.status_code == 400 and "at least one of done" in empty.text


def test_charts_downsample_a_long_series_and_compare_runs(server):
    exp = api(server, "experiments/create", {"name": "charts"})["experiment_id"]
    ids = []
    for lr in ("0.1", "0.2"):
        rid = api(server, "runs/create", {"experiment_id": exp, "start_time": 1})["run"]["info"]["run_id"]
        ids.append(rid)
        api(server, "runs/log-batch", {"run_id": rid, "params": [{"key": "lr", "value": lr}, {"key": "same", "value": "x"}]})
    for start in range(0, 100_000, 1000):
        api(server, "runs/log-batch", {"run_id": ids[0], "metrics": [{"key": "loss", "value": 1 / (1 + s) + (0.5 if s == 54321 else 0), "timestamp": s, "step": s} for s in range(start, start + 1000)]})
    api(server, "runs/log-batch", {"run_id": ids[1], "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 1}]})
    run = get(server, f"/runs/{ids[0]}")
    assert "100000 point(s)" in run
    points = re.search(r'<polyline class="line"[^>]*points="([^"]+)"', run).group(1).split()
    assert 50 < len(points) <= 320  # downsampled
    assert '<polygon class="band"' in run  # min/max band keeps the spike visible
    assert "log y" in get(server, f"/runs/{ids[0]}?log=1&x=step")
    compare = get(server, f"/compare?run={ids[0]}&run={ids[1]}")
    # The one-point run is a dot, the long one a line.
    assert "differs" in compare and compare.count('<polyline class="line"') == 1 and compare.count('<circle class="point"') == 1
    assert "at least two runs" in get(server, f"/compare?run={ids[0]}", status=400)


def test_runs_grouped_by_a_value_and_compare_up_to_100_runs(server):
    exp = api(server, "experiments/create", {"name": "grouping"})["experiment_id"]
    ids, acc = [], {}
    for i in range(30):
        opt = ["adam", "sgd", "it's \"quoted\"", None][i % 4]
        rid = api(server, "runs/create", {"experiment_id": exp, "start_time": 1000 + i, "run_name": f"run-{i}"})["run"]["info"]["run_id"]
        ids.append(rid)
        value = (i * 37 % 100) / 100
        acc.setdefault(opt, []).append(value)
        params = [{"key": "same", "value": "1"}, {"key": "seed", "value": str(i)}] + ([{"key": "opt", "value": opt}] if opt else [])
        api(server, "runs/log-batch", {"run_id": rid, "params": params, "metrics": [{"key": "acc", "value": value, "timestamp": 1, "step": 0}]})
    page = get(server, f"/experiments/{exp}?group=params.opt&cols=metrics.acc")
    rows = re.findall(r'<tr><td class="stick gv">(.*?)</td><td class="num">(\d+)</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td>', page)
    assert len(rows) == 4
    by_value = {re.sub(r"<[^>]+>", "", r[0]).replace("&#39;", "'").replace("&quot;", '"'): r[1:] for r in rows}
    for opt, values in acc.items():
        count, mean, low, high = by_value[opt if opt else "(not set)"]
        assert int(count) == len(values) and abs(float(mean) - sum(values) / len(values)) < 1e-3
        assert float(low) == min(values) and float(high) == max(values)
    # Runs without the param come last; each value links to a filter that finds exactly its runs,
    # the quoted value too.
    assert re.sub(r"<[^>]+>", "", rows[-1][0]) == "(not set)"
    for link, opt in [(re.search(r'href="([^"]+)"><bdi>it&#39;s', page).group(1), "it's \"quoted\""), (re.search(r'href="([^"]+)"><bdi>\(not set\)', page).group(1), None)]:
        runs = get(server, link.replace("&amp;", "&"))
        assert runs.count('name="run" value=') == len(acc[opt]), link
    # The filter applies before grouping; a bad group key is a 400 that says what is allowed.
    filtered = get(server, f"/experiments/{exp}?group=params.opt&cols=metrics.acc&filter=metrics.acc%20%3E%200.5")
    assert sum(int(n) for n in re.findall(r'</td><td class="num">(\d+)</td>', filtered)) == sum(v > 0.5 for vs in acc.values() for v in vs)
    assert "Group by params.NAME" in get(server, f"/experiments/{exp}?group=metrics.acc", status=400)
    by_status = get(server, f"/experiments/{exp}?group=attributes.status")
    assert "RUNNING" in by_status and ">30<" in by_status

    compare = get(server, "/compare?" + "&".join(f"run={i}" for i in ids))
    assert compare.count('<li data-hl-series=') == 30
    assert "1 parameter(s) with one value in every run are hidden" in compare
    assert re.findall(r'<td class="stick gv"><code title="([^"]+)"', compare) == ["opt", "seed"]
    assert compare.count('<polyline class="line pc"') == 23  # the 7 runs without opt have no value on that axis
    assert "7 run(s) without a value on some axis are not drawn" in compare
    every = get(server, "/compare?" + "&".join(f"run={i}" for i in ids) + "&all=1")
    assert re.findall(r'<td class="stick gv"><code title="([^"]+)"', every) == ["opt", "same", "seed"]
    too_many = get(server, "/compare?" + "&".join(f"run={i:032x}" for i in range(101)), status=400)
    assert "at most 100 runs" in too_many


def test_forms_create_edit_gate_and_skills(demo, tmp_path):
    assert "New project" in get(demo, "/projects/new")
    bad = requests.post(demo.url + "/projects/new", data={"name": "Web made", "technical": "auc, high, 0.9"}, allow_redirects=False)
    assert bad.status_code == 400 and "Technical metrics:" in bad.text and "is not a number" in bad.text
    r = requests.post(demo.url + "/projects/new", allow_redirects=False, data={
        "name": "Web made", "problem": "Too many <manual> steps", "technical": "auc, 0.7, 0.9", "business": "hours saved, 0, 40",
        "experiments": "churn-model", "impact": "4", "fte": "0.5"})
    assert r.status_code == 303 and r.headers["Location"] == "/projects/web-made"
    page = get(demo, "/projects/web-made")
    assert "Too many &lt;manual&gt; steps" in page and "hours saved" in page
    requests.post(demo.url + "/projects/web-made/edit", data={"name": "Web made", "objective": "Save 40 hours a month", "technical": "auc, 0.7, 0.9",
                                                               "business": "hours saved, 0, 40"}).raise_for_status()
    assert "Save 40 hours a month" in get(demo, "/projects/web-made")

    blocked = requests.post(demo.url + "/projects/web-made/stage", data={"to": "data", "why": "go", "by": "grace"}, allow_redirects=False)
    assert blocked.status_code == 400 and "Cannot move to data" in blocked.text and "open item" in blocked.text
    items = re.findall(r'name="item\[\]" value="(\d+)"', blocked.text)
    assert len(items) == 4
    requests.post(demo.url + "/projects/web-made/checklist", data=[("item[]", i) for i in items], allow_redirects=False)
    moved = requests.post(demo.url + "/projects/web-made/stage", data={"to": "data", "why": "metrics agreed", "by": "grace"}, allow_redirects=False)
    assert moved.status_code == 303
    page = get(demo, "/projects/web-made")
    assert "scoping → data" in page and "metrics agreed" in page and "by grace" in page

    requests.post(demo.url + "/people/ines/skills", data={"skills": "sql:4; machine-learning:2", "learning": "deep-learning"}).raise_for_status()
    person = get(demo, "/people/ines")
    assert "machine-learning" in person and "deep-learning" in person
    bad_skill = requests.post(demo.url + "/people/ines/skills", data={"skills": "sql:9"}, allow_redirects=False)
    assert bad_skill.status_code == 400 and "level from 1 to 5" in bad_skill.text


def test_dataset_pages(demo, tmp_path):
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / "train.csv").write_text("a,b\n1,2\n")
    cli(demo, "dataset", "add", "customers", str(folder), "--description", "first <cut>")
    assert "customers" in get(demo, "/datasets")
    page = get(demo, "/datasets/customers")
    assert "v1" in page and "train.csv" in page and "first &lt;cut&gt;" in page
    assert "No dataset named" in get(demo, "/datasets/nothing", status=404)


def test_the_questions_a_new_user_asks_are_answered(demo):
    # Who works on what.
    team = get(demo, "/team")
    assert re.search(r'Bruno Silva.*?href="/projects/churn">churn</a> 60%', team, re.S)
    # Which project is late, and by how much.
    churn = get(demo, "/projects/churn")
    assert re.search(r"Due <strong>\d{4}-\d\d-\d\d</strong> — <span class=\"badge bad\">late by \d+ working day\(s\) at P80", churn)
    assert "on track" in get(demo, "/projects")
    # Which model is in production, and what data trained it.
    model = get(demo, "/models/churn-classifier")
    assert "<td>Production</td>" in model and "@champion" in model
    lineage = get(demo, "/lineage?model=churn-classifier&version=1")
    assert "trained_on</td><td>dataset: customers@c0ffee02" in lineage


def test_artifact_browser_previews_and_refuses_traversal(server):
    exp = api(server, "experiments/create", {"name": "files"})["experiment_id"]
    run = api(server, "runs/create", {"experiment_id": exp, "start_time": 1})["run"]["info"]
    root = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run['run_id']}/artifacts"
    requests.put(f"{root}/report/summary.json", data=b'{"auc": 0.91, "notes": "<b>bold</b>"}').raise_for_status()
    requests.put(f"{root}/report/log.txt", data=b"epoch 1 <ok>\nepoch 2\n").raise_for_status()
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000001f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082")
    requests.put(f"{root}/plot.png", data=png).raise_for_status()
    page = get(server, f"/runs/{run['run_id']}")
    assert f'href="/runs/{run["run_id"]}?dir=report">report/</a>' in page and "plot.png" in page
    folder = get(server, f"/runs/{run['run_id']}?dir=report")
    assert "summary.json" in folder and "↑ up" in folder
    preview = get(server, f"/runs/{run['run_id']}/artifact?path=report%2Fsummary.json")
    assert "\n  &quot;auc&quot;: 0.91," in preview and "&lt;b&gt;bold&lt;/b&gt;" in preview  # pretty-printed and escaped
    assert "epoch 1 &lt;ok&gt;" in get(server, f"/runs/{run['run_id']}/artifact?path=report%2Flog.txt")
    assert '<img src="/get-artifact?run_id=' in get(server, f"/runs/{run['run_id']}/artifact?path=plot.png")
    for bad in ["?dir=..%2F..", "/artifact?path=..%2F..%2Fetc%2Fpasswd", "/artifact?path=%2Fetc%2Fpasswd"]:
        assert "Invalid path" in get(server, f"/runs/{run['run_id']}{bad}", status=400)


def test_compare_scatter_and_lineage_drawing(demo):
    experiments = get(demo, "/experiments")
    exp = re.search(r'href="/experiments/(\d+)"><bdi>churn-model', experiments).group(1)
    ids = re.findall(r'href="/runs/([0-9a-f]{32})"', get(demo, f"/experiments/{exp}"))[:4]
    compare = get(demo, "/compare?" + "&".join(f"run={i}" for i in ids) + "&param=max_depth&metric=roc_auc")
    # Four scatter points (single-point metric charts draw their own dots, class "point").
    assert compare.count("<circle") - compare.count('<circle class="point"') == 4 and "max_depth → roc_auc" in compare
    lineage = get(demo, "/lineage?model=churn-classifier&version=1")
    assert lineage.count("<rect") >= 4 and "customers@c0ffee02" in lineage
