"""History across sessions: PPT changes labelled by measurement noise, comparisons only like with like."""

import math

import pytest

from pointdose.cli import main
from pointdose.records import RecordingListener, Store, history
from pointdose.records.demo import DEMO_CALIBRATION, hold_profile, record, synth_rows


def _session(store, cid, point, when, *, ppt, after, ramp=50.0, area=1.0, cal=DEMO_CALIBRATION, hold_s=20.0, seed=0,
             trials_before=None, trials_after=None):
    sid = store.start_session(cid, started_at=when)
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    rows = synth_rows(hold_profile(0.8 * ppt, hold_s=hold_s), 100.0, probe_area_cm2=area, calibration=cal, seed=seed)
    t0, t1 = float(rows["t_s"][0]), float(rows["t_s"][-1])
    events = [(t0, "ppt", {"kpa": ppt, "stage": "before", "ramp_kpa_s": ramp, "repeats": trials_before}),
              (t1, "ppt", {"kpa": after, "stage": "after", "ramp_kpa_s": ramp, "repeats": trials_after})]
    record(listener, point, rows, probe_area_cm2=area, calibration=cal, events=events)
    listener.close()
    return sid


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "records.sqlite")
    yield s
    s.close()


def _mdc95(groups, k=3):
    ss = sum(sum((x - sum(g) / len(g)) ** 2 for x in g) for g in groups)
    df = sum(len(g) - 1 for g in groups)
    return 1.959963984540054 * math.sqrt(2) * math.sqrt(ss / df) / math.sqrt(k)


def test_changes_against_the_clients_own_error_and_like_with_like(store):
    cid = store.add_client("H-1")
    point = store.point(cid, "upper_trapezius.1", "L")
    s1b, s1a, s2b, s2a = [190, 200, 210], [200, 205, 210], [270, 280, 290], [350, 360, 370]
    _session(store, cid, point, "2025-01-06T10:00:00+00:00", ppt=200, after=205, trials_before=s1b, trials_after=s1a)
    _session(store, cid, point, "2025-01-13T10:00:00+00:00", ppt=280, after=360, hold_s=40,
             trials_before=s2b, trials_after=s2a)
    _session(store, cid, point, "2025-01-20T10:00:00+00:00", ppt=420, after=430, ramp=98.0)   # other ramp rate
    _session(store, cid, point, "2025-01-27T10:00:00+00:00", ppt=300, after=310, area=2.0)   # other probe
    recal = dict(DEMO_CALIBRATION, id="recal-2", counts_per_n=2400.0)
    _session(store, cid, point, "2025-02-03T10:00:00+00:00", ppt=300, after=305, cal=recal)  # other calibration
    (ph,) = history.client_history(store, "H-1")
    e = ph.entries
    assert [x.date for x in e] == ["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03"]
    # the client's own repeated trials at this point (same probe and ramp): pooled SD 9.01 kPa, MDC95 14.4 kPa
    mdc = _mdc95([s1b, s1a, s2b, s2a])
    assert mdc == pytest.approx(14.43, abs=0.01)
    assert e[0].within_session.reliability.mdc95_kpa == pytest.approx(mdc)
    assert e[0].within_session.verdict == "within measurement error" and e[0].vs_previous is None  # +5 < 14.4
    assert e[1].within_session.verdict == "beyond measurement error" and e[1].within_session.change_kpa == pytest.approx(80)
    assert e[1].vs_previous.verdict == "beyond measurement error" and e[1].vs_previous.change_kpa == pytest.approx(80)
    assert "MDC95 14 kPa" in e[1].change_notes()
    assert e[2].vs_previous is None and "ramp 98 vs 50 kPa/s" in e[2].not_compared
    assert e[3].vs_previous is None and "probe 2 vs 1 cm²" in e[3].not_compared
    # another calibration: the 280 kPa of 2025-01-13 recomputed under recal-2 from its raw reading:
    # raw = zero + 28 N × 2280 counts/N, read at 2400 counts/N = 26.6 N → 266 kPa; 300 − 266 = +34
    assert e[4].compared_with == "2025-01-13"
    assert e[4].vs_previous.before_kpa == pytest.approx(280 * 2280 / 2400, rel=1e-6)
    assert e[4].vs_previous.change_kpa == pytest.approx(300 - 266, abs=1e-6)
    assert "recomputed under the current calibration recal-2" in e[4].change_notes()
    assert e[1].compared_with == "2025-01-06" and e[1].not_compared is None and e[1].recomputed is None
    assert e[1].duration_s > e[0].duration_s + 19 and e[1].dose_kpa_s > e[0].dose_kpa_s


def test_a_ppt_measured_with_trials_is_recomputed_from_its_raw_samples(store):
    from pointdose.records.demo import record as record_app

    cid = store.add_client("H-4")
    point = store.point(cid, "upper_trapezius.1", "R")
    sid = store.start_session(cid, started_at="2025-05-01T10:00:00+00:00")
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    rows = synth_rows([(0.0, 0.0), (1.0, 0.0), (7.0, 300.0), (8.0, 0.0)], 100.0, seed=3)  # 50 kPa/s ramp
    record_app(listener, point, rows, protocol="ppt", events=[
        (5.0, "ppt_trial", {"trial": 1, "ppt_kpa": 200.0, "t_signal_s": 5.0}),
        (5.0, "ppt", {"kpa": 200.0, "ramp_kpa_s": 50.0})])
    listener.close()
    recal = dict(DEMO_CALIBRATION, id="recal-3", counts_per_n=2400.0)
    _session(store, cid, point, "2025-05-08T10:00:00+00:00", ppt=210, after=215, cal=recal)
    e = history.point_history(store, point).entries
    assert e[0].ppt_before_kpa == 200.0
    later = e[1]
    # the samples at the signal (200 kPa ± the 2 kPa synthetic noise), read under 2400 counts/N: ≈ 190 kPa
    assert later.vs_previous.before_kpa == pytest.approx(200 * 2280 / 2400, abs=3.0)
    assert "from the raw counts at its trials' signal times" in later.recomputed
    assert later.vs_previous.verdict == "no error estimate"  # no repeated trials yet: said, not guessed


def test_change_against_the_last_comparable_session(store):
    cid = store.add_client("H-2")
    point = store.point(cid, "gastrocnemius.2", "R")
    _session(store, cid, point, "2025-03-01T10:00:00+00:00", ppt=250, after=260)
    _session(store, cid, point, "2025-03-08T10:00:00+00:00", ppt=500, after=510, ramp=98.0)
    _session(store, cid, point, "2025-03-15T10:00:00+00:00", ppt=400, after=410)
    e = history.point_history(store, point).entries
    assert e[1].vs_previous is None and "ramp 98 vs 50 kPa/s" in e[1].not_compared
    # the third is compared with the first (same ramp), and says it skipped the second
    assert e[2].compared_with == "2025-03-01"
    assert e[2].vs_previous.change_kpa == pytest.approx(150) and e[2].vs_previous.verdict == "no error estimate"
    assert "not compared with 2025-03-08: ramp 50 vs 98 kPa/s" in e[2].not_compared


def test_history_command(store, capsys):
    cid = store.add_client("H-3")
    point = store.point(cid, "piriformis.medial", "L")
    _session(store, cid, point, "2025-04-01T10:00:00+00:00", ppt=200, after=320)
    _session(store, cid, point, "2025-04-08T10:00:00+00:00", ppt=210, after=220)
    store.close()
    assert main(["history", "--client", "H-3", "--db", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "Piriformis (medial) (L)" in out
    assert "+120 kPa, no error estimate" in out and "+10 kPa, no error estimate" in out
    assert "dose kPa·s" in out and "MDC95" in out and "Persson" not in out
    assert main(["history", "--client", "H-3", "--db", str(store.path), "--unit", "kgf/cm2"]) == 0
    assert "2.04 → 3.26" in capsys.readouterr().out  # 200 and 320 kPa in kgf/cm²
    assert main(["history", "--client", "NOBODY", "--db", str(store.path)]) == 1
    assert "no client 'NOBODY'" in capsys.readouterr().err


def test_a_published_site_sem_labels_the_changes_with_its_source(store, capsys):
    cid = store.add_client("H-5")
    point = store.point(cid, "upper_trapezius.1", "L")
    _session(store, cid, point, "2025-06-01T10:00:00+00:00", ppt=200, after=240)
    store.close()
    # SEM 20 kPa → MDC95 = 1.96·√2·20 = 55.4 kPa: +40 is within it
    assert main(["history", "--client", "H-5", "--db", str(store.path), "--sem-kpa", "20",
                 "--sem-source", "a site study (upper trapezius, neck pain)"]) == 0
    out = capsys.readouterr().out
    assert "+40 kPa, within measurement error (MDC95 55 kPa)" in out
    assert main(["history", "--client", "H-5", "--db", str(store.path), "--sem-kpa", "20"]) == 1
    assert "--sem-source" in capsys.readouterr().err
