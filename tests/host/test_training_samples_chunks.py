"""A training trial's samples are stored as the records store an application's: the chunk format
and reader of records/chunks.py; older databases (one NumPy blob per trial) are moved over."""

from __future__ import annotations

import io
import sqlite3
import uuid
import zlib

import numpy as np
import pytest

from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records import Store, chunks, schema
from pointdose.training import Block, Drill, Schedule
from pointdose.training.runner import TrialRecord
from pointdose.training.store import TrainingStore


def _rows(n=700, area=1.0, seed=3):
    rng = np.random.default_rng(seed)
    rows = np.zeros(n, SAMPLE_DTYPE)
    rows["seq"] = 1000 + np.arange(n)
    rows["segment"] = np.where(np.arange(n) < 400, 2, 3)  # a device reboot mid-trial: two segments
    rows["seq"][400:] -= 1395  # the new segment counts from 5
    rows["t_s"] = 5000.0 + np.arange(n) / 200.0
    rows["pressure_kpa"] = 200.0 + rng.normal(0, 20, n)
    rows["force_n"] = rows["pressure_kpa"] * area / 10.0
    rows["raw"] = (42000 + rows["force_n"] * 14000).round()
    return rows


def _trial(ts, rows, area=1.0):
    ts.add_student("S-01")
    session = ts.start_session("S-01")
    block = Block("practice", Drill(target=200.0, probe_area_cm2=area), Schedule.constant())
    ts.begin_block(session, 0, block)
    rec = TrialRecord(uid=str(uuid.uuid4()), block_uid=block.uid, block="practice", number=1,
                      t_start=float(rows["t_s"][0]), planned_feedback=True, rows=rows)
    ts.save_trial(rec)
    return rec


def _same(got, want):
    for col in ("seq", "segment", "raw"):
        np.testing.assert_array_equal(got[col], want[col])
    np.testing.assert_allclose(got["t_s"], want["t_s"], atol=1e-5)  # float32 offsets within a chunk
    np.testing.assert_allclose(got["pressure_kpa"], want["pressure_kpa"], rtol=1e-6)
    np.testing.assert_allclose(got["force_n"], want["force_n"], rtol=1e-6)


def test_trial_samples_round_trip_through_the_records_chunk_reader(tmp_path):
    ts = TrainingStore.open(tmp_path / "records.sqlite")
    rows = _rows(area=2.0)
    rec = _trial(ts, rows, area=2.0)
    stored = ts.store.query("SELECT data, n, first_seq, t0_s, segment FROM training_sample_chunks "
                            "WHERE trial_uid=? ORDER BY id", (rec.uid,))
    assert [(r["segment"], r["n"]) for r in stored] == [(2, 400), (3, 300)]  # one chunk per segment
    via_reader = chunks.read([(r["data"], r["n"], r["first_seq"], r["t0_s"], r["segment"]) for r in stored], 2.0)
    _same(via_reader, rows)
    _same(ts.trial_samples(rec.uid), rows)
    assert ts.store.query("SELECT samples, n_samples FROM training_trials WHERE uid=?", (rec.uid,)) == \
        [{"samples": None, "n_samples": 700}]
    # saved again (the student asked for the result afterwards): the samples are not written twice
    rec.requested_after = True
    ts.save_trial(rec)
    assert len(ts.store.query("SELECT id FROM training_sample_chunks WHERE trial_uid=?", (rec.uid,))) == 2
    # … and an application's samples are the same bytes read the same way
    client = ts.store.add_client("C-1")
    session = ts.store.start_session(client)
    app = ts.store.begin_application(session, ts.store.point(client, "upper_trapezius.1", "L"), t_start_s=0.0,
                                     probe_area_cm2=2.0)
    with ts.store.transaction("test") as conn:
        ts.store.write_samples(conn, app, rows)
    app_chunks = ts.store.query("SELECT data FROM sample_chunks WHERE application_id=? ORDER BY id", (app,))
    assert [r["data"] for r in app_chunks] == [r["data"] for r in stored]
    np.testing.assert_array_equal(ts.store.samples(app), ts.trial_samples(rec.uid))
    ts.close()


def _old_blob(rows):
    """Step 3's format, as pointdose wrote it before step 7."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(rows, dtype=SAMPLE_DTYPE), allow_pickle=False)
    return b"\x01" + zlib.compress(buf.getvalue(), 1)


def test_an_older_training_database_keeps_its_samples(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, upto=6)
    conn.execute("INSERT INTO clients (id, code, role, created_at) VALUES (1, 'S-01', 'student', '2025-01-01')")
    conn.execute("INSERT INTO training_sessions (uid, client_id, station, started_at) VALUES ('s', 1, 'x', '2025')")
    drill = '{"probe_area_cm2": 1.0, "target": 200.0}'
    conn.execute("INSERT INTO training_blocks (uid, session_uid, position, kind, drill, schedule, quantity, target, "
                 "band_lo, band_hi, surface, started_at) VALUES ('b', 's', 0, 'practice', ?, '{}', 'pressure', 200, "
                 "180, 220, 'pad', '2025')", (drill,))
    rows = _rows()
    conn.execute("INSERT INTO training_trials (uid, block_uid, number, samples, n_samples) VALUES ('t1', 'b', 1, ?, ?)",
                 (_old_blob(rows), len(rows)))
    conn.execute("INSERT INTO training_trials (uid, block_uid, number) VALUES ('t2', 'b', 2)")  # imported: no samples
    conn.close()

    ts = TrainingStore(Store(path))
    assert any(name.startswith("7:") for name in ts.store.migrated)
    _same(ts.trial_samples("t1"), rows)
    assert len(ts.trial_samples("t2")) == 0
    assert ts.store.query("SELECT COUNT(*) AS n FROM training_trials WHERE samples IS NOT NULL") == [{"n": 0}]
    with pytest.raises(Exception, match="no trial"):
        ts.trial_samples("nope")
    ts.close()
