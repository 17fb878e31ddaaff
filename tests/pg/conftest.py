"""A real PostgreSQL server for the records tests: a throwaway cluster in a temp folder.

The server refuses to run as root, so under root the cluster belongs to a system user
``pdtest`` (created when missing) and every server command runs through ``runuser``. It listens
on 127.0.0.1 on a free port, with its socket in the temp folder, and is stopped and deleted at
the end. Without the PostgreSQL binaries (Debian: ``apt-get install postgresql``) these tests
are skipped with one line saying so.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_USER = "pdtest"
DB_USER = "pointdose"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("initdb")
    return Path(exe).parent if exe else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL cluster: start/stop it (the outage tests), make fresh databases."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pointdose-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
                made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                       PG_USER], capture_output=True, text=True)
                if made.returncode not in (0, 9):  # 9: made meanwhile by another test run
                    raise RuntimeError(f"useradd {PG_USER} failed: {made.stderr.strip()}")
            shutil.chown(self.root, PG_USER, PG_USER)
            os.chmod(self.root, 0o700)
            self.as_user = ["runuser", "-u", PG_USER, "--"]
        self._names = itertools.count(1)
        self._run([str(bindir / "initdb"), "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8",
                   "--no-locale", "--no-sync"])
        self.start()

    def _run(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        out = subprocess.run(self.as_user + cmd, capture_output=True, text=True, cwd=self.root, **kw)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
        return out

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=60 -c shared_buffers=32MB")
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                   "-o", opts, "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def running(self) -> bool:
        out = subprocess.run(self.as_user + [str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"],
                             capture_output=True, cwd=self.root)
        return out.returncode == 0

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = f"records_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")  # its data is deleted next: no need for a shutdown checkpoint
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql): server tests skipped")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    cluster = Cluster(bindir)
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh database on the test server, empty; the server is running again after the test."""
    url = pg_cluster.new_database()
    yield url
    if not pg_cluster.running():
        pg_cluster.start()
