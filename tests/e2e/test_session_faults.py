"""``pointdose session`` when its records cannot be written: stopped at once, exit 3, never silent.

Before issue 13 the session ran to its end, then printed "could not be written" and exited 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest

from faultfs import fill, immutable, small_tmpfs
from pointdose.records import Store

pytestmark = pytest.mark.needs_unix_port


def _session(db, *extra):
    env = dict(os.environ, POINTDOSE_DB=str(db))
    return subprocess.Popen([sys.executable, "-m", "pointdose.cli", "session", "--protocol", "holds", "--sim",
                             "--headless", "--hand", "expert", "--mute", "--seconds", "120", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=env)


def test_a_disk_that_fills_during_the_session_stops_it_with_exit_3(tmp_path):
    with small_tmpfs(tmp_path / "disk", "4m") as disk:
        db = disk / "records.sqlite"
        proc = _session(db, "--client", "C-FULL")
        lines = []
        filled = threading.Event()
        try:
            for line in proc.stdout:  # fill the disk once the hold has started: mid-session
                lines.append(line)
                if line.startswith(">> Hold") and not filled.is_set():
                    filler = fill(disk)
                    filled.set()
            err = proc.stderr.read()
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        out = "".join(lines)
        assert filled.is_set(), out + err
        assert rc == 3, out + err
        assert "!! ALARM (recording)" in out and "end: alarm: recording" in out
        assert re.search(r"end: alarm: recording; 0/[1-9]\d* cycles", out)  # it did not run on to the holds' end
        (msg,) = [ln for ln in err.splitlines() if ln.startswith("pointdose:")]
        assert "the recording failed, so the session was stopped at once" in msg and "is full" in msg
        assert "samples were saved" in msg and "NOT saved:" in msg
        assert "Traceback" not in err
        # what was saved is intact and readable once space is back
        filler.unlink()
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            (app,) = store.applications(client_id=store.client("C-FULL")["id"])
            assert len(store.samples(app["id"])) > 0


def test_an_immutable_database_refuses_the_session_before_it_starts(tmp_path):
    db = tmp_path / "records.sqlite"
    Store(db).close()
    with immutable(db):
        proc = _session(db)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert err.strip().startswith("pointdose: cannot write the records database") and "immutable" in err
    assert len(err.strip().splitlines()) == 1 and ">> Press" not in out
