"""A recording that cannot be written stops the session at once (issue 13, item 1).

Real faults, not mocks: a small tmpfs filled mid-session, an immutable database file
(tests/faultfs.py; skipped without root).
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from faultfs import fill, immutable, small_tmpfs
from pointdose.protocols import PointContext, builtin
from pointdose.records import RecordingListener, Store, StoreError
from pointdose.records.recording import open_recording
from pointdose.session import SessionRunner
from test_session_runner import FakeLink, drive, holds_profile


def test_a_disk_that_fills_mid_session_ends_it_with_an_alarm_and_loses_nothing_once_space_returns(tmp_path):
    with small_tmpfs(tmp_path / "disk", "4m") as disk:
        store = Store(disk / "records.sqlite")
        sid = store.start_session(store.add_client("F-1"))
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        link = FakeLink()
        link.push([0.0], [0.0])
        runner = SessionRunner(link, builtin("holds"), PointContext(name="trap"), listeners=[listener])
        seen = {"filled_at": None, "fault_at": None}
        filler = None

        def step(t):
            nonlocal filler
            listener.flush()  # the writer thread's job, done here so the test needs no wall clock
            if t >= 2.0 and filler is None:
                filler = fill(disk)
                seen["filled_at"] = t
            if listener.fault is not None and seen["fault_at"] is None:
                seen["fault_at"] = t

        drive(runner, link, 60.0, holds_profile, on_step=step)
        assert seen["fault_at"] is not None, "the full disk was never noticed"
        assert "full" in str(listener.fault)
        # the runner ended the application on the step after the write failed: an alarm, not silence
        assert runner.ended.is_set() and runner.end_reason == "alarm: recording"
        assert runner.fault and "full" in runner.fault
        assert runner.cue.phase == "alarm" and link.cues[-1][0] == "alarm"
        t_end = runner.summary["t_end_s"]
        assert t_end - seen["fault_at"] <= 0.06  # one step of 5 samples at 100 Hz
        assert t_end < 30.0, "the session went on after the recording failed"
        written_then = listener.samples_written
        assert written_then > 0 and listener.unsaved() is not None and "samples" in listener.unsaved()
        # free the space: the rows kept in memory are written, none lost, the alarm is the end reason
        filler.unlink()
        runner.close()
        listener.close()
        assert listener.unsaved() is None
        (app,) = store.applications(session_id=sid)
        saved = store.samples(app["id"])
        assert np.all(np.diff(saved["seq"]) == 1)  # no hole, nothing twice
        assert len(saved) > written_then and saved["t_s"][-1] <= t_end + 1e-9
        assert app["end_reason"] == "alarm: recording"
        assert store.integrity_check() == "ok"
        store.close()


def test_a_fault_is_kept_after_a_later_write_succeeds(tmp_path):
    """``error`` clears when writing works again; ``fault`` (what stopped the session) stays."""
    with small_tmpfs(tmp_path / "disk", "2m") as disk:
        store = Store(disk / "records.sqlite")
        listener = RecordingListener(store, autoflush=False)
        listener.on_application_start({"point": "x", "probe_area_cm2": 1.0, "t_s": 0.0})
        assert listener.flush()
        filler = fill(disk)
        rows = np.zeros(200_000, listener_dtype())
        rows["seq"] = np.arange(len(rows))
        rows["t_s"] = np.arange(len(rows)) * 1e-3
        rows["raw"] = np.random.default_rng(1).integers(0, 1 << 24, len(rows))  # incompressible
        listener.on_samples(rows)
        assert not listener.flush()
        assert listener.fault is listener.error and "full" in str(listener.fault)
        assert listener.unsaved() == "200000 samples (200.0 s)"
        filler.unlink()
        assert listener.flush() and listener.error is None and listener.fault is not None
        assert listener.unsaved() is None and listener.samples_written == 200_000
        listener.close()
        store.close()


def listener_dtype():
    from pointdose.listeners import SAMPLE_DTYPE

    return SAMPLE_DTYPE


def test_an_immutable_database_is_refused_before_a_session_starts(tmp_path):
    db = tmp_path / "records.sqlite"
    Store(db).close()
    with immutable(db):
        with pytest.raises(StoreError, match="cannot write the records database") as err:
            open_recording(db_path=db)
        assert "read-only" in str(err.value) or "immutable" in str(err.value)
        with Store(db, readonly=True) as store:  # it can still be read
            assert store.clients() == []


def test_a_full_disk_is_refused_before_a_session_starts(tmp_path):
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        Store(disk / "records.sqlite").close()
        fill(disk)
        with pytest.raises(StoreError, match="full"):
            rec = open_recording(db_path=disk / "records.sqlite", client_code="C-1")
            rec.close()


def test_a_nearly_full_disk_is_refused_before_a_session_starts_even_without_a_client(tmp_path):
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        Store(disk / "records.sqlite").close()
        fill(disk)
        with pytest.raises(StoreError, match="is full"):
            open_recording(db_path=disk / "records.sqlite")  # nothing written yet: only the free space tells


def test_check_writable_writes_nothing(tmp_path):
    db = tmp_path / "records.sqlite"
    wal = tmp_path / "records.sqlite-wal"
    with Store(db) as store:
        size = wal.stat().st_size
        other = sqlite3.connect(db)
        version = other.execute("PRAGMA data_version").fetchone()[0]
        store.check_writable()
        assert other.execute("PRAGMA data_version").fetchone()[0] == version  # no commit changed the file
        assert wal.stat().st_size == size
        other.close()
