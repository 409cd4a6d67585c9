"""The web UI in a real browser (headless Chromium through Selenium): every page on the demo data, no
JavaScript console errors, no failed requests, forms that change what the next page shows, the runs
table on 5,000 runs, XSS attempts shown as text, and a screenshot of each page in test-output/."""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from _server import ensemble_binary, store_args

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def demo(shared_server):
    env = dict(os.environ, ENSEMBLE_SERVER=shared_server.url)
    r = subprocess.run([ensemble_binary(), "demo"], capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, r.stderr
    return shared_server


def wait_for(driver, predicate, what):
    WebDriverWait(driver, 30).until(lambda d: predicate(d), message=what)


def visit(driver, server, path, shot=None, width=1280):
    driver.set_window_size(width, 1000)
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(server.url + path)
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"console errors on {path}: {errors}"
    failed = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.loadingFailed":
            failed.append(message["params"])
        if message["method"] == "Network.responseReceived":
            response = message["params"]["response"]
            if response["status"] >= 400 and not response["url"].endswith(path.split("?")[0]):
                failed.append(response["url"])
    assert not failed, f"failed requests on {path}: {failed}"
    if shot:
        driver.save_screenshot(str(SHOTS / f"{shot}.png"))
    return driver.page_source


def test_every_page_in_a_browser(browser, demo):
    pages = [
        ("/", "home", ["Customer churn prediction", "Runs this week"]),
        ("/experiments", "experiments", ["churn-model", "fraud-scoring"]),
        ("/models", "models", ["churn-classifier"]),
        ("/models/churn-classifier", "model", ["champion"]),
        ("/deployments", "deployments", ["What runs where", "canary", "90%"]),
        ("/deployments/3", "deployment", ["Drift by window", "monthly_charges", "claimed at handoff: 0.7685", "Reference data:", "churn-training@1", "the training data of run"]),
        ("/datasets", "datasets", ["Datasets"]),
        ("/team", "team", ["Skills matrix", "Bruno Silva"]),
        ("/people/elif", "person", ["Elif Yilmaz", "model-serving"]),
        ("/projects", "projects", ["Portfolio", "does not fit"]),
        ("/projects/churn", "project", ["Reduce monthly churn", "P80", "Staffing for modeling", "v2 retention offers, November", "the new model reaches the target"]),
    ]
    for path, shot, texts in pages:
        html = visit(browser, demo, path, shot)
        for text in texts:
            assert text in html, (path, text)
    experiment = re.search(r'href="/experiments/(\d+)"><bdi>churn-model', visit(browser, demo, "/experiments")).group(1)
    runs = visit(browser, demo, f"/experiments/{experiment}", "runs")
    run = re.search(r'href="/runs/([0-9a-f]{32})"', runs).group(1)
    visit(browser, demo, f"/runs/{run}", "run")
    assert browser.find_element(By.CSS_SELECTOR, "svg.chart")
    # Hovering a chart writes the nearest value into its caption (the page script works).
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    webdriver.ActionChains(browser).move_to_element(chart).perform()
    readout = browser.find_element(By.ID, chart.get_attribute("data-readout")).text
    assert "=" in readout
    # Compare: tick two runs and submit.
    visit(browser, demo, f"/experiments/{experiment}")
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=run]")
    boxes[0].click()
    boxes[1].click()
    browser.find_element(By.CSS_SELECTOR, "#compare button[type=submit]").click()
    wait_for(browser, lambda d: "Compare 2 runs" in d.page_source, "the compare page")
    browser.save_screenshot(str(SHOTS / "compare.png"))
    # Phone width and print both render.
    visit(browser, demo, "/projects/churn", "project-phone", width=390)
    body_width = browser.execute_script("return document.body.scrollWidth")
    assert body_width <= 420, body_width


def test_forms_in_a_browser(browser, demo):
    visit(browser, demo, "/projects/support-triage")
    browser.find_element(By.NAME, "author").send_keys("chen")
    browser.find_element(By.NAME, "done").send_keys("Relabelled 2k tickets")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/updates'] button").click()
    wait_for(browser, lambda d: "Relabelled 2k tickets" in d.page_source, "the posted update")
    assert browser.current_url.endswith("/projects/support-triage")

    visit(browser, demo, "/projects/new", "project-form")
    browser.find_element(By.NAME, "name").send_keys("Browser project")
    browser.find_element(By.NAME, "problem").send_keys("Typed in a browser")
    browser.find_element(By.NAME, "technical").send_keys("f1, 0.5, 0.8")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, lambda d: d.current_url.endswith("/projects/browser-project"), "the new project page")
    assert "Typed in a browser" in browser.page_source

    visit(browser, demo, "/people/hiro")
    field = browser.find_element(By.NAME, "skills")
    field.clear()
    field.send_keys("domain-knowledge:5; forecasting:3")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/skills'] button").click()
    wait_for(browser, lambda d: "forecasting:3" in d.page_source.replace(" ", "") or "forecasting</dt>" in d.page_source, "the saved skills")
    # The team page reflects it: forecasting is no longer a skill nobody has.
    assert "forecasting: nobody" not in visit(browser, demo, "/team")


def test_runs_table_with_5000_runs_in_a_browser(browser, server):
    api = f"{server.url}/api/2.0/mlflow"
    exp = requests.post(f"{api}/experiments/create", json={"name": "five-thousand"}).json()["experiment_id"]
    s = requests.Session()
    for i in range(5000):
        rid = s.post(f"{api}/runs/create", json={"experiment_id": exp, "run_name": f"run-{i:04d}", "start_time": 1_700_000_000_000 + i}).json()["run"]["info"]["run_id"]
        s.post(f"{api}/runs/log-batch", json={"run_id": rid, "metrics": [{"key": "score", "value": (i * 37) % 1000, "timestamp": 1, "step": 0}],
                                              "params": [{"key": "model", "value": ["xgb", "rf", "lr"][i % 3]}]})
    html = visit(browser, server, f"/experiments/{exp}", "runs-5000")
    assert html.count('href="/runs/') == 50
    browser.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    wait_for(browser, lambda d: "Page 2" in d.page_source, "page 2")
    t = time.perf_counter()
    box = browser.find_element(By.ID, "filter")
    box.clear()
    box.send_keys("metrics.score >= 990 and params.model = 'rf'")
    box.submit()
    wait_for(browser, lambda d: "Page 1" in d.page_source and "filter=" in d.current_url, "the filtered table")
    names = re.findall(r'href="/runs/[0-9a-f]+"><bdi>(run-\d+)<', browser.page_source)
    assert names and all(((int(n[4:]) * 37) % 1000) >= 990 and int(n[4:]) % 3 == 1 for n in names)
    # Sort by the score column, descending (first click), then ascending.
    browser.find_element(By.CSS_SELECTOR, "button.sort[title='metrics.score']").click()
    wait_for(browser, lambda d: "DESC" in d.current_url, "descending sort")
    first = re.findall(r'<td class="num cell">(\d+)</td>', browser.page_source)
    assert first == sorted(first, key=int, reverse=True)
    browser.find_element(By.CSS_SELECTOR, "button.sort[title='metrics.score']").click()
    wait_for(browser, lambda d: "ASC" in d.current_url, "ascending sort")
    second = re.findall(r'<td class="num cell">(\d+)</td>', browser.page_source)
    assert second == sorted(second, key=int)
    assert time.perf_counter() - t < 60  # sanity only


def test_xss_shows_as_text_in_a_browser(browser, server):
    evil = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=1">'
    api = f"{server.url}/api/2.0/mlflow"
    exp = requests.post(f"{api}/experiments/create", json={"name": "x" + evil}).json()["experiment_id"]
    rid = requests.post(f"{api}/runs/create", json={"experiment_id": exp, "run_name": evil, "start_time": 1}).json()["run"]["info"]["run_id"]
    requests.post(f"{api}/runs/log-batch", json={"run_id": rid, "params": [{"key": "p", "value": evil}], "tags": [{"key": "t", "value": evil}],
                                                 "metrics": [{"key": evil, "value": 1, "timestamp": 1, "step": 0}]})
    requests.post(f"{server.url}/api/v1/projects", json={"name": "P" + evil, "id": "xss", "brd": {"objective": evil}}).raise_for_status()
    for path in [f"/experiments/{exp}", f"/runs/{rid}", "/projects/xss", "/projects", "/experiments"]:
        browser.get(server.url + path)
        assert browser.execute_script("return window.__pwned === undefined"), path
        assert evil in browser.find_element(By.TAG_NAME, "body").text or "<script>" in browser.find_element(By.TAG_NAME, "body").text, path
    browser.save_screenshot(str(SHOTS / "xss.png"))


def test_sign_in_forms_csrf_and_sign_out_in_a_browser(browser, tmp_path):
    """With --auth required: a page sends you to sign in and back; a form posts with its CSRF token;
    the same form without the token is refused; signing out ends the session; a session whose
    password changed sends you to sign in again."""
    from _server import Server

    data = tmp_path / "data"
    password = "correct horse battery staple"
    for name, role in [("ana", "admin"), ("bo", "member")]:
        out = subprocess.run([ensemble_binary(), "admin", "create-user", name, "--email", f"{name}@example.com", "--role", role,
                              "--password-stdin", *store_args(data)], input=password + "\n", capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    srv = Server(data, tmp_path / "server.log", extra_args=["--auth", "required"]).start()
    try:
        browser.delete_all_cookies()
        browser.get(srv.url + "/projects/new")
        wait_for(browser, lambda d: "/signin" in d.current_url, "sent to the sign-in page")
        browser.save_screenshot(str(SHOTS / "signin.png"))
        browser.find_element(By.NAME, "user").send_keys("bo")
        browser.find_element(By.NAME, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(browser, lambda d: d.current_url.endswith("/projects/new"), "back where we started after signing in")
        assert "Sign out" in browser.page_source and ">bo</bdi>" in browser.page_source

        # A form posts (its hidden csrf field goes along) and the project exists.
        browser.find_element(By.NAME, "name").send_keys("Signed-in project")
        browser.find_element(By.CSS_SELECTOR, "form[action='/projects/new'] button[type=submit]").click()
        wait_for(browser, lambda d: "Signed-in project" in d.page_source and "/projects/" in d.current_url, "the new project page")
        # The update form has no free-text author any more: the author is the signed-in user.
        assert 'name="author"' not in browser.page_source
        browser.find_element(By.NAME, "done").send_keys("wired the data")
        browser.find_element(By.CSS_SELECTOR, "form[action$='/updates'] button[type=submit]").click()
        wait_for(browser, lambda d: "wired the data" in d.page_source, "the update in the feed")
        assert "— bo" in browser.page_source

        # The same form without its token is refused.
        browser.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
        browser.find_element(By.NAME, "done").send_keys("forged")
        browser.find_element(By.CSS_SELECTOR, "form[action$='/updates'] button[type=submit]").click()
        wait_for(browser, lambda d: "CSRF" in d.page_source, "the refusal")
        browser.save_screenshot(str(SHOTS / "csrf-refused.png"))

        # Account page with a new token, then sign out.
        browser.get(srv.url + "/account")
        browser.find_element(By.NAME, "name").send_keys("laptop")
        browser.find_element(By.CSS_SELECTOR, "form[action='/account/tokens'] button").click()
        wait_for(browser, lambda d: "Your new API token" in d.page_source, "the token shown once")
        browser.save_screenshot(str(SHOTS / "account.png"))
        browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
        wait_for(browser, lambda d: "/signin" in d.current_url, "signed out")
        browser.get(srv.url + "/team")
        wait_for(browser, lambda d: "/signin" in d.current_url, "pages need signing in again")

        # Admin pages, and a session that ends when the password changes.
        browser.get(srv.url + "/signin?next=/admin/users")
        browser.find_element(By.NAME, "user").send_keys("ana")
        browser.find_element(By.NAME, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(browser, lambda d: "New user" in d.page_source, "the users page")
        browser.save_screenshot(str(SHOTS / "admin-users.png"))
        out = subprocess.run([ensemble_binary(), "admin", "set-password", "ana", "--password-stdin", *store_args(data)],
                             input="a different long password\n", capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        browser.get(srv.url + "/admin/audit")
        wait_for(browser, lambda d: "/signin" in d.current_url, "the old session is over")
    finally:
        srv.stop()


def test_run_page_at_real_shape_in_a_browser(browser, server):
    """A fine-tuning run as people log it: 120 params with long dotted names, prefixed metric families,
    system metrics, a metric with one point. Names wrap instead of being cut, values stay beside them,
    block.2 comes before block.10, system metrics have their own section, one point is a dot."""
    api = server.api("")
    s = requests.Session()
    exp = s.post(api + "experiments/create", json={"name": "llm-finetune"}).json()["experiment_id"]
    rid = s.post(api + "runs/create", json={"experiment_id": exp, "run_name": "t5-large-lora-r16-alpha32-lr3e-4-bs64-seed1234", "start_time": 1}).json()["run"]["info"]["run_id"]
    params = [{"key": f"model.decoder.block.{i}.self_attention.dropout_probability", "value": str(0.1 + i / 1000)} for i in range(100)]
    params += [{"key": f"optimizer.param_groups.{i}.weight_decay_exclusion_pattern", "value": "layer_norm|bias|embeddings.position_embeddings.weight"} for i in range(20)]
    for chunk in range(0, len(params), 100):
        assert s.post(api + "runs/log-batch", json={"run_id": rid, "params": params[chunk:chunk + 100]}).status_code == 200
    metrics = []
    for step in range(50):
        for key in ["train/loss", "train/learning_rate", "val/loss", "val/rouge_l"]:
            metrics.append({"key": key, "value": 1.0 / (step + 1), "timestamp": 1000 + step, "step": step})
        for key in ["system/cpu_utilization_percentage", "system/system_memory_usage_megabytes", "system/gpu_0_utilization_percentage",
                    "system/gpu_1_utilization_percentage", "system/network_receive_megabytes"]:
            metrics.append({"key": key, "value": 40 + step % 7, "timestamp": 1000 + step, "step": step})
    metrics.append({"key": "test/accuracy", "value": 0.8731, "timestamp": 2000, "step": 0})
    for chunk in range(0, len(metrics), 1000):
        assert s.post(api + "runs/log-batch", json={"run_id": rid, "metrics": metrics[chunk:chunk + 1000]}).status_code == 200

    for width, shot in [(1280, "run-real-shape"), (390, "run-real-shape-phone")]:
        html = visit(browser, server, f"/runs/{rid}", shot, width=width)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        # Every parameter's value is on screen beside its (wrapped) name, at this width too.
        hidden = browser.execute_script("""
            return Array.from(document.querySelectorAll('#params tbody tr')).filter(function (tr) {
                var v = tr.querySelector('td.value').getBoundingClientRect(), n = tr.querySelector('td.name').getBoundingClientRect();
                return v.right > window.innerWidth + 1 || n.right > window.innerWidth + 1 || v.width < 20;
            }).length""")
        assert hidden == 0, f"{hidden} parameter rows do not fit at {width}px"
    assert html.index("model.decoder.block.2.self_attention") < html.index("model.decoder.block.10.self_attention")
    # A long name is not cut: its cell is at least as wide as the text needs (it wraps), and its value is on the same row.
    cut = browser.execute_script("""
        var cells = document.querySelectorAll('#params td.name code');
        var bad = 0;
        cells.forEach(function (c) { if (c.scrollWidth > c.clientWidth + 1 && !c.title) bad++; });
        var row = cells[0].closest('tr');
        return [bad, row.querySelector('td.value').getBoundingClientRect().width > 0];
    """)
    assert cut == [0, True]
    browser.execute_script("document.getElementById('system-metrics').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "run-real-shape-system.png"))
    browser.execute_script("document.querySelector('details.group').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "run-real-shape-charts.png"))
    system = browser.find_element(By.ID, "system-metrics")
    assert len(system.find_elements(By.CSS_SELECTOR, "svg.chart")) == 5
    assert "gpu 0 utilization (%)" in system.text
    assert html.count('<circle class="point"') >= 1 and "0.8731" in html
    assert "not drawn" not in html  # every chart of this run fits the budget
    # The filter narrows the parameters table.
    browser.set_window_size(1280, 1000)
    box = browser.find_element(By.CSS_SELECTOR, "input[data-filter=params]")
    box.send_keys("block.1")
    visible = browser.execute_script("return Array.from(document.querySelectorAll('#params tbody tr')).filter(r => !r.hidden).length")
    assert visible == 11  # block.1 and block.10 … block.19


# Text that is cut off without a way to read it: an element that hides its overflow (or ends in an
# ellipsis) while its content is wider or taller than its box, with no title on it or near it; and SVG
# text that runs past its drawing's edge without a <title>. Scrolling containers are not clipping.
CLIPPED_TEXT = """
    var out = [];
    function titled(el) {
        for (var e = el, k = 0; e && k < 4; e = e.parentElement, k++) { if (e.getAttribute && e.getAttribute('title')) return true; }
        return false;
    }
    document.querySelectorAll('main *').forEach(function (el) {
        if (el.closest('svg') || !el.textContent.trim() || el.offsetParent === null) return;
        var s = getComputedStyle(el);
        var hidesX = s.overflowX === 'hidden' || s.overflowX === 'clip' || s.textOverflow === 'ellipsis';
        var hidesY = s.overflowY === 'hidden' || s.overflowY === 'clip';
        if (((hidesX && el.scrollWidth > el.clientWidth + 1) || (hidesY && el.scrollHeight > el.clientHeight + 1)) && !titled(el))
            out.push(el.tagName + ': ' + el.textContent.trim().slice(0, 60));
    });
    document.querySelectorAll('main svg text').forEach(function (t) {
        var svg = t.ownerSVGElement, vb = svg.viewBox.baseVal, b = t.getBBox();
        if (!vb || !vb.width || !t.textContent.trim()) return;
        var outside = b.x < vb.x - 1 || b.y < vb.y - 1 || b.x + b.width > vb.x + vb.width + 1 || b.y + b.height > vb.y + vb.height + 1;
        if (outside && !t.querySelector('title')) out.push('svg text: ' + t.textContent.trim().slice(0, 60));
    });
    return out;
"""


def assert_nothing_clipped(driver, where):
    clipped = driver.execute_script(CLIPPED_TEXT)
    assert not clipped, f"text cut off without a tooltip on {where}: {clipped[:10]}"


def assert_no_page_scroll(driver, where):
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{where} scrolls sideways by {overflow}px"


def loaded(driver, predicate, what):
    """Waits for a page a click led to: the predicate holds and the document has finished loading (a
    table read while the page still streams in would be cut short)."""
    wait_for(driver, lambda d: predicate(d) and d.execute_script("return document.readyState") == "complete", what)


def sweep_experiment(browser, demo):
    return re.search(r'href="/experiments/(\d+)"><bdi>llm-finetune-sweep', visit(browser, demo, "/experiments")).group(1)


def test_the_layout_check_finds_clipped_text(browser, demo):
    """The check used below is not vacuous: text cut by a hidden overflow, and SVG text drawn past the
    edge, are both found; with a title they are not."""
    visit(browser, demo, "/experiments")
    browser.execute_script("""
        var d = document.createElement('div'); d.id = 'probe';
        d.innerHTML = '<div>model.decoder.block.12.layer.1.dropout</div>' +
            '<svg viewBox="0 0 100 20" width="100"><text x="90" y="15">a label that runs off the edge</text></svg>';
        // Styles set through the DOM (the page's CSP refuses inline style attributes).
        var cut = d.firstChild; cut.style.width = '40px'; cut.style.overflow = 'hidden'; cut.style.whiteSpace = 'nowrap';
        document.querySelector('main').appendChild(d);""")
    clipped = browser.execute_script(CLIPPED_TEXT)
    assert any("model.decoder.block.12" in c for c in clipped) and any(c.startswith("svg text") for c in clipped), clipped
    browser.execute_script("""document.querySelector('#probe div').title = 'full name';
        var t = document.querySelector('#probe text'); t.appendChild(document.createElementNS('http://www.w3.org/2000/svg', 'title'));""")
    assert browser.execute_script(CLIPPED_TEXT) == []


def test_runs_table_at_sweep_shape_in_a_browser(browser, demo):
    """The demo's sweep (48 runs, 120+ params with long dotted names): grouped headers, sticky run
    column, scrolling inside the table, the column chooser's search, grouping by a param with the
    same aggregates as computed from the API."""
    exp = sweep_experiment(browser, demo)
    for width, shot in [(1280, "sweep-runs"), (390, "sweep-runs-phone")]:
        visit(browser, demo, f"/experiments/{exp}", shot, width=width)
        assert_no_page_scroll(browser, f"the runs table at {width}px")
        assert_nothing_clipped(browser, f"the runs table at {width}px")
        # The table scrolls inside its frame; the run names stay put while it does.
        wrap = browser.find_element(By.CSS_SELECTOR, ".table-wrap")
        assert browser.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", wrap)
        before = browser.execute_script("return document.querySelector('#runs tbody td.second').getBoundingClientRect().left")
        browser.execute_script("arguments[0].scrollLeft = 400", wrap)
        after = browser.execute_script("return document.querySelector('#runs tbody td.second').getBoundingClientRect().left")
        assert abs(before - after) < 1, (before, after)
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#runs th.group-head")]
    assert heads == ["Metrics", "Parameters"]
    # The default columns are the model's metrics and the swept params (not 100 identical ones).
    params = [b.get_attribute("title") for b in browser.find_elements(By.CSS_SELECTOR, "#runs th.col button") if b.get_attribute("title").startswith("params.")]
    assert set(params) == {"params.data.train_batch_size", "params.lora.alpha", "params.lora.r", "params.optimizer.learning_rate",
                           "params.trainer.gradient_accumulation_steps", "params.trainer.seed"}

    # Column chooser: search, tick the shown, show them.
    browser.set_window_size(1280, 1000)
    browser.find_element(By.CSS_SELECTOR, "details.chooser summary").click()
    browser.find_element(By.CSS_SELECTOR, "input[data-filter-choices]").send_keys("EncDecAttention")
    shown = browser.execute_script("return Array.from(document.querySelectorAll('#choices label')).filter(l => !l.hidden).length")
    assert shown == 24
    browser.find_element(By.CSS_SELECTOR, "button[data-check='choices'][data-state='1']").click()
    browser.find_element(By.CSS_SELECTOR, "details.chooser form button:not([type])").click()
    # Read by script: an element found before the page reloads goes stale.
    loaded(browser, lambda d: "EncDecAttention" in (d.execute_script("return document.getElementById('runs')?.textContent") or ""), "the new columns")
    titles = [b.get_attribute("title") for b in browser.find_elements(By.CSS_SELECTOR, "#runs th.col button")]
    block = [t for t in titles if "EncDecAttention" in t]
    assert len(block) == 24 and block.index("params.model.decoder.block.2.layer.1.EncDecAttention.dropout_probability") < \
        block.index("params.model.decoder.block.10.layer.1.EncDecAttention.dropout_probability")
    assert browser.find_elements(By.CSS_SELECTOR, "#runs th.group-head")[1].get_attribute("colspan") == "30"
    assert_nothing_clipped(browser, "the runs table with 30 param columns")
    browser.save_screenshot(str(SHOTS / "sweep-runs-many-columns.png"))

    # Group by lora.r: four groups of 12 runs, in numeric order, with the metric's mean/min/max.
    visit(browser, demo, f"/experiments/{exp}")
    from selenium.webdriver.support.ui import Select
    Select(browser.find_element(By.ID, "group")).select_by_value("params.lora.r")
    browser.find_element(By.CSS_SELECTOR, "form.inline button").click()
    loaded(browser, lambda d: d.find_elements(By.ID, "groups"), "the grouped table")
    browser.save_screenshot(str(SHOTS / "sweep-runs-grouped.png"))
    assert_nothing_clipped(browser, "the grouped runs table")
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in browser.find_elements(By.CSS_SELECTOR, "#groups tbody tr")]
    assert [r[0] for r in rows] == ["8", "16", "32", "64"] and all(r[1] == "12" for r in rows)
    runs = requests.post(demo.api("runs/search"), json={"experiment_ids": [exp], "max_results": 100}).json()["runs"]
    accuracy = {}
    for run in runs:
        rank = next(p["value"] for p in run["data"]["params"] if p["key"] == "lora.r")
        accuracy.setdefault(rank, []).append(next(m["value"] for m in run["data"]["metrics"] if m["key"] == "test/accuracy"))
    # test/accuracy is the first metric column: mean, min, max follow the run count.
    for r in rows:
        values = accuracy[r[0]]
        assert abs(float(r[2]) - sum(values) / len(values)) < 1e-3 and abs(float(r[3]) - min(values)) < 1e-4 and abs(float(r[4]) - max(values)) < 1e-4
    # A group's value leads to its runs.
    browser.find_element(By.LINK_TEXT, "32").click()
    loaded(browser, lambda d: d.find_elements(By.ID, "runs"), "the group's runs")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 12
    visit(browser, demo, f"/experiments/{exp}?group=params.lora.r", "sweep-runs-grouped-phone", width=390)
    assert_no_page_scroll(browser, "the grouped table at 390px")


def test_compare_48_runs_with_parallel_coordinates_in_a_browser(browser, demo):
    exp = sweep_experiment(browser, demo)
    visit(browser, demo, f"/experiments/{exp}")
    browser.find_element(By.CSS_SELECTOR, "button[data-check-all='runs']").click()
    browser.find_element(By.CSS_SELECTOR, "#compare button[type=submit]").click()
    loaded(browser, lambda d: "Compare 48 runs" in d.page_source, "the compare page")
    url = browser.current_url
    assert_no_page_scroll(browser, "compare at 1280px")
    assert_nothing_clipped(browser, "compare")
    browser.save_screenshot(str(SHOTS / "sweep-compare.png"))
    # Only the params that differ, by default; all of them on request.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#compare-params tbody tr")) == 6
    assert "102 parameter(s) with one value in every run are hidden" in browser.page_source
    # One legend entry and one line per run in each chart; pointing at a run dims the others.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#legend li")) == 48
    loss = browser.find_element(By.CSS_SELECTOR, "figure[data-key='train/loss'] svg")
    assert len(loss.find_elements(By.CSS_SELECTOR, "polyline[data-series]")) == 48
    webdriver.ActionChains(browser).move_to_element(browser.find_elements(By.CSS_SELECTOR, "#legend li")[5]).perform()
    dimmed = browser.execute_script("return document.querySelectorAll(\"figure[data-key='train/loss'] polyline.dim\").length")
    lit = browser.execute_script("return Array.from(document.querySelectorAll('polyline.hl')).map(p => p.getAttribute('data-series'))")
    assert dimmed == 47 and lit and set(lit) == {"5"}
    # Parallel coordinates: the swept params (not the seed) and the metric as axes, a line per run.
    parallel = browser.find_element(By.CSS_SELECTOR, "#parallel svg")
    assert len(parallel.find_elements(By.CSS_SELECTOR, "polyline.pc")) == 48
    axes = [t.text for t in parallel.find_elements(By.CSS_SELECTOR, "text.axis-name")]
    assert "lora.r" in axes and "test/accuracy" in axes and not any("seed" in a for a in axes), axes
    browser.execute_script("document.getElementById('parallel').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "sweep-compare-parallel.png"))
    # Colour by a param: one legend entry per value, lines carry their group.
    visit(browser, demo, url.split(demo.url)[1] + "&colour=params.lora.r", "sweep-compare-by-rank")
    groups = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "ul.legend.groups li")]
    assert [g.split()[0] for g in groups] == ["8", "16", "32", "64"] and all("12 run(s)" in g for g in groups)
    webdriver.ActionChains(browser).move_to_element(browser.find_elements(By.CSS_SELECTOR, "ul.legend.groups li")[2]).perform()
    lit = browser.execute_script("return document.querySelectorAll(\"#parallel polyline.hl\").length")
    assert lit == 12
    visit(browser, demo, url.split(demo.url)[1] + "&all=1", "sweep-compare-all-params")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#compare-params tbody tr")) == 108
    visit(browser, demo, url.split(demo.url)[1], "sweep-compare-phone", width=390)
    assert_no_page_scroll(browser, "compare at 390px")


def test_run_page_of_the_sweeps_largest_run_in_a_browser(browser, demo):
    """The run with the 100,000-point series: its charts are drawn, system metrics have their section
    with a chart each, nothing is cut off, at desktop and phone width."""
    exp = sweep_experiment(browser, demo)
    first = requests.post(demo.api("runs/search"), json={"experiment_ids": [exp], "order_by": ["attributes.start_time ASC"], "max_results": 1}).json()["runs"][0]
    rid = first["info"]["run_id"]
    for width, shot in [(1280, "sweep-run"), (390, "sweep-run-phone")]:
        html = visit(browser, demo, f"/runs/{rid}", shot, width=width)
        assert_no_page_scroll(browser, f"the run page at {width}px")
        assert_nothing_clipped(browser, f"the run page at {width}px")
    assert "100000 point(s)" in html
    system = browser.find_element(By.ID, "system-metrics")
    assert len(system.find_elements(By.CSS_SELECTOR, "svg.chart")) == 16 and "gpu 1 power usage (W)" in system.text
    browser.set_window_size(1280, 1000)
    browser.execute_script("document.getElementById('system-metrics').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "sweep-run-system.png"))


def test_handoff_and_gate_pages_in_a_browser(browser, demo):
    """The demo's handoff (refused once for a mistyped claim, then submitted) and the gate on v2."""
    html = visit(browser, demo, "/handoffs", "handoffs")
    assert "churn-classifier v2 for the weekly scoring job" in html and "submitted" in html
    for width in (1280, 390):
        html = visit(browser, demo, "/handoffs/1", f"handoff-{width}", width=width)
        assert_no_page_scroll(browser, f"the handoff page at {width}px")
        assert_nothing_clipped(browser, f"the handoff page at {width}px")
    for text in ["xgboost", "2 vCPU (c6i.large)", "calibration", "Against the project", "refused", "Which hardware class"]:
        assert text in html, text
    outcomes = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "table .badge")]
    assert outcomes.count("ok") == 4 and outcomes.count("unverified") == 2, outcomes
    # The receiver's form (no authentication in the demo: anyone may act for the receiver).
    visit(browser, demo, "/handoffs/1")
    browser.find_element(By.NAME, "text").send_keys("Taking it over on Monday")
    browser.find_element(By.CSS_SELECTOR, "button[value=accept]").click()
    # Read the heading by script: an element found before the page reloads goes stale.
    loaded(browser, lambda d: "accepted" in (d.execute_script("return document.querySelector('h1')?.textContent") or ""), "the accepted handoff")
    assert "Taking it over on Monday" in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, "button[value=accept]")

    html = visit(browser, demo, "/models/churn-classifier/versions/2", "model-version")
    assert_nothing_clipped(browser, "the model version page")
    for text in ["Release gates", "a1b2c3f", "@challenger", "roc_auc", "superior", 'href="/handoffs/1"']:
        assert text in html, text
    assert 'class="badge ok">pass' in html
    history = visit(browser, demo, "/models/churn-classifier")
    assert "gate_recorded" in history and "handoff_accepted" in history and 'href="/models/churn-classifier/versions/2"' in history
    assert 'href="/handoffs/1"' in visit(browser, demo, "/projects/churn")
