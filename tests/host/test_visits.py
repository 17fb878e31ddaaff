"""Visits (issue 12): a client's applications in one sitting form one session, so PPT and pain
before → after pair — through the terminal (`pointdose session`), and by the store's rule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from pointdose.cli import main
from pointdose.errors import UserError
from pointdose.records import Store
from pointdose.records.recording import open_recording, visit_session


def session(db, *extra):
    argv = ["session", "--sim", "--hand", "expert", "--headless", "--mute", "--client", "V1",
            "--point", "upper trapezius L", "--db", str(db), "--seconds", "60", *extra]
    return main(argv)


def test_terminal_ppt_compression_ppt_pair_in_one_visit(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    db = tmp_path / "r.sqlite"
    ppt = ["--protocol", "ppt", "--set", "trials=1", "--set", "familiarisation=0"]
    assert session(db, *ppt) == 0
    assert session(db, "--protocol", "ischemic", "--set", "hold_s=5", "--set", "release_s=1",
                   "--hand-release", "3") == 0
    assert session(db, *ppt) == 0
    out = capsys.readouterr().out
    assert "visit 1 (new)" in out and out.count("visit 1 (continued") == 2
    with Store(db) as store:
        assert len(store.query("SELECT id FROM sessions")) == 1
        (point,) = store.query("SELECT id, label, side FROM points")
        assert (point["label"], point["side"]) == ("upper trapezius", "L")
        ppts = store.session_ppt(point["id"], 1)
        assert len(ppts["before"]) == 1 and len(ppts["after"]) == 1
        (comp,) = [a for a in store.applications(session_id=1) if a["protocol"] == "ischemic"]
        assert comp["band_low_kpa"] is not None and comp["ppt_id"] is not None  # 100 %PPT from the visit's PPT
    assert main(["history", "--client", "V1", "--db", str(db), "--json"]) == 0
    text = capsys.readouterr().out
    (hist,) = json.loads(text)
    assert {e["session_id"] for e in hist["entries"]} == {1}
    entry = hist["entries"][0]  # history shows a session's PPTs on its first application
    pair = entry["within_session"]  # before → after, from the two PPT runs around the compression
    assert pair["before_kpa"] is not None and pair["after_kpa"] is not None and entry["ppt_after_kpa"] is not None
    # a new visit on request
    assert session(db, *ppt, "--visit", "new") == 0
    assert "visit 2 (new)" in capsys.readouterr().out


def test_a_visit_is_continued_within_the_window_only(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        cid, other = store.add_client("W1"), store.add_client("W2")
        sid = store.start_session(cid)
        now = datetime.now(timezone.utc)
        assert store.open_visit(cid, 1800, now=now) == sid
        assert store.open_visit(cid, 1800, now=now + timedelta(minutes=31)) is None
        pid = store.point(cid, "unplaced", "L", label="trap")
        app = store.begin_application(sid, pid, t_start_s=100.0, probe_area_cm2=1.0)
        store.end_application(app, 100.0 + 25 * 60, "completed")  # a 25-minute application
        assert store.open_visit(cid, 1800, now=now + timedelta(minutes=50)) == sid  # 25 min after its end
        store.end_session(sid)
        assert store.open_visit(cid, 1800, now=now) is None  # an ended session is never continued
        assert visit_session(store, cid, str(sid))[0] == sid  # … unless named
        with pytest.raises(UserError, match="another client's"):
            visit_session(store, other, sid)
        with pytest.raises(UserError, match="session id"):
            visit_session(store, cid, "yesterday")
        assert visit_session(store, cid, None, create=False) == (None, "a new visit")
    rec = open_recording(db_path=tmp_path / "r.sqlite", client_code="W1", visit="new")
    try:
        assert rec.session_id not in (None, sid) and "(new)" in rec.where
    finally:
        rec.close()


def test_visit_without_a_client_is_one_clear_line(tmp_path, capsys):
    assert main(["session", "--sim", "--visit", "3", "--db", str(tmp_path / "r.sqlite")]) != 0
    err = capsys.readouterr().err
    assert "--visit needs --client" in err and "Traceback" not in err


def test_the_app_joins_visits_by_the_same_rule(tmp_path):
    """The app (a client and point picked on the Points tab, published through records.selection)
    files applications by visit_session too: the first recording starts a visit, the next ones join
    it while it is open (so PPT before/after pair), a lapsed one is not continued, a session the
    user chose is used as it is."""
    from pointdose.records import selection
    from pointdose.records.recording import selection_visit

    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        cid = store.add_client("A1")
        pid = store.point(cid, "upper_trapezius.1", "L")
    selection.clear()
    try:
        sel = selection.update(db_path=str(db), client_id=cid, client_code="A1", point_id=pid, point_label="trap")
        assert sel.ready  # a client and a point: no session needs choosing first (before: 'unassigned')
        ids = []
        for _ in range(2):
            rec = open_recording()
            ids.append(rec.session_id)
            rec.store.end_application(rec.store.begin_application(rec.session_id, pid, t_start_s=0.0,
                                                                  probe_area_cm2=1.0), 5.0, "completed")
            rec.close()
        assert ids[0] is not None and ids == [ids[0]] * 2
        with Store(db) as store:
            assert selection_visit(store, selection.current()) == (ids[0], f"visit {ids[0]} (continued: the last "
                                                                            "application ended under 30 min ago)")
            assert [s["client_id"] for s in store.sessions(cid)] == [cid]  # one visit, nobody 'unassigned'
            store.end_session(ids[0])  # the visit is over: the next recording starts a new one
        rec = open_recording()
        assert rec.session_id not in (None, ids[0]) and "(new)" in rec.where
        rec.close()
        selection.update(visit=ids[0])  # the user picked the old session in the list: used as it is
        rec = open_recording()
        assert rec.session_id == ids[0] and "continued" in rec.where
        rec.close()
    finally:
        selection.clear()
