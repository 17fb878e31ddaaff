"""RecordingListener: what reaches the database, and that nothing it does can hurt the runner."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records import RecordingListener, Store, StoreError
from pointdose.records import store as store_mod


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "records.sqlite")
    yield s
    s.close()


def _rows(t, seq0=0, kpa=50.0):
    rows = np.zeros(len(t), SAMPLE_DTYPE)
    rows["seq"] = seq0 + np.arange(len(t))
    rows["t_s"] = t
    rows["pressure_kpa"] = kpa
    rows["force_n"] = kpa / 10.0
    rows["raw"] = 1000
    return rows


def _wait(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_time_stepping_back_is_recorded_and_its_metrics_computed(store):
    """/tmp/rv/listen.py: the host clock stepped back 5 ms; nothing raised, nothing lost, metrics usable."""
    listener = RecordingListener(store, autoflush=False)
    listener.on_application_start({"point": "x", "probe_area_cm2": 1.0, "t_s": 0.0})
    listener.on_samples(_rows([0, .0125, .0075, .02, .0325, .045]))
    listener.on_application_end(0.05, "completed", {})
    listener.close()
    app = listener.last_application_id
    assert listener.error is None and listener.samples_written == 6
    assert listener.last_metrics is not None and len(listener.last_metrics.gaps) == 1
    m = store.metrics(app)
    assert m["gaps"][0]["time_back_s"] == pytest.approx(0.005)
    assert store.metrics(app, refresh=True).contact_s == pytest.approx(0.05)


def test_a_failing_metrics_computation_keeps_the_samples_and_says_so(store, monkeypatch):
    def broken(conn, app_id, samples=None):
        raise ValueError("some bug in the metrics")

    monkeypatch.setattr(store_mod, "compute_and_store_metrics", broken)
    listener = RecordingListener(store, autoflush=False)
    listener.on_application_start({"point": "x", "probe_area_cm2": 1.0, "t_s": 0.0})
    listener.on_samples(_rows(0.01 * np.arange(100)))
    listener.on_application_end(1.0, "completed", {})  # must not raise into the runner
    listener.close()
    assert listener.samples_written == 100
    assert isinstance(listener.error, StoreError)
    assert "metrics could not be computed" in str(listener.error) and "some bug" in str(listener.error)
    app = listener.last_application_id
    assert len(store.samples(app)) == 100 and store.application(app)["end_reason"] == "completed"


def test_the_background_writer_survives_an_unexpected_error(store, monkeypatch):
    real = Store.write_samples
    calls = {"n": 0}

    def flaky(conn, app_id, rows):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("unexpected")
        return real(conn, app_id, rows)

    monkeypatch.setattr(store, "write_samples", flaky)
    listener = RecordingListener(store, flush_interval_s=0.05)
    listener.on_application_start({"point": "x", "probe_area_cm2": 1.0, "t_s": 0.0})
    listener.on_samples(_rows(0.01 * np.arange(50)))
    assert _wait(lambda: calls["n"] >= 1)
    assert _wait(lambda: listener.samples_written == 50), listener.error
    listener.on_samples(_rows(0.5 + 0.01 * np.arange(50), seq0=50))
    assert _wait(lambda: listener.samples_written == 100), listener.error
    assert any(t.name.startswith("records-") and t.is_alive() for t in threading.enumerate())
    listener.close()
    assert len(store.samples(listener.last_application_id or 1)) == 100


def test_the_runners_calls_never_wait_for_a_locked_database(tmp_path):
    """M2: another program holds the write lock for a while; the runner's calls return at once and
    everything is written once the lock is free."""
    import sqlite3

    db = tmp_path / "records.sqlite"
    store = Store(db)
    cid = store.add_client("L-1")
    sid = store.start_session(cid)
    point = store.point(cid, "upper_trapezius.1", "L")
    listener = RecordingListener(store, session_id=sid, flush_interval_s=0.1)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. another pointdose importing a client
    failed = []

    def runner_steps():
        try:
            t = 0.0
            for k in range(40):  # 1 s of runner steps while the database stays locked
                if k == 0:
                    listener.on_application_start({"point": point, "probe_area_cm2": 1.0, "t_s": 0.0})
                rows = _rows(t + 0.005 * np.arange(5), seq0=5 * k, kpa=120.0)
                listener.on_samples(rows)
                listener.on_event(float(rows["t_s"][0]), "phase_start", {"phase": "hold"})
                if k == 39:
                    listener.on_application_end(float(rows["t_s"][-1]), "completed", {})
                t = float(rows["t_s"][-1])
                time.sleep(0.025)
        except BaseException as exc:  # a call that touched the locked database
            failed.append(exc)

    steps = threading.Thread(target=runner_steps)
    try:
        steps.start()
        # every call returns while the lock is still held (it is only released below): a call that
        # waited for the database would still be waiting (or have failed) when this deadline passes
        steps.join(timeout=60)
        assert not steps.is_alive(), "a listener call waited for the locked database on the runner's thread"
        assert not failed, failed
        assert listener.samples_written == 0  # nothing could be written yet
    finally:
        other.execute("ROLLBACK")
        other.close()
        steps.join()
    listener.close()
    (app,) = store.applications(session_id=sid)
    saved = store.samples(app["id"])
    assert np.array_equal(saved["seq"], np.arange(200)) and app["end_reason"] == "completed"
    assert len(store.events(app["id"])) == 40 and listener.error is None
    assert store.metrics(app["id"])["contact_s"] == pytest.approx(40 * 0.02, abs=0.01)  # the last row's t_s
    store.close()


def test_without_autoflush_nothing_is_written_before_flush(store):
    listener = RecordingListener(store, autoflush=False)
    listener.on_application_start({"point": "x", "probe_area_cm2": 1.0, "t_s": 0.0})
    listener.on_samples(_rows(0.01 * np.arange(10)))
    listener.on_application_end(0.1, "completed", {})
    assert listener.samples_written == 0 and listener.pending_samples() == 10
    assert listener.flush() and listener.samples_written == 10 and listener.pending_samples() == 0
    assert store.application(listener.last_application_id)["end_reason"] == "completed"
