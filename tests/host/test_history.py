"""History across sessions: PPT changes labelled by measurement noise, comparisons only like with like."""

import pytest

from pointdose.cli import main
from pointdose.records import RecordingListener, Store, history
from pointdose.records.demo import DEMO_CALIBRATION, hold_profile, record, synth_rows


def _session(store, cid, point, when, *, ppt, after, ramp=50.0, area=1.0, cal=DEMO_CALIBRATION, hold_s=20.0, seed=0):
    sid = store.start_session(cid, started_at=when)
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    rows = synth_rows(hold_profile(0.8 * ppt, hold_s=hold_s), 100.0, probe_area_cm2=area, calibration=cal, seed=seed)
    record(listener, point, rows, ppt_before=ppt, ppt_after=after, ramp_kpa_s=ramp, probe_area_cm2=area,
           calibration=cal)
    listener.close()
    return sid


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "records.sqlite")
    yield s
    s.close()


def test_noise_labels_and_like_with_like(store):
    cid = store.add_client("H-1")
    point = store.point(cid, "upper_trapezius.1", "L")
    _session(store, cid, point, "2025-01-06T10:00:00+00:00", ppt=200, after=230)            # +30: within noise
    _session(store, cid, point, "2025-01-13T10:00:00+00:00", ppt=280, after=360, hold_s=40)  # +80 uncertain; +80 vs last
    _session(store, cid, point, "2025-01-20T10:00:00+00:00", ppt=420, after=430, ramp=98.0)   # other ramp rate
    _session(store, cid, point, "2025-01-27T10:00:00+00:00", ppt=300, after=310, area=2.0)   # other probe
    _session(store, cid, point, "2025-02-03T10:00:00+00:00", ppt=300, after=305,
             cal=dict(DEMO_CALIBRATION, id="recal-2"))                                        # other calibration
    (ph,) = history.client_history(store, "H-1")
    e = ph.entries
    assert [x.date for x in e] == ["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03"]
    assert e[0].within_session.noise == "within noise" and e[0].vs_previous is None
    assert e[1].within_session.noise == "uncertain" and e[1].within_session.change_kpa == pytest.approx(80)
    assert e[1].vs_previous.noise == "uncertain" and e[1].vs_previous.change_kpa == pytest.approx(80)
    assert e[2].vs_previous is None and "ramp 98 vs 50 kPa/s" in e[2].not_compared
    assert e[3].vs_previous is None and "probe 2 vs 1 cm²" in e[3].not_compared
    assert e[4].vs_previous is None and "calibration recal-2 vs demo-linear-1" in e[4].not_compared
    assert e[1].compared_with == "2025-01-06" and e[1].not_compared is None
    assert e[1].duration_s > e[0].duration_s + 19 and e[1].dose_kpa_s > e[0].dose_kpa_s


def test_change_beyond_noise_against_the_last_comparable_session(store):
    cid = store.add_client("H-2")
    point = store.point(cid, "gastrocnemius.2", "R")
    _session(store, cid, point, "2025-03-01T10:00:00+00:00", ppt=250, after=260)
    _session(store, cid, point, "2025-03-08T10:00:00+00:00", ppt=500, after=510, ramp=98.0)
    _session(store, cid, point, "2025-03-15T10:00:00+00:00", ppt=400, after=410)
    e = history.point_history(store, point).entries
    assert e[1].vs_previous is None and "ramp 98 vs 50 kPa/s" in e[1].not_compared
    # the third is compared with the first (same ramp), and says it skipped the second
    assert e[2].compared_with == "2025-03-01"
    assert e[2].vs_previous.change_kpa == pytest.approx(150) and e[2].vs_previous.noise == "beyond noise"
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
    assert "+120 kPa, beyond noise" in out and "+10 kPa, within noise" in out
    assert "dose kPa·s" in out and "Persson 2004" in out
    assert main(["history", "--client", "H-3", "--db", str(store.path), "--unit", "kgf/cm2"]) == 0
    assert "2.04 → 3.26" in capsys.readouterr().out  # 200 and 320 kPa in kgf/cm²
    assert main(["history", "--client", "NOBODY", "--db", str(store.path)]) == 1
    assert "no client 'NOBODY'" in capsys.readouterr().err
