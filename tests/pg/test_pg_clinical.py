"""The clinical record per point (records/clinical.py, records/pain.py) on a PostgreSQL server gives
the same answers as on an SQLite file: findings, renames and moves, reference sites, asymmetry,
norms, reliability and pain ratings."""

from __future__ import annotations

from pointdose.records import clinical
from pointdose.records.pain import record_pain
from pointdose.records.store import Store


def scenario(store: Store) -> dict:
    cid = store.add_client("PGC-1")
    sessions = [store.start_session(cid, started_at=f"2026-02-0{1 + 2 * n}T10:00:00+00:00") for n in range(3)]
    left = store.point(cid, "upper_trapezius.1", "L")
    right = store.point(cid, "upper_trapezius.1", "R")
    free = store.point(cid, "unplaced", "L", label="rhomboid")
    trials = [([210, 222, 216], [262, 275, 270]), ([236, 230, 244], [280, 268, 277]), ([250, 262, 249], [290, 301, 288])]
    for sid, (tl, tr) in zip(sessions, trials):
        for pid, t in ((left, tl), (right, tr)):
            store.add_ppt(pid, sid, sum(t) / 3, probe_area_cm2=1.0, ramp_kpa_s=50.0, stage="before", repeats=t)
    app = store.begin_application(sessions[-1], left, t_start_s=0.0, probe_area_cm2=1.0, protocol="holds")
    store.end_application(app, 30.0, "completed")
    record_pain(store, app, 6, "before")
    record_pain(store, app, 2, "after")
    clinical.add_finding(store, left, sessions[-1], "active", taut_band="yes", local_twitch="no",
                         referred_text="temple", referred_region="head", application_id=app)
    clinical.set_reference(store, left, right)
    clinical.rename_point(store, free, "rhomboid major L")
    moved = clinical.move_point(store, free, "back", 0.40, 0.30)
    trial = clinical.trial_reliability(store, left)
    between = clinical.session_reliability(store, cid)
    return {
        "finding": clinical.latest_finding(store, left).short(),
        "reference": clinical.reference_line(store, left),
        "norm": clinical.norm_line(store, left),
        "asymmetry": [a.line() for a in clinical.asymmetry(store, cid)],
        "moved": (moved["location"], moved["side"], moved["label"], moved["view"]),
        "found_by_old_name": clinical.find_free_point(store, cid, "rhomboid L") == free,
        "changes": [c["old_label"] for c in clinical.point_changes(store, free)],
        "trial": (trial.message, round(trial.stats.icc, 9)),
        "between": (between.message, round(between.stats.icc, 9), between.ba.diffs),
        "pain": [(r["stage"], r["value"]) for r in store.query("SELECT stage, value FROM pain ORDER BY id")],
    }


def test_the_clinical_record_is_the_same_on_a_server(pg_url, tmp_path):
    with Store(tmp_path / "records.sqlite") as local:
        expected = scenario(local)
    with Store(pg_url, journal=tmp_path / "journal.sqlite") as server:
        got = scenario(server)
        assert server.integrity_check() == "ok"
    assert got == expected
    assert expected["found_by_old_name"] and expected["moved"] == ("custom", "L", "rhomboid major", "back")
    assert expected["pain"] == [("before", 6), ("after", 2)]
