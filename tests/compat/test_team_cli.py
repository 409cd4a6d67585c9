"""`ensemble demo`, `team`, `project`, `portfolio` and `forecast` against a real server."""

import csv
import json
import os
import subprocess

import requests

from _server import ensemble_binary


def cli(server, *args, check=True):
    env = dict(os.environ, ENSEMBLE_SERVER=server.url)
    result = subprocess.run([ensemble_binary(), *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert result.returncode == 0, f"ensemble {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_import_reports_every_bad_row_and_imports_nothing(server, tmp_path):
    sheet = tmp_path / "people.csv"
    sheet.write_text(
        "name,email,roles,skills,capacity,history\n"
        "Ana Lima,ana@example.com,data-scientist,python:4;sql:3,0.8,old:delivered\n"
        "Bob,not-an-email,,python:3,1,\n"
        "Cy,cy@example.com,wizard,python:3,1,\n"
        "Dee,dee@example.com,,python:9,1,\n"
        '"Eve, Jr.",eve@example.com,ml-engineer,"python:4;mlops:3",50%,x:failed\n'
        "Ana Again,ana@example.com,,,1,\n"
    )
    result = cli(server, "team", "import", str(sheet), check=False)
    assert result.returncode != 0 and "nothing was imported" in result.stderr
    for line, text in [(3, "email:"), (4, "unknown role 'wizard'"), (5, "level from 1 to 5"), (7, "also on line 2")]:
        assert f"people.csv:{line}:" in result.stderr and text in result.stderr, result.stderr
    assert requests.get(f"{server.url}/api/v1/people").json()["people"] == []

    ok = cli(server, "team", "import", str(sheet), "--skip-invalid")
    assert "Imported 2 person(s); skipped 4 invalid row(s)." in ok.stdout
    people = {p["id"]: p for p in requests.get(f"{server.url}/api/v1/people").json()["people"]}
    assert set(people) == {"ana", "eve"}
    assert people["eve"]["name"] == "Eve, Jr." and people["eve"]["capacity"] == 0.5 and people["eve"]["success_rate"] == 0
    assert people["ana"]["success_rate"] == 1

    # Export, then import the export into a fresh team: the same people come back.
    exported = tmp_path / "export.csv"
    cli(server, "team", "export", str(exported))
    rows = list(csv.DictReader(exported.open()))
    assert [r["email"] for r in rows] == ["ana@example.com", "eve@example.com"] and rows[1]["skills"] == "mlops:3;python:4"
    for pid in people:
        assert requests.delete(f"{server.url}/api/v1/people/{pid}").status_code == 200
    cli(server, "team", "import", str(exported))
    again = {p["id"]: p for p in requests.get(f"{server.url}/api/v1/people").json()["people"]}
    assert again == people


def test_demo_then_the_commands_answer_the_questions(server):
    out = cli(server, "demo").stdout
    assert "Team: 10 people." in out
    assert "already has 10 people" in cli(server, "demo", check=False).stderr

    team = cli(server, "team", "list").stdout
    assert "Bruno Silva" in team and "data-scientist" in team

    portfolio = cli(server, "portfolio").stdout
    lines = [l for l in portfolio.splitlines() if l[:1].isdigit()]
    assert [l.split()[1] for l in lines] == ["churn", "fraud-alerts", "support-triage", "demand-forecast"]
    assert "nobody on the team has: forecasting" in portfolio
    data = json.loads(cli(server, "portfolio", "--json", "--urgency", "0").stdout)
    assert data["weights"]["urgency"] == 0

    staffing = cli(server, "project", "staffing", "churn", "--stage", "deployment").stdout
    assert staffing.splitlines()[1].startswith(" 1. Elif Yilmaz") and "meets mlops 4/3" in staffing

    coverage = cli(server, "team", "coverage").stdout
    assert "forecasting: nobody" in coverage and "Roles nobody holds: backend-developer" in coverage

    forecast = json.loads(cli(server, "forecast", "churn", "--json", "--seed", "7").stdout)
    assert forecast["tasks"] == 6 and forecast["p50_days"] < forecast["p80_days"] < forecast["p95_days"]
    assert forecast["p50_date"] is not None and sum(b["count"] for b in forecast["histogram"]) == 10000
    assert json.loads(cli(server, "forecast", "churn", "--json", "--seed", "7").stdout)["p80_days"] == forecast["p80_days"]
    assert "P80" in cli(server, "forecast", "churn").stdout

    blocked = cli(server, "project", "stage", "demand-forecast", "data", check=False)
    assert blocked.returncode != 0 and "business metric" in blocked.stderr
    blocked = cli(server, "project", "stage", "churn", "deployment", check=False)
    assert blocked.returncode != 0 and "modeling checklist has 4 open item(s)" in blocked.stderr
    ticked = cli(server, "project", "check", "churn", "--item", "1", "--item", "3").stdout
    assert "1. [x] baseline model trained" in ticked and "2. [ ] evaluation" in ticked
    assert "1 open item(s)" not in cli(server, "project", "stage", "churn", "deployment", check=False).stderr  # two still open
    cli(server, "project", "check", "churn", "--all")
    moved = cli(server, "project", "stage", "churn", "deployment", "--why", "holdout AUC 0.82", "--by", "bruno")
    assert "now in deployment" in moved.stdout
    history = requests.get(f"{server.url}/api/v1/projects/churn").json()["history"]
    assert history[-1]["from"] == "modeling" and history[-1]["by"] == "bruno" and history[-1]["why"] == "holdout AUC 0.82"

    cli(server, "project", "update", "churn", "--done", "moved to deployment", "--author", "bruno")
    # The demo's handoff, deployments and A/B test are newer than its runs: ask for enough of the feed.
    feed = cli(server, "project", "activity", "churn", "--limit", "100").stdout
    assert "moved to deployment" in feed and "stage_changed" in feed and "run_created" in feed
    assert "handoff_submitted" in feed and "deployment_live" in feed and "ab_result" in feed
    progress = requests.get(f"{server.url}/api/v1/projects/churn/progress").json()
    assert sum(w["runs"] for w in progress["weeks"]) == 18
