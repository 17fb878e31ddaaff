"""Recomputing an application from its raw counts after a recalibration."""

import numpy as np
import pytest

from pointdose import metrics, units
from pointdose.records import RecordingListener, Store, calib
from pointdose.records.demo import hold_profile, record, synth_rows

OLD = {"id": "cal-old", "model": "linear", "counts_per_n": 2000.0, "zero": 8000.0}
NEW = {"id": "cal-new", "model": "linear", "counts_per_n": 2500.0, "zero": 8100.0}


@pytest.fixture
def recorded(tmp_path):
    store = Store(tmp_path / "records.sqlite")
    cid = store.add_client("R-1")
    sid = store.start_session(cid)
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    rows = synth_rows(hold_profile(200.0, hold_s=15.0), 250.0, calibration=OLD, probe_area_cm2=2.0, seed=2)
    app = record(listener, {"location": "infraspinatus.2", "side": "R"}, rows, calibration=OLD, probe_area_cm2=2.0)
    yield store, app, rows
    store.close()


def test_recompute_uses_the_raw_counts_and_the_new_calibration(recorded):
    store, app, rows = recorded
    before = store.metrics(app)
    m = store.recompute(app, calib.raw_to_n(NEW))
    # independently: the new calibration applied to the raw counts by hand
    force = (rows["raw"] - 8100.0) / 2500.0
    expect = metrics.compute(rows["t_s"], units.pressure_kpa(force, 2.0), contact_kpa=10.0, seq=rows["seq"])
    assert m.dose_kpa_s == pytest.approx(expect.dose_kpa_s, rel=1e-6)
    assert m.peak_kpa == pytest.approx(expect.peak_kpa, rel=1e-6)
    assert m.dose_kpa_s < 0.85 * before["dose_kpa_s"]  # 2000 → 2500 counts/N: about 20 % less
    assert store.metrics(app)["dose_kpa_s"] == pytest.approx(before["dose_kpa_s"])  # not saved


def test_saving_a_recomputation_keeps_raw_and_says_what_changed(recorded):
    store, app, rows = recorded
    m = store.recompute(app, calib.raw_to_n(NEW), calibration=NEW, save=True)
    saved = store.samples(app)
    assert np.array_equal(saved["raw"], rows["raw"])  # counts are never rewritten
    np.testing.assert_allclose(saved["force_n"], (rows["raw"] - 8100.0) / 2500.0, rtol=1e-6, atol=1e-4)
    assert store.application(app)["calibration_id"] == "cal-new"
    assert store.calibration("cal-old") == OLD  # the old one stays on record
    assert store.events(app)[-1]["kind"] == "recalibrated"
    assert store.events(app)[-1]["data"] == {"from": "cal-old", "to": "cal-new"}
    assert store.metrics(app)["dose_kpa_s"] == pytest.approx(m.dose_kpa_s)


def test_recompute_with_the_calibration_module_record(recorded):
    calibration = pytest.importorskip("pointdose.calibration")
    store, app, rows = recorded
    points = [calibration.Point(raw=8100.0 + 2500.0 * f, force_n=f) for f in (0.0, 10.0, 20.0, 40.0, 60.0)]
    fit = calibration.fit_points(points, "linear", stability_check=False)
    rec = calibration.CalibrationRecord.from_fit(fit, device_uid="53494d30303031",
                                                 config=calibration.SensorConfig(sensor="hx711", probe_area_cm2=2.0),
                                                 reference={"kind": "masses", "unit": "kg"})
    cal = rec.to_dict()
    m = store.recompute(app, calib.raw_to_n(cal), calibration=cal, save=True)
    force = (rows["raw"] - 8100.0) / 2500.0
    expect = metrics.compute(rows["t_s"], units.pressure_kpa(force, 2.0), contact_kpa=10.0)
    assert m.dose_kpa_s == pytest.approx(expect.dose_kpa_s, rel=1e-6)
    assert store.application(app)["calibration_id"] == rec.id
    assert "N" in calib.stated_error(store.calibration(rec.id))
