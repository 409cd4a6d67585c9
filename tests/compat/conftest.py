"""Fixtures that start a real `ensemble` server and point the real MLflow client at it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]

# The client must fail fast on a 5xx instead of retrying for minutes, and must not phone home.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"


def ensemble_binary() -> str:
    path = os.environ.get("ENSEMBLE_BIN", str(REPO / ".build" / "debug" / "ensemble"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"ensemble binary not found at {path}: run `swift build` first or set ENSEMBLE_BIN")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `ensemble serve` process on a free loopback port with its own data folder."""

    def __init__(self, data_dir: Path, log_path: Path):
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifact_root(self) -> Path:
        return self.data_dir / "artifacts"

    def start(self) -> "Server":
        self.port = free_port()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [ensemble_binary(), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + "/health", timeout=1).text == "OK":
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        pytest.fail(f"ensemble did not start on port {self.port}; log:\n{tail}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL: no chance to flush or checkpoint anything."""
        self.stop(signal.SIGKILL)

    def api(self, path: str) -> str:
        return f"{self.url}/api/2.0/mlflow/{path}"


def _serve(tmp: Path):
    """Start a server in `tmp`, point the fluent client at it, and stop it afterwards."""
    import mlflow

    srv = Server(tmp / "data", tmp / "server.log").start()
    mlflow.set_tracking_uri(srv.url)
    os.environ["MLFLOW_TRACKING_URI"] = srv.url
    yield srv
    while mlflow.active_run():
        mlflow.end_run()
    srv.stop()


@pytest.fixture
def server(tmp_path):
    """A fresh server per test, for tests that assert global state."""
    yield from _serve(tmp_path)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for a whole module whose tests do not depend on each other's data."""
    yield from _serve(tmp_path_factory.mktemp("shared"))


@pytest.fixture
def client(shared_server):
    import mlflow

    mlflow.set_tracking_uri(shared_server.url)
    return mlflow.MlflowClient(shared_server.url)
