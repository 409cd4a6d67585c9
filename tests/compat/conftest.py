"""Fixtures that start a real `ensemble` server and point the real MLflow client at it.

* `server`        - a fresh server (own port, own data folder) for one test; use it when the test
                    asserts global state (e.g. `search_experiments()` returning an exact set).
* `shared_server` - one server for a whole module, for tests that do not depend on each other.
* `client`        - an `MlflowClient` on `shared_server`.

The binary is $ENSEMBLE_BIN or <repo>/.build/debug/ensemble (see _server.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import Server  # noqa: E402

# The client must fail fast on a 5xx instead of retrying for minutes, and must not phone home.
# Set before mlflow reads them; the per-test fixture below sets them again with monkeypatch.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
os.environ.update(CLIENT_ENV)


def _serve(tmp: Path):
    """Start a server in `tmp` and stop it (SIGTERM) afterwards."""
    srv = Server(tmp / "data", tmp / "server.log").start()
    yield srv
    _reset_fluent_state()
    code = srv.stop()
    # A clean SIGTERM shutdown is part of the contract: 0, or death by the signal itself.
    assert code in (0, None, -15, 143), f"ensemble exited with {code} on SIGTERM\n{srv.log_tail()}"


def _point_client_at(srv: Server, monkeypatch) -> None:
    import mlflow

    for k, v in CLIENT_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    mlflow.set_tracking_uri(srv.url)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A fresh server per test, for tests that assert global state."""
    for srv in _serve(tmp_path):
        _point_client_at(srv, monkeypatch)
        yield srv


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for a whole module whose tests do not depend on each other's data."""
    yield from _serve(tmp_path_factory.mktemp("shared"))


@pytest.fixture
def client(shared_server, monkeypatch):
    import mlflow

    _point_client_at(shared_server, monkeypatch)
    return mlflow.MlflowClient(shared_server.url)


def _reset_fluent_state() -> None:
    import mlflow
    import mlflow.tracking.fluent as fluent

    while mlflow.active_run():
        mlflow.end_run()
    # set_experiment() remembers the experiment globally (and in MLFLOW_EXPERIMENT_ID); an id from
    # an earlier test's server must not leak into the next test.
    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)


@pytest.fixture(autouse=True)
def _clean_fluent_state():
    """Each test starts with no active run and no remembered experiment, and leaves none."""
    _reset_fluent_state()
    yield
    _reset_fluent_state()
