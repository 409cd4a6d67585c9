"""A real PostgreSQL for the client-side suite, when ENSEMBLE_TEST_BACKEND=postgres.

Started once per pytest process from Debian's server binaries: `initdb` into a temporary folder
(as the `postgres` user when the tests run as root, since PostgreSQL refuses root), a free loopback
port, trust authentication, no fsync (the data is thrown away); stopped and removed at exit. Every
server the suite starts gets a new, empty database of its own.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from _server import free_port

_state: dict = {}


def enabled() -> bool:
    """Whether servers in this run keep their metadata in PostgreSQL."""
    return os.environ.get("ENSEMBLE_TEST_BACKEND", "sqlite").lower() == "postgres"


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}): {done.stdout[-1500:]} {done.stderr[-1500:]}")


def _start() -> dict:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.fail("No PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install Debian's postgresql package (scripts/test does).")
    bin_dir = os.path.dirname(bins[-1])
    folder = tempfile.mkdtemp(prefix="ensemble-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    _run(_as_postgres([f"{bin_dir}/initdb", "-D", f"{folder}/data", "-U", "ensemble", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]))
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=400"
    # pg_ctl's server outlives it: its output goes to a log file, not to a pipe we would wait on.
    _run(_as_postgres([f"{bin_dir}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/log", "-o", options, "-w", "-t", "60", "start"]))

    def stop() -> None:
        subprocess.run(
            _as_postgres([f"{bin_dir}/pg_ctl", "-D", f"{folder}/data", "-m", "immediate", "-w", "stop"]),
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    return {"bin": bin_dir, "port": port}


def new_database() -> str:
    """The URL of a new, empty database on the suite's PostgreSQL (started on first use)."""
    if "server" not in _state:
        _state["server"] = _start()
    server = _state["server"]
    name = "t_" + uuid.uuid4().hex
    _run([f"{server['bin']}/createdb", "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "ensemble", name])
    return f"postgresql://ensemble@127.0.0.1:{server['port']}/{name}"


def database_for(data_dir) -> str:
    """The database of the server whose data folder is `data_dir` (made on first use), so `ensemble
    admin` run before the server starts and the server itself share it."""
    key = str(os.path.realpath(data_dir))
    databases = _state.setdefault("by_folder", {})
    if key not in databases:
        databases[key] = new_database()
    return databases[key]
