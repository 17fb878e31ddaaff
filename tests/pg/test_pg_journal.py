"""A station that loses the server records to its journal and sends it when the server is back;
old stations' SQLite files merge into the server. Real server stopped and started (conftest)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from pointdose.cli import main
from pointdose.records import demo, pg
from pointdose.records.listener import RecordingListener
from pointdose.records.store import Store, StoreError

from test_pg_store import _history_json

TABLES = ("clients", "sessions", "points", "applications", "sample_chunks", "events", "ppt", "pain",
          "application_metrics")


def _counts(store: Store) -> dict[str, int]:
    return {t: store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in TABLES}


def _rows(t0: float, hold: float = 120.0, seed: int = 0) -> np.ndarray:
    return demo.synth_rows(demo.hold_profile(hold, hold_s=5.0), 200.0, t0_s=t0, seed=seed)


def test_losing_the_server_mid_application_loses_nothing(pg_cluster, pg_url, tmp_path):
    store = Store(pg_url, journal=tmp_path / "station.sqlite")
    cid = store.add_client("C-0101")
    sid = store.start_session(cid)
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    rows = _rows(10.0)
    n = len(rows)
    listener.on_application_start({"point": "upper_trapezius.1:L", "probe_area_cm2": 1.0, "t_s": 10.0,
                                   "calibration": demo.DEMO_CALIBRATION})
    listener.on_event(10.0, "ppt", {"kpa": 300.0, "stage": "before"})
    listener.on_samples(rows[: n // 3])
    assert listener.flush() and store.online
    pg_cluster.stop()  # the server goes away mid-application
    listener.on_samples(rows[n // 3: 2 * n // 3])
    listener.on_event(12.0, "pain", {"value": 3, "stage": "during"})
    assert listener.flush() and listener.fault is None  # written: to the journal
    assert not store.online and store.pending() > 0
    listener.on_samples(rows[2 * n // 3:])
    listener.on_application_end(float(rows["t_s"][-1]), "completed", {})
    assert listener.flush() and listener.fault is None
    first = listener.last_application_id
    assert listener.last_metrics is not None  # computed from the journal's copy: every sample of it
    offline_peak = listener.last_metrics.peak_kpa
    # a whole application recorded while the server is away, at a new point
    rows2 = _rows(100.0, hold=90.0, seed=1)
    second = demo.record(listener, "infraspinatus.1:R", rows2)
    listener.close()
    assert second >= pg.ID_BASE  # an id from this station's own range
    pending = store.pending()
    assert pending > 0
    pg_cluster.start()
    assert store.sync() == 0 and store.online
    # another station sees everything, in order, once
    with Store(pg_url, journal=tmp_path / "other.sqlite") as other:
        apps = other.applications(session_id=sid)
        assert [a["id"] for a in apps] == [first, second]
        assert [a["end_reason"] for a in apps] == ["completed", "completed"]
        got = other.samples(first)
        assert np.array_equal(got["seq"], rows["seq"]) and np.allclose(got["t_s"], rows["t_s"], atol=1e-4)
        assert len(other.samples(second)) == len(rows2)
        assert apps[0]["metrics"]["peak_kpa"] == offline_peak
        assert [p["kpa"] for p in other.session_ppt(apps[0]["point_id"], sid)["before"]] == [300.0]
        assert other.query("SELECT value, stage FROM pain") == [{"value": 3, "stage": "during"}]
        assert other.integrity_check() == "ok"
        before = _counts(other)
        # a sync cut short and run again (every journal row sent once more): nothing doubles
        jconn = store.conn.journal.conn
        for table in TABLES:
            key = "json_array(" + ", ".join(store.conn.journal.keys[table]) + ")"
            jconn.execute(f"INSERT OR IGNORE INTO journal_pending (tbl, key) SELECT '{table}', {key} FROM {table}")
        assert store.pending() > pending
        assert store.sync() == 0
        assert _counts(other) == before
    store.close()


def test_a_station_opened_while_the_server_is_away_records_and_sends_later(pg_cluster, pg_url, tmp_path):
    journal = tmp_path / "station.sqlite"
    with Store(pg_url, journal=journal) as store:  # it has met the server once: it has a station number
        cid = store.add_client("C-0102")
    pg_cluster.stop()
    with Store(pg_url, journal=journal) as store:
        assert not store.online
        assert store.client("C-0102")["id"] == cid  # what it wrote, it reads from its journal
        sid = store.start_session(cid)
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        app = demo.record(listener, "upper_trapezius.1:R", _rows(5.0), ppt_before=250.0)
        listener.close()
        assert store.pending() > 0
    pg_cluster.start()
    with Store(pg_url, journal=journal) as store:  # opening it sends the journal first
        assert store.online and store.pending() == 0
        # then keeps no samples of ended applications: the journal does not grow with the records
        assert store.conn.journal.conn.execute("SELECT COUNT(*) FROM sample_chunks").fetchone()[0] == 0
    with Store(pg_url, readonly=True) as reader:
        assert reader.applications(client_id=cid)[0]["id"] == app
        assert len(reader.samples(app)) == len(_rows(5.0))
        assert reader.session(sid)["client_id"] == cid


def test_two_stations_offline_with_the_same_new_client_join_on_the_server(pg_cluster, pg_url, tmp_path):
    for name in ("a", "b"):
        Store(pg_url, journal=tmp_path / f"{name}.sqlite").close()
    pg_cluster.stop()
    apps = {}
    for k, name in enumerate(("a", "b")):
        with Store(pg_url, journal=tmp_path / f"{name}.sqlite") as store:
            cid = store.add_client("C-0103")
            sid = store.start_session(cid)
            listener = RecordingListener(store, session_id=sid, autoflush=False)
            apps[name] = demo.record(listener, "upper_trapezius.1:L", _rows(10.0 * k, seed=k))
            listener.close()
    pg_cluster.start()
    for name in ("a", "b"):
        with Store(pg_url, journal=tmp_path / f"{name}.sqlite") as store:
            assert store.pending() == 0
    with Store(pg_url, readonly=True) as reader:
        assert len(reader.query("SELECT id FROM clients WHERE code='C-0103'")) == 1
        cid = reader.client("C-0103")["id"]
        assert sorted(a["id"] for a in reader.applications(client_id=cid)) == sorted(apps.values())
        assert len(reader.points(cid)) == 1  # the same point of the same client
        assert len(reader.sessions(cid)) == 2
        assert reader.integrity_check() == "ok"


START = datetime(2025, 9, 1, 9, 0, tzinfo=timezone.utc)


def test_old_station_files_merge_into_the_server_once(pg_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POINTDOSE_JOURNAL", str(tmp_path / "journal.sqlite"))
    files, expected = [], {}
    for k, codes in enumerate((("C-0201", "C-0300"), ("C-0202", "C-0300"))):
        path = tmp_path / f"station{k}.sqlite"
        with Store(path) as local:
            for code in codes:
                demo.make_demo(local, code, sessions=2, start=START)
            expected[codes[0]] = _history_json(local, codes[0])
        files.append(path)
    assert main(["records", "sync", "--from", str(files[0]), "--from", str(files[1]), "--db", pg_url]) == 0
    out = capsys.readouterr().out
    assert "added" in out and "joined existing 1 clients" in out  # C-0300 was on both stations
    with Store(pg_url, readonly=True) as server:
        for code, want in expected.items():
            assert _history_json(server, code) == want
        shared = server.client("C-0300")["id"]
        assert len(server.sessions(shared)) == 4 and len(server.points(shared)) == 3
        counts = _counts(server)
        assert server.integrity_check() == "ok"
    # again: nothing new
    assert main(["records", "sync", "--from", str(files[0]), "--db", pg_url]) == 0
    with Store(pg_url, readonly=True) as server:
        assert _counts(server) == counts
    # the station recorded more: only that is added
    with Store(files[0]) as local:
        cid = local.client("C-0201")["id"]
        sid = local.start_session(cid)
        listener = RecordingListener(local, session_id=sid, autoflush=False)
        demo.record(listener, "upper_trapezius.1:L", _rows(0.0))
        listener.close()
        local.end_session(sid)
        expected["C-0201"] = _history_json(local, "C-0201")
    assert main(["records", "sync", "--from", str(files[0]), "--db", pg_url]) == 0
    with Store(pg_url, readonly=True) as server:
        now = _counts(server)
        assert now["applications"] == counts["applications"] + 1 and now["sessions"] == counts["sessions"] + 1
        assert _history_json(server, "C-0201") == expected["C-0201"]
    assert main(["records", "check", "--db", pg_url]) == 0
    assert "integrity ok" in capsys.readouterr().out


def test_sync_needs_a_server_and_says_so(tmp_path, capsys):
    path = tmp_path / "records.sqlite"
    Store(path).close()
    assert main(["records", "sync", "--from", str(path), "--db", str(tmp_path / "other.sqlite")]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "postgresql://" in err
    assert not (tmp_path / "other.sqlite").exists()  # no stray records file is made to say so


def test_a_journal_belongs_to_one_server(pg_cluster, pg_url, tmp_path):
    journal = tmp_path / "station.sqlite"
    Store(pg_url, journal=journal).close()
    other = pg_cluster.new_database()
    with pytest.raises(StoreError, match="belongs to another records server"):
        Store(other, journal=journal)


def test_erasing_a_client_on_the_server_erases_the_stations_copy(pg_url, tmp_path):
    with Store(pg_url, journal=tmp_path / "station.sqlite") as store:
        keep = store.add_client("C-0104")
        gone = store.add_client("C-0105")
        for cid in (keep, gone):
            sid = store.start_session(cid)
            listener = RecordingListener(store, session_id=sid, autoflush=False)
            listener.on_application_start({"point": "upper_trapezius.1:L", "probe_area_cm2": 1.0, "t_s": 0.0})
            listener.on_samples(_rows(0.0))  # an application still open: its samples stay in the journal
            listener.close()
        store.add_note(gone, "private words")
        journal = store.conn.journal.conn
        assert journal.execute("SELECT COUNT(*) FROM sample_chunks").fetchone()[0] > 0
        store.erase_client("C-0105")
        assert store.query("SELECT COUNT(*) AS n FROM clients WHERE code='C-0105'")[0]["n"] == 0
        for table in ("clients", "sessions", "points", "applications", "notes"):
            assert journal.execute(f"SELECT COUNT(*) FROM {table} WHERE " +
                                   ("id=?" if table == "clients" else "client_id=?" if table in
                                    ("sessions", "points", "notes") else
                                    "session_id IN (SELECT id FROM sessions WHERE client_id=?)"),
                                   (gone,)).fetchone()[0] == 0
        apps = [r[0] for r in journal.execute("SELECT id FROM applications")]
        assert len(apps) == 1  # the other client's
        assert {r[0] for r in journal.execute("SELECT DISTINCT application_id FROM sample_chunks")} == set(apps)
    assert b"private words" not in (tmp_path / "station.sqlite").read_bytes()


def test_a_journal_the_server_refuses_is_kept_and_said(pg_cluster, pg_url, tmp_path):
    import psycopg

    journal = tmp_path / "station.sqlite"
    with Store(pg_url, journal=journal) as store:
        cid = store.add_client("C-0106")
    pg_cluster.stop()
    with Store(pg_url, journal=journal) as store:
        sid = store.start_session(cid)
        store.add_note(cid, "written while the server was away", session_id=sid)
        pg_cluster.start()
        with psycopg.connect(pg_url, autocommit=True) as conn:  # meanwhile the client was erased elsewhere
            conn.execute("DELETE FROM clients WHERE id = %s", (cid,))
        store.conn._next_try = 0.0
        with pytest.raises(StoreError, match="refused this station's journal"):
            store.sync()
        assert store.pending() > 0 and not store.online  # kept, and the station goes on in its journal
        store.add_note(cid, "still recorded")


def test_a_long_day_does_not_pile_samples_up_in_the_journal(pg_url, tmp_path, monkeypatch):
    monkeypatch.setattr(pg, "PRUNE_EVERY_S", 0.0)  # the setting: forget ended applications' samples at once
    with Store(pg_url, journal=tmp_path / "station.sqlite") as store:
        sid = store.start_session(store.add_client("C-0107"))
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        first = demo.record(listener, "upper_trapezius.1:L", _rows(0.0))
        listener.on_application_start({"point": "upper_trapezius.1:R", "probe_area_cm2": 1.0, "t_s": 100.0})
        listener.on_samples(_rows(100.0))
        listener.flush()
        journal = store.conn.journal.conn
        kept = {r[0] for r in journal.execute("SELECT DISTINCT application_id FROM sample_chunks")}
        assert first not in kept and kept  # the ended one is on the server only; the open one stays here
        assert len(store.samples(first)) == len(_rows(0.0))
        listener.close()


def test_the_app_and_a_command_of_one_station_share_its_journal_offline(pg_cluster, pg_url, tmp_path):
    import threading

    journal = tmp_path / "station.sqlite"
    with Store(pg_url, journal=journal) as store:
        cid = store.add_client("C-0108")
    pg_cluster.stop()
    stores = [Store(pg_url, journal=journal) for _ in range(2)]  # e.g. the app and `pointdose session`
    made, errors = [], []

    def record(store, k):
        try:
            sid = store.start_session(cid)
            listener = RecordingListener(store, session_id=sid, autoflush=False)
            for a in range(3):
                made.append(demo.record(listener, f"point {k}", _rows(10.0 * a, seed=k), block=20))
            listener.close()
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(s, k)) for k, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(made) == 6 and len(set(made)) == 6
    pg_cluster.start()
    assert stores[0].sync() == 0 and stores[1].pending() == 0
    for s in stores:
        s.close()
    with Store(pg_url, readonly=True) as reader:
        apps = reader.applications(client_id=cid)
        assert sorted(a["id"] for a in apps) == sorted(made)
        assert all(a["n_samples"] == len(_rows(0.0)) for a in apps)


def test_text_a_server_cannot_keep_is_refused_offline_too_so_the_journal_still_syncs(pg_cluster, pg_url, tmp_path):
    """PostgreSQL text cannot hold a NUL character. On the server such a note is refused; offline the
    journal took it and then every later sync failed on it (the station's records never arrived)."""
    journal = tmp_path / "station.sqlite"
    with Store(pg_url, journal=journal) as store:
        cid = store.add_client("C-0110")
        with pytest.raises(StoreError, match="NUL"):
            store.add_note(cid, "pasted\x00text")
    pg_cluster.stop()
    with Store(pg_url, journal=journal) as store:
        with pytest.raises(StoreError, match="NUL"):
            store.add_note(cid, "pasted\x00text")
        store.add_note(cid, "written while the server was away")
        assert store.pending() > 0
    pg_cluster.start()
    with Store(pg_url, journal=journal) as store:
        assert store.online and store.pending() == 0
        assert [n["text"] for n in store.query("SELECT text FROM notes WHERE client_id=?", (cid,))] == \
            ["written while the server was away"]
