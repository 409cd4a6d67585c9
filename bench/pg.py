"""A PostgreSQL for `scripts/bench --backend postgres`: Debian's server binaries, a temporary folder,
a free loopback port, trust authentication for the local user `ensemble`. Unlike the test suite's,
this one keeps PostgreSQL's durable defaults (fsync, synchronous_commit): a commit is on disk before
a write is acknowledged, as in production. Every server under test gets its own database."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid


class Postgres:
    def __init__(self, max_connections: int = 300):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        self.bin = os.path.dirname(bins[-1])
        self.version = os.path.basename(os.path.dirname(self.bin))
        self.folder = tempfile.mkdtemp(prefix="ensemble-bench-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run(self._as_postgres([f"{self.bin}/initdb", "-D", f"{self.folder}/data", "-U", "ensemble", "-A", "trust", "-E", "UTF8", "--locale=C"]))
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections={max_connections} "
                   "-c shared_buffers=256MB")
        self._run(self._as_postgres([f"{self.bin}/pg_ctl", "-D", f"{self.folder}/data", "-l", f"{self.folder}/log", "-o", options,
                                     "-w", "-t", "60", "start"]))

    @staticmethod
    def _as_postgres(command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    @staticmethod
    def _run(command: list[str]) -> None:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")

    def new_database(self, prefix: str) -> str:
        """The URL of a new, empty database."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._run([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "ensemble", name])
        return f"postgresql://ensemble@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(self._as_postgres([f"{self.bin}/pg_ctl", "-D", f"{self.folder}/data", "-m", "fast", "-w", "stop"]),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        shutil.rmtree(self.folder, ignore_errors=True)
