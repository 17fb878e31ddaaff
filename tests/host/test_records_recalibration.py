"""Recomputing an application from its raw counts after a recalibration."""

from pathlib import Path

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


# ------------------------------------------------------------------ the calibration as the runner records it


def test_the_calibration_id_is_the_models_not_the_tares():
    factory = {"model": "linear", "counts_per_n": 2000.0, "zero": 8000.0, "source": "factory"}
    assert calib.calibration_id(factory) == calib.calibration_id(dict(factory, tare_raw=8400.0, shift=400.0))
    other = dict(factory, counts_per_n=2100.0)
    assert calib.calibration_id(other) != calib.calibration_id(factory)  # another scale, even with the same shift
    assert calib.calibration_id({"id": "abc123", "model": {"kind": "linear"}}) == "abc123"


def test_recompute_applies_the_devices_tare_as_docs_calibration_md_says():
    factory = {"model": "linear", "counts_per_n": 2000.0, "zero": 8000.0}
    raw = np.array([8000.0, 8400.0, 28400.0])
    np.testing.assert_allclose(calib.raw_to_n(factory)(raw), [0.0, 0.2, 10.2])
    # tared at 8400: force = model(raw − (8400 − 8000)) = (raw − 8400) / 2000
    np.testing.assert_allclose(calib.raw_to_n(factory, tare=8400.0)(raw), [-0.2, 0.0, 10.0])


def _run_session(tmp_path, *, tare, cal="linear:14000:42000", record=None):
    """One application through the real SessionRunner and RecordingListener (a fake link)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_session_runner import FakeLink, holds_profile  # noqa: E402

    from pointdose.protocols import PointContext, builtin
    from pointdose.session import SessionRunner

    store = Store(tmp_path / f"rec-{tare}-{cal.replace(':', '_')}-{record is not None}.sqlite")
    listener = RecordingListener(store, autoflush=False)
    link = FakeLink(with_device_cues=False, cal=cal)
    link.device = link.device.with_fields(tare=tare)
    link.push([0.0], [0.0])
    runner = SessionRunner(link, builtin("holds", cycles=1, hold_s=2.0, rest_s=1.0), PointContext(name="trap"),
                           listeners=[listener], device_cues=False, calibration_record=record,
                           require_device_limit=False)
    t = 0.0
    while t < 8.0 and not runner.done.is_set():
        ts = t + 0.01 * np.arange(1, 6)
        link.push(ts, holds_profile(ts))
        t = ts[-1]
        runner.step(now=t + 0.005)
    runner.close()
    listener.close()
    assert listener.error is None and runner.listener_errors == []
    (app,) = store.applications()
    return store, app


def test_an_application_recorded_by_the_runner_recomputes_to_what_was_recorded(tmp_path):
    store, app = _run_session(tmp_path, tare=42000 + 700)  # re-tared 700 counts (0.05 N) off the factory zero
    cal = store.calibration(app["calibration_id"])
    assert cal["counts_per_n"] == 14000.0 and cal["zero"] == 42000.0 and cal["source"] == "factory"
    assert app["tare_raw"] == 42700.0
    saved = store.samples(app["id"])
    again = store.recompute(app["id"])  # its own calibration and tare
    np.testing.assert_allclose(units.pressure_kpa((saved["raw"] - 42700.0) / 14000.0, 1.0), saved["pressure_kpa"],
                               atol=1e-3)
    assert again.dose_kpa_s == pytest.approx(store.metrics(app["id"])["dose_kpa_s"], rel=1e-5)
    # the same factory scale after another tare is the same calibration; another scale is not
    store2, app2 = _run_session(tmp_path, tare=0)
    assert app2["calibration_id"] == app["calibration_id"] and app2["tare_raw"] == 0.0
    store3, app3 = _run_session(tmp_path, tare=42700, cal="linear:15000:41300")  # same shift, other scale
    assert app3["calibration_id"] != app["calibration_id"]
    for s in (store, store2, store3):
        s.close()


def test_a_calibration_record_in_use_is_stored_whole_under_its_own_id(tmp_path):
    calibration = pytest.importorskip("pointdose.calibration")
    points = [calibration.Point(raw=42000.0 + 14500.0 * f, force_n=f) for f in (0.0, 10.0, 20.0, 40.0, 80.0)]
    fit = calibration.fit_points(points, "linear", stability_check=False)
    rec = calibration.CalibrationRecord.from_fit(fit, device_uid="fake01",
                                                 config=calibration.SensorConfig(sensor="hx711", probe_area_cm2=1.0),
                                                 reference={"kind": "masses", "unit": "kg"}, zero_raw=42000.0)
    store, app = _run_session(tmp_path, tare=42300, record=rec)
    assert app["calibration_id"] == rec.id and store.calibration(rec.id) == rec.to_dict()
    saved = store.samples(app["id"])
    expect = rec.converter(tare=42300).force_n(saved["raw"])
    np.testing.assert_allclose(saved["pressure_kpa"], units.pressure_kpa(expect, 1.0), atol=1e-3)
    again = store.recompute(app["id"])
    assert again.dose_kpa_s == pytest.approx(store.metrics(app["id"])["dose_kpa_s"], rel=1e-5)
    store.close()
