"""The clinical record per point: findings, reference site, renaming and moving free-text points."""

import sqlite3

import pytest

from pointdose.records import RecordingListener, Store, StoreError, clinical, history, schema
from pointdose.records.demo import hold_profile, record, synth_rows


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "records.sqlite")
    yield s
    s.close()


def test_schema_step_6_adds_findings_changes_and_reference(tmp_path):
    db = tmp_path / "r.sqlite"
    con = sqlite3.connect(db, isolation_level=None)
    schema.migrate(con, upto=5)
    con.execute("INSERT INTO clients (id, code, role, created_at) VALUES (1, 'OLD', 'client', '2025-01-01')")
    con.execute("INSERT INTO points (id, client_id, location, side, label, created_at) VALUES "
                "(1, 1, 'unplaced', 'L', 'upper trap', '2025-01-01')")
    con.close()
    with Store(db) as s:
        assert s.schema_version() == schema.LATEST >= 6
        assert s.point_row(1)["reference_point_id"] is None
        assert s.query("SELECT COUNT(*) AS n FROM findings")[0]["n"] == 0
        assert s.query("SELECT COUNT(*) AS n FROM point_changes")[0]["n"] == 0
        assert s.integrity_check() == "ok"


def test_findings_are_stored_validated_and_read_back(store):
    cid = store.add_client("F-1")
    sid = store.start_session(cid)
    pid = store.point(cid, "upper_trapezius.1", "L")
    fid = clinical.add_finding(store, pid, sid, "Active", taut_band=True, local_twitch="no",
                               referred_text="  temple and  behind the eye ", referred_region="head")
    f = clinical.latest_finding(store, pid, sid)
    assert f.id == fid and f.kind == "active" and f.taut_band is True and f.local_twitch is False
    assert f.referred_text == "temple and behind the eye" and f.referred_region == "head"
    assert "active TrP" in f.short() and "taut band yes" in f.short() and "local twitch no" in f.short()
    clinical.add_finding(store, pid, sid, "latent", referred_region="upper_trapezius.2:R")
    newest = clinical.latest_finding(store, pid)
    assert newest.kind == "latent" and newest.taut_band is None
    assert "not examined" in newest.short() and "Upper trapezius TrP2 (R)" in newest.short()
    assert len(clinical.findings(store, point_id=pid)) == 2
    for bad, match in (({"kind": "maybe"}, "active, latent, none"),
                       ({"kind": "active", "taut_band": "perhaps"}, "yes, no or not examined"),
                       ({"kind": "active", "referred_region": "elbow"}, "neither a body-map location"),
                       ({"kind": "active", "referred_region": "upper_trapezius.1:X"}, "L, R or mid")):
        kind = bad.pop("kind")
        with pytest.raises(StoreError, match=match):
            clinical.add_finding(store, pid, sid, kind, **bad)
    other = store.add_client("F-2")
    with pytest.raises(StoreError, match="different clients"):
        clinical.add_finding(store, store.point(other, "upper_trapezius.1", "L"), sid, "none")
    assert len(clinical.findings(store, point_id=pid)) == 2  # nothing half-written


def test_reference_site_same_client_not_itself(store):
    cid = store.add_client("R-1")
    a = store.point(cid, "upper_trapezius.1", "L")
    b = store.point(cid, "upper_trapezius.1", "R")
    clinical.set_reference(store, a, b)
    assert clinical.reference(store, a)["id"] == b
    with pytest.raises(StoreError, match="its own reference"):
        clinical.set_reference(store, a, a)
    other = store.point(store.add_client("R-2"), "upper_trapezius.1", "L")
    with pytest.raises(StoreError, match="another client"):
        clinical.set_reference(store, a, other)
    clinical.set_reference(store, a, None)
    assert clinical.reference(store, a) is None


def _treat(store, cid, point_name, when, ppt):
    sid = store.start_session(cid, started_at=when)
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    rows = synth_rows(hold_profile(0.8 * ppt, hold_s=10.0), 50.0, seed=1)
    record(listener, point_name, rows, events=[(float(rows["t_s"][0]), "ppt", {"kpa": ppt, "stage": "before",
                                                                            "ramp_kpa_s": 50.0})])
    listener.close()
    return sid


def test_renaming_and_moving_a_free_text_point_keeps_its_history(store):
    cid = store.add_client("M-1")
    _treat(store, cid, "upper trap L", "2025-03-01T10:00:00+00:00", 200.0)
    pid = store.find_point(cid, "upper trap L")
    row = store.point_row(pid)
    assert (row["location"], row["side"], row["label"]) == ("unplaced", "L", "upper trap")
    clinical.rename_point(store, pid, "upper trapezius, lateral L")
    # placed on the patient's left: in the back view that is the viewer's left half
    moved = clinical.move_point(store, pid, "back", 0.40, 0.17)
    assert (moved["location"], moved["side"], moved["label"], moved["view"]) == \
        ("custom", "L", "upper trapezius, lateral", "back")
    # the next session under the new name lands on the same point, and history has both
    _treat(store, cid, "upper trapezius, lateral L", "2025-03-08T10:00:00+00:00", 230.0)
    assert store.find_point(cid, "upper trapezius, lateral L") == pid
    ph = history.point_history(store, pid)
    assert [e.ppt_before_kpa for e in ph.entries] == [200.0, 230.0]
    changes = clinical.point_changes(store, pid)
    assert [(c["old_location"], c["old_label"]) for c in changes] == \
        [("unplaced", "upper trap"), ("unplaced", "upper trapezius, lateral")]


def test_moving_and_renaming_refusals(store):
    cid = store.add_client("M-2")
    body = store.point(cid, "upper_trapezius.1", "L")
    with pytest.raises(StoreError, match="body-map location"):
        clinical.rename_point(store, body, "x")
    with pytest.raises(StoreError, match="body-map location"):
        clinical.move_point(store, body, "back", 0.4, 0.2)
    left = store.point(cid, "unplaced", "L", label="rhomboid")
    with pytest.raises(StoreError, match="right side"):
        clinical.move_point(store, left, "back", 0.7, 0.3)  # viewer's right in the back view = patient's right
    with pytest.raises(StoreError, match="from 0 to 1"):
        clinical.move_point(store, left, "back", 1.4, 0.3)
    with pytest.raises(StoreError, match="'front' or 'back'"):
        clinical.move_point(store, left, "side", 0.4, 0.3)
    store.point(cid, "unplaced", "L", label="levator")
    with pytest.raises(StoreError, match="already has a point"):
        clinical.rename_point(store, left, "levator L")
    with pytest.raises(StoreError, match="needs a name"):
        clinical.rename_point(store, left, "   ")
    clinical.move_point(store, left, "back", 0.3, 0.3)
    with pytest.raises(StoreError, match="already has a point"):  # placed, it still answers to the typed name
        clinical.rename_point(store, left, "levator L")
    with pytest.raises(StoreError, match="move it to the right side first"):
        clinical.rename_point(store, left, "rhomboid R")
    assert store.point_row(left)["label"] == "rhomboid"


def test_the_old_name_still_finds_a_renamed_point(store):
    cid = store.add_client("M-3")
    _treat(store, cid, "rhomboid R", "2025-03-01T10:00:00+00:00", 180.0)
    pid = store.find_point(cid, "rhomboid R")
    clinical.rename_point(store, pid, "rhomboid major R")
    sid = _treat(store, cid, "rhomboid R", "2025-03-08T10:00:00+00:00", 190.0)  # a terminal user typing the old name
    assert [a["point_id"] for a in store.applications(client_id=cid)] == [pid, pid]
    # the start of the next application by that name reads the same point the recording goes to: its PPT
    # for targets and its contact so far this session for the per-point cap
    from pointdose.protocols import builtin
    from pointdose.session.precheck import prepare

    assert store.find_point(cid, "rhomboid R") == pid
    ready = prepare(builtin("holds"), store=store, client_id=cid, point_name="rhomboid R", session_id=sid)
    assert ready.point.contact_s_before > 5.0 and ready.point.ppt is not None
    assert clinical.find_free_point(store, cid, "nothing like it") is None


def test_export_import_carries_findings_renames_and_reference(store, tmp_path):
    from pointdose.records.exporting import export_client, import_client

    cid = store.add_client("X-1")
    sid = _treat(store, cid, "upper trap L", "2025-03-01T10:00:00+00:00", 200.0)
    pid = store.find_point(cid, "upper trap L")
    clinical.rename_point(store, pid, "upper trapezius L")
    ref = store.point(cid, "upper_trapezius.1", "R")
    clinical.set_reference(store, pid, ref)
    clinical.add_finding(store, pid, sid, "active", taut_band=1, local_twitch=0, referred_text="temple",
                         referred_region="head")
    files = export_client(store, "X-1", tmp_path / "out", formats=["json"])
    with Store(tmp_path / "b.sqlite") as target:
        new = import_client(target, files[0])
        new_pid = target.find_point(new, "upper trapezius L")
        assert clinical.reference(target, new_pid)["label"] == "Upper trapezius TrP1"
        f = clinical.latest_finding(target, new_pid)
        assert (f.kind, f.taut_band, f.local_twitch, f.referred_text, f.referred_region) == \
            ("active", True, False, "temple", "head")
        assert [c["old_label"] for c in clinical.point_changes(target, new_pid)] == ["upper trap"]


def _ppt(store, pid, sid, trials, *, ramp=50.0, area=1.0, stage="before"):
    return store.add_ppt(pid, sid, sum(trials) / len(trials), probe_area_cm2=area, ramp_kpa_s=ramp, stage=stage,
                         repeats=list(trials))


def test_asymmetry_left_right_difference_and_ratio(store):
    cid = store.add_client("A-1")
    s1 = store.start_session(cid, started_at="2025-04-01T10:00:00+00:00")
    l_ = store.point(cid, "upper_trapezius.1", "L")
    r_ = store.point(cid, "upper_trapezius.1", "R")
    gl, gr = store.point(cid, "gastrocnemius.1", "L"), store.point(cid, "gastrocnemius.1", "R")
    only_left = store.point(cid, "infraspinatus.1", "L")
    fl, fr = store.point(cid, "unplaced", "L", label="deltoid"), store.point(cid, "unplaced", "R", label="deltoid")
    _ppt(store, l_, s1, [200, 210, 220])  # mean 210
    _ppt(store, r_, s1, [290, 300, 310])  # mean 300
    _ppt(store, gl, s1, [400], ramp=50.0)
    _ppt(store, gr, s1, [420], ramp=98.0)  # another ramp: not compared
    _ppt(store, only_left, s1, [300])
    _ppt(store, fl, s1, [350])
    _ppt(store, fr, s1, [350])
    rows = {a.site: a for a in clinical.asymmetry(store, cid, s1)}
    assert len(rows) == 3 and "Upper trapezius TrP1" in rows and "deltoid" in rows  # not the one-sided infraspinatus
    ut = rows["Upper trapezius TrP1"]
    assert ut.diff_kpa == pytest.approx(-90.0) and ut.ratio == pytest.approx(0.7)
    assert "L − R −90 kPa, L/R 0.70 (lower on the left)" in ut.line()
    gastro = next(a for a in rows.values() if a.left_point_id == gl)
    assert gastro.diff_kpa is None and "not compared" in gastro.line() and "ramp 50.0 vs 98.0" in gastro.line()
    assert rows["deltoid"].diff_kpa == 0 and rows["deltoid"].ratio == 1.0
    # without a session: each side's newest PPT
    s2 = store.start_session(cid, started_at="2025-04-08T10:00:00+00:00")
    _ppt(store, l_, s2, [260])
    newest = {a.site: a for a in clinical.asymmetry(store, cid)}
    assert newest["Upper trapezius TrP1"].diff_kpa == pytest.approx(-40.0)


def test_norm_and_reference_lines(store):
    cid = store.add_client("N-1")
    s1 = store.start_session(cid, started_at="2025-04-01T10:00:00+00:00")
    ut = store.point(cid, "upper_trapezius.1", "L")
    mass = store.point(cid, "masseter", "L")
    delt = store.point(cid, "custom", "R", label="deltoid", view="front", x=0.3, y=0.2)
    _ppt(store, ut, s1, [300])
    _ppt(store, delt, s1, [360])
    line = clinical.norm_line(store, ut, s1)
    assert line.startswith("PPT 300 kPa") and "Bordachar" in line and "0.6 SD below the mean" in line
    assert "Persson" in line and "within the healthy range" in line
    assert clinical.norm_line(store, mass, s1) == "PPT not measured · no norm"
    clinical.set_reference(store, ut, delt)
    assert clinical.reference_line(store, ut, s1) == \
        "deltoid (R): PPT 360 kPa (2025-04-01); this point − reference −60 kPa"
    assert clinical.reference_line(store, mass) is None


def test_trial_reliability_needs_two_sessions_then_matches_the_formulas(store):
    from pointdose.records import reliability as rel

    cid = store.add_client("T-1")
    pid = store.point(cid, "upper_trapezius.1", "L")
    s1 = store.start_session(cid, started_at="2025-05-01T10:00:00+00:00")
    _ppt(store, pid, s1, [300, 310, 320])
    view = clinical.trial_reliability(store, pid)
    assert not view.ok and view.message == "needs ≥ 2 sessions with PPT at this point"
    s2 = store.start_session(cid, started_at="2025-05-08T10:00:00+00:00")
    _ppt(store, pid, s2, [350, 340, 365, 370])  # 4 trials: the first 3 are used (k = fewest kept)
    _ppt(store, pid, s2, [500, 505], stage="after")  # the session's first PPT there counts
    s3 = store.start_session(cid, started_at="2025-05-15T10:00:00+00:00")
    _ppt(store, pid, s3, [280, 300, 290])
    s4 = store.start_session(cid, started_at="2025-05-22T10:00:00+00:00")
    _ppt(store, pid, s4, [900, 910, 905], ramp=98.0)  # another ramp; as the newest, it sets the conditions
    view = clinical.trial_reliability(store, pid)
    assert not view.ok and view.message == clinical.NEED_TRIALS  # only s4 is measured like the newest
    _ppt(store, pid, store.start_session(cid, started_at="2025-05-29T10:00:00+00:00"), [310, 300, 305])
    view = clinical.trial_reliability(store, pid)
    table = [[300, 310, 320], [350, 340, 365], [280, 300, 290], [310, 300, 305]]
    expect = rel.reliability(table)
    assert view.ok and view.stats.icc == pytest.approx(expect.icc) and view.stats.n == 4 and view.stats.k == 3
    assert view.ba.diffs == (10, -10, 20, -10) and view.ba_label == "trial 2 − trial 1"
    assert "ICC(2,1)" in view.message and "MDC95" in view.message


def test_session_reliability_between_two_sessions(store):
    from pointdose.records import reliability as rel

    cid = store.add_client("S-9", role="student")
    pts = [store.point(cid, loc, "L") for loc in ("upper_trapezius.1", "infraspinatus.1", "gluteus_medius.1")]
    s1 = store.start_session(cid, started_at="2025-06-01T10:00:00+00:00")
    _ppt(store, pts[0], s1, [300])
    assert clinical.session_reliability(store, cid).message == clinical.NEED_POINTS
    s2 = store.start_session(cid, started_at="2025-06-08T10:00:00+00:00")
    for p, a, b in zip(pts, (300, 450, 520), (330, 430, 560)):
        if p != pts[0]:
            _ppt(store, p, s1, [a])
        _ppt(store, p, s2, [b])
    assert clinical.session_pair(store, cid) == (s1, s2)
    view = clinical.session_reliability(store, cid)
    assert view.ok and view.stats.icc == pytest.approx(rel.icc([[300, 330], [450, 430], [520, 560]], "2,1"))
    assert view.ba.diffs == (30, -20, 40)
    assert view.ba_label.startswith(f"session {s2} (2025-06-08) − session {s1} (2025-06-01)")


def test_history_command_prints_the_clinical_record(store, capsys):
    from pointdose.cli import main

    cid = store.add_client("H-9")
    sids = [store.start_session(cid, started_at=f"2025-07-0{1 + 3 * n}T10:00:00+00:00") for n in range(2)]
    left, right = store.point(cid, "upper_trapezius.1", "L"), store.point(cid, "upper_trapezius.1", "R")
    for sid, (tl, tr) in zip(sids, (([200, 210, 205], [250, 260, 255]), ([220, 215, 230], [262, 270, 266]))):
        _ppt(store, left, sid, tl)
        _ppt(store, right, sid, tr)
        for pid in (left, right):
            app = store.begin_application(sid, pid, t_start_s=0.0, probe_area_cm2=1.0)
            store.end_application(app, 10.0, "completed")
    clinical.add_finding(store, left, sids[-1], "latent", taut_band=True)
    path = str(store.path)
    store.close()
    assert main(["history", "--client", "H-9", "--db", path]) == 0
    out = capsys.readouterr().out
    assert "  PPT 222 kPa · norm 423 ± 205 kPa" in out and "findings: latent TrP · taut band yes" in out
    assert "reliability, trial to trial: ICC(2,1)" in out
    assert "Upper trapezius TrP1: L 222 kPa, R 266 kPa; L − R −44 kPa, L/R 0.83" in out
    assert "Reliability, session to session:\n  ICC(2,1)" in out and "session 2 (2025-07-04) − session 1" in out


def test_clients_commands_record_findings_reference_and_rename(tmp_path, capsys):
    from pointdose.cli import main

    db = str(tmp_path / "c.sqlite")
    assert main(["clients", "add", "K-1", "--db", db]) == 0
    with Store(db) as s:
        cid = s.client("K-1")["id"]
        s.point(cid, "upper_trapezius.1", "L")
        s.point(cid, "upper_trapezius.1", "R")
        s.point(cid, "unplaced", "L", label="rhomboid")
    assert main(["clients", "finding", "K-1", "--point", "upper_trapezius.1:L", "--kind", "active", "--taut-band",
                 "yes", "--referred", "temple", "--region", "head", "--db", db]) == 0
    assert "active TrP · taut band yes · local twitch not examined · refers: temple, head — saved in visit 1 (new)" \
        in capsys.readouterr().out
    assert main(["clients", "reference", "K-1", "--point", "upper_trapezius.1:L", "--ref", "upper_trapezius.1:R",
                 "--db", db]) == 0
    assert "reference site: Upper trapezius TrP1 (R): no PPT there yet" in capsys.readouterr().out
    assert main(["clients", "rename-point", "K-1", "--point", "rhomboid L", "rhomboid major", "--db", db]) == 0
    assert "is now rhomboid major (L)" in capsys.readouterr().out
    # bad entries: one line each, nothing written
    for argv, needle in ((["finding", "K-1", "--point", "nowhere", "--kind", "active"], "has no point 'nowhere'"),
                         (["finding", "K-1", "--point", "1", "--kind", "sore"], "active, latent, none"),
                         (["reference", "K-1", "--point", "1"], "--ref POINT"),
                         (["rename-point", "K-1", "--point", "1", "x"], "body-map location")):
        assert main(["clients", *argv, "--db", db]) != 0
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    with Store(db) as s:
        assert len(clinical.findings(s, point_id=1)) == 1


def test_student_reliability_from_training_trials(store):
    from pointdose.records import reliability as rel

    sid = store.add_client("ST-1", role="student")
    assert clinical.student_reliability(store, sid).message == clinical.NEED_BLOCKS
    outcomes = {("s1", "b1"): [20.5, 21.0, 19.0], ("s2", "b2"): [22.0, 20.0, 21.5, 23.0], ("s2", "b3"): [18.0, 19.5, 20.0]}
    for n, (s, b) in enumerate(outcomes):
        if not store.query("SELECT 1 FROM training_sessions WHERE uid=?", (s,)):
            store.query("INSERT INTO training_sessions (uid, client_id, started_at) VALUES (?,?,?)",
                        (s, sid, f"2025-10-0{1 + n}T10:00:00+00:00"))
        store.query("INSERT INTO training_blocks (uid, session_uid, position, kind, drill, schedule, quantity, target, "
                    "band_lo, band_hi, surface, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (b, s, n, "practice", "{}", "{}", "force", 20.0, 18.0, 22.0, "scale", "2025-10-01"))
        for i, v in enumerate(outcomes[(s, b)]):
            store.query("INSERT INTO training_trials (uid, block_uid, number, outcome) VALUES (?,?,?,?)",
                        (f"{b}-{i}", b, i + 1, v))
    # another target, practised once: not used
    store.query("INSERT INTO training_blocks (uid, session_uid, position, kind, drill, schedule, quantity, target, "
                "band_lo, band_hi, surface, started_at) VALUES ('bx','s1',9,'practice','{}','{}','force',40,38,42,"
                "'scale','2025-10-01')")
    view = clinical.student_reliability(store, sid)
    table = [[20.5, 21.0, 19.0], [22.0, 20.0, 21.5], [18.0, 19.5, 20.0]]
    assert view.ok and view.stats.icc == pytest.approx(rel.icc(table, "2,1")) and view.stats.k == 3
    assert view.ba.diffs == pytest.approx((0.5, -2.0, 1.5)) and view.message.startswith("target 20 N: ICC(2,1)")
    assert "SEM" in view.message and " N" in view.message


def test_points_csv_carries_findings_and_reference(store, tmp_path):
    import csv

    from pointdose.records.exporting import export_client

    cid = store.add_client("CSV-1")
    sid = _treat(store, cid, "upper_trapezius.1:L", "2025-03-01T10:00:00+00:00", 200.0)
    pid = store.find_point(cid, "upper_trapezius.1:L")
    clinical.add_finding(store, pid, sid, "active", taut_band=True, referred_text="=cmd()")  # a formula stays text
    clinical.set_reference(store, pid, store.point(cid, "upper_trapezius.1", "R"))
    files = export_client(store, "CSV-1", tmp_path / "out", formats=["csv"])
    (row,) = list(csv.DictReader(open(next(f for f in files if f.name == "points.csv"))))
    assert row["trp_kind"] == "active" and row["trp_finding"].startswith("active TrP · taut band yes")
    assert "refers: =cmd()" in row["trp_finding"] and row["reference_point"] == "Upper trapezius TrP1 (R)"


def test_point_record_view_for_the_app(store):
    cid = store.add_client("V-1")
    sids = [store.start_session(cid, started_at=f"2025-08-0{1 + 3 * n}T10:00:00+00:00") for n in range(2)]
    left, right = store.point(cid, "upper_trapezius.1", "L"), store.point(cid, "upper_trapezius.1", "R")
    lone = store.point(cid, "masseter", "L")
    for sid in sids:
        _ppt(store, left, sid, [200, 210, 215])
        _ppt(store, right, sid, [240, 250, 236])
    _ppt(store, left, sids[0], [205, 199, 210], stage="after")  # the most PPTs: the default point
    v = clinical.point_record_view(store, None)  # no client chosen: the newest session's
    assert v.code == "V-1" and v.point["id"] == left and v.reliability.ok and v.reliability.stats.n == 2
    assert v.norm.startswith("PPT 208 kPa") and v.finding == "no findings yet" and v.reference is None
    assert v.asymmetry == ["Upper trapezius TrP1: L 208 kPa, R 242 kPa; L − R −34 kPa, L/R 0.86 (lower on the left)"]
    other = store.add_client("V-2")
    v2 = clinical.point_record_view(store, "V-2", left)  # another client's point id: not shown for V-2
    assert v2.client_id == other and v2.point is None and v2.points == []
    assert clinical.point_record_view(store, "V-1", lone).reliability.message == clinical.NEED_SESSIONS
    assert clinical.point_record_view(store, "V-1", lone, "sessions").reliability.ok
    assert clinical.point_record_view(store, "V-1", lone, "student").reliability.message == clinical.NEED_BLOCKS
    with pytest.raises(ValueError, match="unknown reliability view"):
        clinical.point_record_view(store, "V-1", lone, "weekly")
