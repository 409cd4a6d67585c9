"""Helpers for the compatibility suite: a real `ensemble serve` process and raw HTTP requests.

Kept out of conftest.py so that test modules can import them (`from _server import raw_request`).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def ensemble_binary() -> str:
    """The binary under test: $ENSEMBLE_BIN, else <repo>/.build/debug/ensemble.

    A rebuild replaces the file, so a binary that is missing for a moment is waited for (10 s)
    before the test fails with a clear message. Nothing is ever skipped.
    """
    path = os.environ.get("ENSEMBLE_BIN", str(REPO / ".build" / "debug" / "ensemble"))
    deadline = time.time() + 10
    while not os.access(path, os.X_OK) and time.time() < deadline:
        time.sleep(0.25)
    if not os.access(path, os.X_OK):
        pytest.fail(f"ensemble binary not found or not executable at {path}: run `swift build` or set ENSEMBLE_BIN")
    return path


def store_args(data_dir) -> list[str]:
    """`--data DIR`, plus `--database URL` when the suite runs on PostgreSQL
    (ENSEMBLE_TEST_BACKEND=postgres): one database per data folder, kept across restarts."""
    import _postgres  # here, not at the top: it imports this module

    args = ["--data", str(data_dir)]
    if _postgres.enabled():
        args += ["--database", _postgres.database_for(data_dir)]
    return args


def file_args(data_dir) -> list[str]:
    """`--artifacts s3://…` when the suite keeps files in moto's S3 (ENSEMBLE_TEST_ARTIFACTS=s3), a
    bucket per data folder; nothing when they go to the data folder. Only `serve` takes it."""
    import _s3

    return ["--artifacts", _s3.location_for(data_dir)] if _s3.enabled() else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `ensemble serve` process on a free loopback port with its own data folder.

    `stop()` and `start()` can be called again: a restarted server gets a new port but keeps its
    data folder (the crash test relies on that).
    """

    def __init__(self, data_dir: Path, log_path: Path, extra_args: list[str] | None = None):
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.extra_args = list(extra_args or [])
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifact_root(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def artifacts_location(self) -> str | None:
        """The server's `s3://` location, or None when its files are in the data folder."""
        args = self.extra_args + file_args(self.data_dir)
        return args[args.index("--artifacts") + 1] if "--artifacts" in args else None

    def artifact_files(self, under: str = "") -> dict[str, bytes]:
        """Every stored artifact file below `under` (relative to the artifact root), with its bytes,
        from the data folder or the bucket: what a test checks really landed in the store."""
        location = self.artifacts_location
        if location:
            import _s3

            return _s3.objects(location, "/".join(p for p in ("artifacts", under) if p))
        root = self.artifact_root / under if under else self.artifact_root
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}

    def api(self, path: str) -> str:
        return f"{self.url}/api/2.0/mlflow/{path}"

    def proxy(self, path: str = "") -> str:
        """URL of the mlflow-artifacts proxy (`path` is appended as given)."""
        base = f"{self.url}/api/2.0/mlflow-artifacts/artifacts"
        return f"{base}/{path}" if path else base

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def start(self) -> "Server":
        binary = ensemble_binary()
        # The suite's backend, unless the test chose its own database or bucket.
        backend_args = store_args(self.data_dir)[2:] + file_args(self.data_dir)
        for flag in ("--database", "--artifacts"):
            if flag in self.extra_args and flag in backend_args:
                i = backend_args.index(flag)
                del backend_args[i:i + 2]
        last_error = ""
        # The port is free when probed but could be taken before the server binds it: retry once.
        for _attempt in range(2):
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                log.write(f"\n==> starting {binary} on port {self.port}\n".encode())
                log.flush()
                self.process = subprocess.Popen(
                    [binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data", str(self.data_dir), *backend_args, *self.extra_args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            deadline = time.time() + START_TIMEOUT_S
            while time.time() < deadline:
                if self.process.poll() is not None:
                    last_error = f"exited with status {self.process.returncode}"
                    break
                try:
                    r = requests.get(self.url + "/health", timeout=1)
                    if r.status_code == 200 and r.text == "OK":
                        return self
                    last_error = f"/health answered {r.status_code} {r.text[:100]!r}"
                except requests.RequestException as e:
                    last_error = repr(e)
                time.sleep(0.05)
            else:
                last_error = f"no 200 OK from /health within {START_TIMEOUT_S:.0f} s ({last_error})"
            self.stop(signal.SIGKILL)
        pytest.fail(f"ensemble did not start on 127.0.0.1:{self.port}: {last_error}\n--- server log (tail) ---\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Send `sig` (SIGTERM by default), wait 10 s, then SIGKILL. Returns the exit status."""
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

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/health", timeout=5).text == "OK"
        except requests.RequestException:
            return False


def raw_request(server: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """Send `path` exactly as written (requests would normalise `..` and re-quote it).

    Returns (status, headers as a dict with lower-case names, body bytes).
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        hdrs = {"Host": f"127.0.0.1:{server.port}"}
        hdrs.update(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()
