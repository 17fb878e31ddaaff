"""The recording listener writes through the Store API only: no SQL of its own.

The Store is the one place that knows the database (SQLite today, PostgreSQL next): SQL written
outside it breaks there. A Store whose connection notes which module runs each statement shows
that every statement of a full application (start, samples, PPT, pain, band, cautions, end,
metrics) comes from ``pointdose.records.store``.
"""

from __future__ import annotations

import ast
import contextlib
import sys
from pathlib import Path

import numpy as np

import pointdose.records.listener as listener_mod
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records import RecordingListener, Store


class _Watched:
    """A connection that records the module of whoever calls ``execute``."""

    def __init__(self, conn, callers):
        self._conn, self._callers = conn, callers

    def execute(self, sql, *params):
        self._callers.append((sys._getframe(1).f_globals.get("__name__"), sql.split()[0].upper()))
        return self._conn.execute(sql, *params)

    def __getattr__(self, name):
        return getattr(self._conn, name)


class WatchedStore(Store):
    def __init__(self, *a, **kw):
        self.callers: list[tuple[str, str]] = []
        super().__init__(*a, **kw)

    @contextlib.contextmanager
    def guard(self, doing):
        with super().guard(doing) as conn:
            yield _Watched(conn, self.callers)


def _rows(t, kpa):
    rows = np.zeros(len(t), SAMPLE_DTYPE)
    rows["seq"] = np.arange(len(t))
    rows["t_s"] = t
    rows["pressure_kpa"] = kpa
    rows["force_n"] = np.asarray(kpa) / 10.0
    rows["raw"] = 1000
    return rows


def test_every_statement_of_a_recording_is_the_stores(tmp_path):
    store = WatchedStore(tmp_path / "records.sqlite")
    client = store.add_client("C-1")
    session = store.start_session(client)
    point = store.point(client, "upper_trapezius.1", "L")
    ppt_before = store.add_ppt(point, session, 200.0, probe_area_cm2=1.0, ramp_kpa_s=30.0)
    store.callers.clear()

    listener = RecordingListener(store, session_id=session, autoflush=False)
    listener.on_application_start({
        "point_id": point, "probe_area_cm2": 1.0, "t_s": 0.0, "protocol": "holds", "probe": "1 cm2",
        "calibration": {"model": "linear", "counts_per_n": 100.0, "zero": 0.0, "source": "factory"},
        "ppt_id": ppt_before,
        "cautions": {"findings": [{"key": "k", "origin": "region", "action": "acknowledge", "text": "t"}],
                     "acknowledged": True}})
    t = 0.01 * np.arange(300)
    listener.on_samples(_rows(t, np.where((t > 0.5) & (t < 2.5), 120.0, 0.0)))
    listener.on_event(0.5, "phase_start", {"phase": "hold", "band_lo_kpa": 100.0, "band_hi_kpa": 140.0})
    listener.on_event(1.0, "pain", {"value": 4, "stage": "during"})
    listener.on_event(2.9, "ppt", {"kpa": 210.0, "stage": "after", "ramp_kpa_s": 30.0, "repeats": [205.0, 215.0],
                                   "trials": [{"ppt_kpa": 205.0, "rate_kpa_s": 29.0},
                                              {"ppt_kpa": 215.0, "rate_kpa_s": 31.0}]})
    listener.on_application_end(3.0, "completed", {"cycles": 1})
    listener.close()
    assert listener.error is None and listener.fault is None

    app = listener.last_application_id
    row = store.application(app)
    assert (row["band_low_kpa"], row["band_high_kpa"], row["ppt_id"]) == (100.0, 140.0, ppt_before)
    assert row["end_reason"] == "completed" and row["t_end_s"] == 3.0
    after = store.session_ppt(point, session)["after"]
    assert [r["kpa"] for r in after] == [210.0] and after[0]["repeats"] == [205.0, 215.0]
    assert after[0]["calibration_id"] == row["calibration_id"] is not None
    ppt = store.query("SELECT * FROM ppt WHERE application_id=?", (app,))[0]
    assert (ppt["n"], ppt["measured_rate_kpa_s"], ppt["censored"], ppt["protocol"]) == (2, 30.0, 0, "holds")
    assert [(r["value"], r["stage"]) for r in store.query("SELECT value, stage FROM pain WHERE application_id=?",
                                                          (app,))] == [(4, "during")]
    assert len(store.application_cautions(app)) == 1
    assert len(store.samples(app)) == 300 and store.metrics(app)["peak_kpa"] == 120.0

    writes = [(who, verb) for who, verb in store.callers if verb not in ("SELECT", "PRAGMA")]
    assert {verb for _, verb in writes} >= {"INSERT", "UPDATE"}
    assert {who for who, _ in store.callers} == {"pointdose.records.store"}, store.callers
    store.close()


def test_the_listener_module_runs_no_sql():
    """Also by reading it: no ``execute`` call and no SQL text in records/listener.py."""
    tree = ast.parse(Path(listener_mod.__file__).read_text(encoding="utf-8"))
    calls = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in ("execute", "executemany")]
    sql = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
           and n.value.lstrip().upper().startswith(("SELECT ", "INSERT ", "UPDATE ", "DELETE "))]
    assert calls == [] and sql == []
