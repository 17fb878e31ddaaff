"""The records store: file mode, refusal of newer/foreign/damaged files, locks, a full disk,
erasure, backup and the listener's bookkeeping."""

import os
import sqlite3
import stat

import numpy as np
import pytest

from pointdose.records import NewerDatabaseError, RecordingListener, Store, StoreError, schema
from pointdose.records.demo import hold_profile, make_demo, record, synth_rows


@pytest.fixture
def db(tmp_path):
    return tmp_path / "records.sqlite"


def test_new_file_is_owner_only_whatever_the_umask(db):
    old = os.umask(0)
    try:
        with Store(db) as store:
            store.add_client("C-1")
    finally:
        os.umask(old)
    for path in db.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_wal_and_schema_version(db):
    with Store(db) as store:
        assert store.schema_version() == schema.LATEST
        assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_newer_database_is_refused_and_left_alone(db):
    with Store(db) as store:
        store.add_client("C-1")
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {schema.LATEST + 3}")
    con.close()
    before = _snapshot(db.parent)
    with pytest.raises(NewerDatabaseError, match="newer pointdose.*Nothing was changed"):
        Store(db)
    assert _snapshot(db.parent) == before


def test_damaged_file_is_refused_unchanged(db):
    db.write_bytes(b"this is not sqlite at all" * 100)
    before = _snapshot(db.parent)
    with pytest.raises(StoreError, match="damaged or is not a pointdose records database.*backup"):
        Store(db)
    assert _snapshot(db.parent) == before


def test_foreign_sqlite_file_is_refused_unchanged(db):
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.commit()
    con.close()
    before = _snapshot(db.parent)
    with pytest.raises(StoreError, match="not a pointdose records database.*invoices"):
        Store(db)
    assert _snapshot(db.parent) == before


def test_readonly_open_of_a_missing_file_says_what_to_do(db):
    with pytest.raises(StoreError, match="no records database.*--db"):
        Store(db, readonly=True)
    assert not db.exists()


def test_locked_database_gives_a_clear_error(db):
    with Store(db) as store:
        store.add_client("C-1")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with Store(db, timeout_s=0.2) as store:
            with pytest.raises(StoreError, match="locked by another program"):
                store.add_client("C-2")
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_full_disk_keeps_samples_in_memory_until_space_returns(db):
    store = Store(db)
    cid = store.add_client("C-1")
    sid = store.start_session(cid)
    point = store.point(cid, "gluteus_medius.2", "R")
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    rows = synth_rows(hold_profile(200.0, hold_s=20.0), 500.0, seed=3)
    listener.on_application_start({"point": point, "probe_area_cm2": 1.0, "t_s": float(rows["t_s"][0])})
    listener.on_samples(rows[:1000])
    assert listener.flush() and listener.pending_samples() == 0
    pages = store.query("PRAGMA page_count")[0]["page_count"]
    store.query(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    for i in range(1000, len(rows), 500):
        listener.on_samples(rows[i:i + 500])
        listener.flush()
    assert listener.error is not None and "disk holding" in str(listener.error) and "full" in str(listener.error)
    assert listener.pending_samples() == len(rows) - 1000  # nothing dropped
    listener.on_application_end(float(rows["t_s"][-1]), "completed", {})
    store.query("PRAGMA max_page_count = 1000000")  # space freed
    assert listener.flush() and listener.error is None
    saved = store.samples(listener.last_application_id)
    assert np.array_equal(saved["seq"], rows["seq"])
    assert store.application(listener.last_application_id)["end_reason"] == "completed"
    store.close()


def test_store_level_full_disk_message(db):
    with Store(db) as store:
        pages = store.query("PRAGMA page_count")[0]["page_count"]
        store.query(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match="full.*free some space"):
            for i in range(5000):  # codes are at most 32 characters: the notes fill the pages
                store.add_client(f"C-{i:04d}", notes="x" * 300)


def test_erasure_removes_every_trace_of_the_client(db):
    with Store(db) as store:
        make_demo(store, "ERASE-ME", sessions=2)
        store.add_note(store.client("ERASE-ME")["id"], "Zyxwvut note about the client")
        keep = make_demo(store, "KEEP-ME", sessions=1)
        counts = store.erase_client("ERASE-ME")
        assert counts["applications"] == 6 and counts["sample_chunks"] > 0
        assert [c["code"] for c in store.clients()] == ["KEEP-ME"]
        assert len(store.applications(client_id=keep)) == 3
        for table in ("sessions", "points", "applications", "sample_chunks", "events", "ppt", "pain", "notes"):
            orphans = store.query(f"SELECT COUNT(*) AS n FROM {table} WHERE " + {
                "sessions": "client_id NOT IN (SELECT id FROM clients)",
                "points": "client_id NOT IN (SELECT id FROM clients)",
                "notes": "client_id NOT IN (SELECT id FROM clients)",
            }.get(table, "1=1 AND " + ("application_id NOT IN (SELECT id FROM applications)"
                                       if table in ("sample_chunks", "events") else
                                       "session_id NOT IN (SELECT id FROM sessions)")))[0]["n"]
            assert orphans == 0, table
        assert store.integrity_check() == "ok"
    data = b"".join(p.read_bytes() for p in db.parent.iterdir())
    assert b"ERASE-ME" not in data and b"Zyxwvut" not in data
    assert b"KEEP-ME" in data


def test_backup_is_a_checked_owner_only_copy(db, tmp_path):
    with Store(db) as store:
        make_demo(store, "C-7", sessions=1)
        dest = store.backup(tmp_path / "b" / "copy.sqlite")
        with pytest.raises(StoreError, match="already exists"):
            store.backup(dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    with Store(dest, readonly=True) as copy:
        assert copy.integrity_check() == "ok"
        assert len(copy.applications()) == 3
        assert copy.samples(1).size == 9400


def test_listener_events_go_to_their_tables_and_metrics_are_cached(db):
    with Store(db) as store:
        cid = store.add_client("C-3")
        sid = store.start_session(cid)
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        rows = synth_rows(hold_profile(150.0, hold_s=10.0), 200.0, seed=1)
        app = record(listener, {"location": "piriformis.lateral", "side": "L"}, rows, ppt_before=180.0,
                     ppt_after=240.0, pain=(7, 3), params={"contact_kpa": 20.0, "band_kpa": [140, 160]})
        assert store.query("SELECT stage, kpa FROM ppt ORDER BY id") == [
            {"stage": "before", "kpa": 180.0}, {"stage": "after", "kpa": 240.0}]
        assert [r["value"] for r in store.query("SELECT value FROM pain ORDER BY id")] == [7, 3]
        cached = store.metrics(app)
        fresh = store.metrics(app, refresh=True)
        assert cached["contact_kpa"] == 20.0 and cached["band_kpa"] == [140.0, 160.0]
        assert cached["dose_kpa_s"] == pytest.approx(fresh.dose_kpa_s)
        assert cached["ppt_kpa"] == 180.0 and cached["above_ppt_s"] == 0.0
        point = store.point_row(store.application(app)["point_id"])
        assert (point["location"], point["side"]) == ("piriformis.lateral", "L")


def test_samples_without_an_application_are_not_kept_and_an_unended_one_is_closed(db):
    with Store(db) as store:
        cid = store.add_client("C-4")
        sid = store.start_session(cid)
        point = store.point(cid, "rhomboids.upper", "L")
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        rows = synth_rows(hold_profile(100.0, hold_s=5.0), 100.0)
        listener.on_samples(rows)  # before any start: there is nothing to attach them to
        listener.on_application_start({"point": point, "t_s": float(rows["t_s"][0])})
        listener.on_samples(rows)
        listener.on_application_start({"point": point, "t_s": float(rows["t_s"][-1]) + 5})  # first never ended
        listener.close()
        apps = store.applications(client_id=cid)
        assert [a["n_samples"] for a in apps] == [len(rows), 0]
        assert apps[0]["end_reason"] == "stopped" and apps[0]["t_end_s"] == pytest.approx(rows["t_s"][-1])
        assert apps[1]["end_reason"] is None  # still open when the listener closed


def test_bad_entries_are_refused_with_what_to_do(db):
    with Store(db) as store:
        with pytest.raises(StoreError, match="needs a code"):
            store.add_client("  ")
        store.add_client("C-1")
        with pytest.raises(StoreError, match="already a client"):
            store.add_client("C-1")
        with pytest.raises(StoreError, match="unknown role"):
            store.add_client("C-2", role="boss")
        with pytest.raises(ValueError, match="unknown body-map location"):
            store.point(1, "elbow.nowhere", "L")
        with pytest.raises(StoreError, match="needs a name"):
            store.point(1, "custom", "L", view="back", x=0.4, y=0.3)
        sid = store.start_session(1)
        with pytest.raises(StoreError, match="0 to 10"):
            store.add_pain(sid, 11, "after")
        with pytest.raises(StoreError, match="no client 'C-9'.*C-1"):
            store.client("C-9")


def test_the_session_runners_shapes(db):
    """What pointdose.session.runner hands on: a point *name*, engine events (phase_start/phase_end with
    "phase", cycle_done, pain_rating, a PPT protocol's "ppt" without a stage) and no session id."""
    from pointdose.records.history import point_history

    with Store(db) as store:
        listener = RecordingListener(store, autoflush=False)
        rows = synth_rows(hold_profile(150.0, hold_s=10.0, cycles=2), 100.0)
        t0 = float(rows["t_s"][0])

        def app(protocol, events, part):
            listener.on_application_start({"protocol": protocol, "params": {"name": protocol}, "point": "upper_trapezius.1:R",
                                           "region": None, "probe_area_cm2": 1.0, "t_s": float(part["t_s"][0]),
                                           "calibration": {"model": "linear", "counts_per_n": 2280.0, "zero": 8400.0}})
            listener.on_samples(part)
            for ev in events:
                listener.on_event(*ev)
            listener.on_application_end(float(part["t_s"][-1]), "completed", {"ok": True})
            listener.flush()  # autoflush=False: nothing is written before flush()
            return listener.last_application_id

        ppt = {"kpa": 210.0, "ramp_kpa_s": 50.0, "repeats": [200.0, 215.0, 215.0]}
        app("ppt", [(t0 + 1, "ppt", ppt)], rows[:300])
        treat = app("cycles", [(t0 + 4.0, "phase_start", {"phase": "hold", "label": "hold"}),
                               (t0 + 14.0, "phase_end", {"phase": "hold"}),
                               (t0 + 14.0, "phase_start", {"phase": "ramp"}), (t0 + 17.0, "cycle_done", {"cycle": 1}),
                               (t0 + 8.0, "pain_rating", {"value": 6, "stage": "during", "rating": 6}),
                               (t0 + 30.0, "phase_start", {"phase": "hold"}), (t0 + 40.0, "phase_end", {"phase": "hold"}),
                               (t0 + 43.0, "cycle_done", {"cycle": 2})], rows)
        app("ppt", [(t0 + 2, "ppt", dict(ppt, kpa=290.0))], rows[-300:])
        listener.close()
        assert store.client("unassigned")["notes"].startswith("recordings made before")
        m = store.metrics(treat)
        assert m["cycles_completed"] == 2 and len(m["hold_cv"]) == 2 and all(c < 0.05 for c in m["hold_cv"])
        assert m["ppt_kpa"] == 210.0  # the PPT application before the treatment is its "before"
        assert store.query("SELECT stage, value FROM pain") == [{"stage": "during", "value": 6}]
        (point,) = store.points(store.client("unassigned")["id"])
        assert (point["location"], point["side"]) == ("upper_trapezius.1", "R")
        entry = point_history(store, point["id"]).entries[0]
        assert (entry.ppt_before_kpa, entry.ppt_after_kpa) == (210.0, 290.0)
        # the client's own trials (200, 215, 215 twice): pooled SD √75, SEM √75/√3 = 5, MDC95 13.9 < 80
        assert entry.within_session.verdict == "beyond measurement error"
        assert entry.within_session.reliability.mdc95_kpa == pytest.approx(1.959963984540054 * 2 ** 0.5 * 5.0)
        # any other name is kept as an unplaced point, never dropped
        other = RecordingListener(store, autoflush=False)
        other.on_application_start({"point": "left shoulder, sore spot", "probe_area_cm2": 1.0, "t_s": t0})
        other.on_samples(rows[:200])
        other.on_application_end(float(rows["t_s"][199]), "stopped", {})
        other.close()
        assert other.error is None
        labels = {(p["location"], p["label"], p["side"]) for p in store.points(store.client("unassigned")["id"])}
        assert ("unplaced", "shoulder, sore spot", "L") in labels  # its side kept (bodymap.split_side)
        # and an application whose point nobody named is kept too (the Session tab with an empty field)
        unnamed = RecordingListener(store, autoflush=False)
        unnamed.on_application_start({"point": "", "probe_area_cm2": 1.0, "t_s": t0})
        unnamed.on_samples(rows[:100])
        unnamed.on_application_end(float(rows["t_s"][99]), "completed", {})
        unnamed.close()
        assert unnamed.error is None and len(store.samples(unnamed.last_application_id)) == 100
        labels = {(p["location"], p["label"]) for p in store.points(store.client("unassigned")["id"])}
        assert ("unplaced", "unnamed point") in labels
