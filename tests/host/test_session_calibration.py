"""`pointdose session` takes its calibration through the one scale (calibration/scale.py load_scale),
against the real firmware: the wizard's calibration kept on the device, else the factory scale."""

from __future__ import annotations

from types import SimpleNamespace

from pointdose.calibration import CalibrationRecord, Point, SensorConfig, Tolerance, fit_points, save_everywhere
from pointdose.commands import session as session_command


def _wizard_record(device) -> CalibrationRecord:
    scale = device.factory_scale  # the simulated sensor's true counts per newton, as a wizard would find it
    pts = [Point(scale.zero + scale.counts_per_n * f, f, d)
           for f, d in ((0, "load"), (10, "load"), (20, "load"), (30, "load"), (10, "unload"), (0, "unload"))]
    fit = fit_points(pts, "linear", tolerance=Tolerance(pct_fs=2.0))
    return CalibrationRecord.from_fit(fit, device_uid=device.uid, config=SensorConfig("sim", probe_area_cm2=1.0),
                                      reference={"kind": "scale", "unit": "kg"}, zero_raw=scale.zero,
                                      raw_limits=device.raw_range)


def test_session_uses_the_wizard_calibration_kept_on_the_device(link):
    record = _wizard_record(link.device)
    on_device, _ = save_everywhere(link, record)
    assert on_device
    notes: list[str] = []
    got = session_command._calibration(link, 1.0, SimpleNamespace(note=notes.append))
    assert got is not None and got.id == record.id


def test_session_without_a_calibration_says_it_uses_the_factory_scale(link):
    notes: list[str] = []
    got = session_command._calibration(link, 1.0, SimpleNamespace(note=notes.append))
    assert got is None
    assert any("factory scale" in n for n in notes), notes
