"""PPTs belong to one client's point; screening is the client's, dated; cautions are kept per application."""

import json
import sqlite3

import numpy as np
import pytest

from pointdose.errors import UserError
from pointdose.records import Store, schema
from pointdose.records.listener import RecordingListener
from pointdose.records.ppt import import_points_file, legacy_note, lookup


def make_v4_with_a_ppt(path):
    """A database as pointdose wrote it before step 5: a PPT row with its trials as JSON."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    schema.migrate(con, upto=4)
    con.execute("INSERT INTO clients (id, code, role, created_at) VALUES (1, 'OLD-1', 'client', '2026-01-01T10:00:00+00:00')")
    con.execute("INSERT INTO sessions (id, client_id, started_at) VALUES (1, 1, '2026-01-01T10:00:00+00:00')")
    con.execute("INSERT INTO points (id, client_id, location, side, label, created_at) VALUES "
                "(1, 1, 'upper_trapezius.1', 'L', 'Upper trapezius TrP1', '2026-01-01T10:00:00+00:00')")
    con.execute("INSERT INTO ppt (point_id, session_id, kpa, probe_area_cm2, ramp_kpa_s, repeats, measured_at) VALUES "
                "(1, 1, 258.0, 1.0, 50.0, '[250.0, 260.0, 264.0]', '2026-01-01T10:05:00+00:00')")
    con.close()


def test_step_5_migrates_a_v4_database_and_keeps_its_ppt(tmp_path):
    db = tmp_path / "records.sqlite"
    make_v4_with_a_ppt(db)
    with Store(db) as store:
        assert store.schema_version() == schema.LATEST >= 5
        assert store.migrated == [m.name for m in schema.MIGRATIONS[4:]]  # step 5 and any later ones
        assert store.backup_before_migration.exists()
        row = store.query("SELECT kpa, n, censored, source FROM ppt")[0]
        assert row == {"kpa": 258.0, "n": 3, "censored": 0, "source": "measured"}  # n from the stored trials
        found = lookup(store, 1, 1.0)
        assert found.record.kpa == 258.0 and found.line().startswith("PPT 258 kPa, measured 2026-01-01, this client")
        assert store.screening(1) == {"active": None, "answers": {}, "screened_at": None}
        assert store.integrity_check() == "ok"
    with sqlite3.connect(store.backup_before_migration) as old:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 4


def test_a_ppt_is_one_clients_never_anothers_with_the_same_point_name(tmp_path):
    """Issue 10: client "Other", never measured, was treated at client "Test"'s 258 kPa."""
    with Store(tmp_path / "r.sqlite") as store:
        test, other = store.add_client("Test"), store.add_client("Other")
        s1 = store.start_session(test)
        p_test = store.point(test, "upper_trapezius.1", "L")
        store.add_ppt(p_test, s1, 258.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3, protocol="ppt")
        assert store.find_point(other, "upper_trapezius.1:L") is None  # Other has no such point yet
        p_other = store.point(other, "upper_trapezius.1", "L")
        assert store.find_point(other, "upper_trapezius.1:L") == p_other
        assert lookup(store, p_other, 1.0) is None
        # Other's own PPT never overwrites Test's
        s2 = store.start_session(other)
        store.add_ppt(p_other, s2, 140.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3)
        assert lookup(store, p_test, 1.0).record.kpa == 258.0
        assert lookup(store, p_other, 1.0).record.kpa == 140.0


def test_incomplete_or_censored_ppts_are_not_used_and_the_probe_matters(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        cid = store.add_client("C")
        sid = store.start_session(cid)
        pid = store.point(cid, "infraspinatus.1", "R")
        store.add_ppt(pid, sid, 200.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3)
        store.add_ppt(pid, sid, 150.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=2, planned=3)  # stopped early
        store.add_ppt(pid, sid, 120.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3, censored=True)
        assert lookup(store, pid, 1.0).record.kpa == 200.0
        store.add_ppt(pid, sid, 90.0, probe_area_cm2=0.5, ramp_kpa_s=50.0, n=3, planned=3)
        assert lookup(store, pid, 1.0).record.kpa == 200.0  # same probe preferred
        assert lookup(store, pid, 0.5).record.kpa == 90.0
        assert lookup(store, pid, 2.0).record.probe_area_cm2 in (1.0, 0.5)  # the caller says: measure again
        with pytest.raises(UserError, match="positive"):
            store.add_ppt(pid, sid, float("nan"), probe_area_cm2=1.0, ramp_kpa_s=None)


def test_screening_is_stored_dated_combinable_and_the_newest_answer_counts(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        cid = store.add_client("C")
        store.add_screening(cid, {"anticoagulants": True, "suspected-dvt": True, "pregnancy": False})
        got = store.screening(cid)
        assert got["active"] == ["anticoagulants", "suspected_dvt"] and got["screened_at"]
        store.add_screening(cid, {"suspected_dvt": False}, note="ultrasound clear")
        got = store.screening(cid)
        assert got["active"] == ["anticoagulants"] and got["answers"]["suspected_dvt"]["note"] == "ultrasound clear"
        assert len(store.query("SELECT * FROM screening WHERE client_id=?", (cid,))) == 4  # history kept
        with pytest.raises(UserError, match="unknown screening item 'asthma'"):
            store.add_screening(cid, {"asthma": True})
        store.erase_client("C")
        assert store.query("SELECT COUNT(*) AS n FROM screening")[0]["n"] == 0


def test_the_listener_keeps_the_ppt_provenance_and_the_acknowledged_cautions(tmp_path):
    from pointdose.listeners import SAMPLE_DTYPE

    with Store(tmp_path / "r.sqlite") as store:
        cid = store.add_client("C")
        sid = store.start_session(cid)
        pid = store.point(cid, "upper_trapezius.1", "L")
        old = store.add_ppt(pid, sid, 100.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3)
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        cautions = {"findings": [{"key": "anticoagulants", "origin": "screening", "action": "acknowledge",
                                  "text": "Anticoagulants: …", "max_kpa": 200.0, "max_hold_s": 60.0}],
                    "acknowledged": True, "confirmed": False}
        listener.on_application_start({"point_id": pid, "protocol": "ppt", "probe_area_cm2": 1.0, "t_s": 0.0,
                                       "ppt_id": old, "cautions": cautions})
        rows = np.zeros(10, SAMPLE_DTYPE)
        rows["t_s"] = np.arange(10) * 0.1
        listener.on_samples(rows)
        trials = [{"trial": 1, "ppt_kpa": 110.0, "rate_kpa_s": 48.0}, {"trial": 2, "ppt_kpa": 120.0, "rate_kpa_s": 52.0},
                  {"trial": 3, "ppt_kpa": None, "rate_kpa_s": 30.0, "reason": "max time"}]
        listener.on_event(0.9, "ppt", {"kpa": 115.0, "ramp_kpa_s": 50.0, "repeats": [110.0, 120.0], "sd_kpa": 7.1,
                                       "n": 2, "planned": 3, "trials": trials})
        listener.on_application_end(1.0, "completed", {})
        listener.close()
        app = store.query("SELECT id, ppt_id FROM applications")[0]
        assert app["ppt_id"] == old
        (ack,) = store.application_cautions(app["id"])
        assert ack["key"] == "anticoagulants" and ack["acknowledged"] == 1 and ack["max_kpa"] == 200.0
        new = store.query("SELECT * FROM ppt WHERE application_id=?", (app["id"],))[0]
        assert (new["protocol"], new["n"], new["planned"], new["censored"]) == ("ppt", 2, 3, 1)
        assert new["measured_rate_kpa_s"] == pytest.approx(50.0) and new["sd_kpa"] == 7.1
        assert lookup(store, pid, 1.0).record.kpa == 100.0  # the incomplete, censored one is not used


def write_points_file(path):
    path.write_text(json.dumps({"version": 1, "points": {
        "upper trapezius L": {"ppt": {"kpa": 258.0, "probe_area_cm2": 1.0, "rate_kpa_s": 50.0, "n": 3,
                                      "measured": "2026-11-20T10:00:00+00:00"},
                              "history": [{"kpa": 240.0, "probe_area_cm2": 1.0, "n": 3,
                                           "measured": "2026-11-10T10:00:00+00:00"}]},
        "infraspinatus.1:R": {"ppt": {"kpa": 180.0, "probe_area_cm2": 1.0}}}}))


def test_the_old_points_file_goes_to_unassigned_unless_a_client_is_named_and_is_never_changed(tmp_path):
    pf = tmp_path / "points.json"
    write_points_file(pf)
    before = pf.read_bytes()
    assert "not used" in legacy_note("upper trapezius L", pf) and legacy_note("elsewhere", pf) is None
    with Store(tmp_path / "r.sqlite") as store:
        real = store.add_client("Test")
        code, n = import_points_file(store, pf)
        assert (code, n) == ("unassigned", 3)
        assert store.points(real) == []  # never silently into a real client
        un = store.client("unassigned")["id"]
        pid = store.find_point(un, "upper trapezius L")
        found = lookup(store, pid, 1.0)
        assert found.record.kpa == 258.0 and "imported from the old points file 2026-11-20" in found.line()
        code, n = import_points_file(store, pf, client_code="Test")
        assert code == "Test" and lookup(store, store.find_point(real, "infraspinatus.1:R"), 1.0).record.kpa == 180.0
        with pytest.raises(UserError, match="no client 'Nobody'"):
            import_points_file(store, pf, client_code="Nobody")
    assert pf.read_bytes() == before


def test_export_round_trip_keeps_screening_ppt_provenance_and_cautions(tmp_path):
    from pointdose.records.exporting import export_client, import_client

    with Store(tmp_path / "a.sqlite") as store:
        cid = store.add_client("X-1")
        store.add_screening(cid, {"anticoagulants": True, "pregnancy": False})
        sid = store.start_session(cid)
        pid = store.point(cid, "upper_trapezius.1", "L")
        ppt_id = store.add_ppt(pid, sid, 180.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3, sd_kpa=9.0,
                               measured_rate_kpa_s=49.0, protocol="ppt")
        app = store.begin_application(sid, pid, t_start_s=0.0, probe_area_cm2=1.0, protocol="holds")
        store.query("UPDATE applications SET ppt_id=? WHERE id=?", (ppt_id, app))
        store.add_application_cautions(app, {"findings": [{"key": "anticoagulants", "origin": "screening",
                                                           "action": "acknowledge", "text": "t", "max_kpa": 200.0}],
                                             "acknowledged": True})
        (f,) = export_client(store, "X-1", tmp_path / "out", formats=["json"])
    with Store(tmp_path / "b.sqlite") as target:
        new = import_client(target, f)
        assert target.screening(new)["active"] == ["anticoagulants"]
        (app,) = target.applications(client_id=new)
        found = lookup(target, app["point_id"], 1.0)
        assert app["ppt_id"] == found.ppt_id and found.record.sd_kpa == 9.0
        assert target.query("SELECT measured_rate_kpa_s FROM ppt")[0]["measured_rate_kpa_s"] == 49.0
        assert target.application_cautions(app["id"])[0]["acknowledged"] == 1


def test_the_engines_censored_flag_is_kept_and_such_a_ppt_is_not_used(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        cid = store.add_client("C")
        sid = store.start_session(cid)
        pid = store.point(cid, "infraspinatus.1", "L")
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        listener.on_application_start({"point_id": pid, "protocol": "ppt", "probe_area_cm2": 1.0, "t_s": 0.0})
        trials = [{"trial": 1, "ppt_kpa": 400.0, "rate_kpa_s": 50.0, "censored": False},
                  {"trial": 2, "ppt_kpa": 410.0, "rate_kpa_s": 50.0, "censored": True}]
        listener.on_event(0.5, "ppt", {"kpa": 405.0, "ramp_kpa_s": 50.0, "repeats": [400.0, 410.0], "n": 2,
                                       "planned": 2, "trials": trials, "censored": True})
        listener.on_application_end(1.0, "completed", {})
        listener.close()
        assert store.query("SELECT censored FROM ppt")[0]["censored"] == 1
        assert lookup(store, pid, 1.0) is None  # a threshold above the ceiling is not a PPT to scale targets by
