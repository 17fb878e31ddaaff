"""The calibration record, its converter and tare rule, the checks before use, storage and reachability."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from pointdose import units
from pointdose.app import model as app_model
from pointdose.calibration import (CalibrationRecord, HostCache, LinearModel, Point, SensorConfig, Tolerance, assess,
                                   check_reachable, converter_for, fit_points, load_for_device, read_device,
                                   require_reachable, save_everywhere, write_device)
from pointdose.calibration.store import NO_DEVICE_STORAGE
from pointdose.errors import UserError
from pointdose.link.info import DeviceInfo

UID = "53494d30303031"
K, Z = 14000.0, 42000.0
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def make_record(top=50.0, sensor="sim", area=1.0, created=NOW, model="linear", pts=None) -> CalibrationRecord:
    pts = pts or [Point(Z + K * f, f, d) for f, d in ((0, "load"), (top / 3, "load"), (2 * top / 3, "load"),
                                                      (top, "load"), (top / 3, "unload"), (0, "unload"))]
    fit = fit_points(pts, model, tolerance=Tolerance(pct_fs=2.0))
    return CalibrationRecord.from_fit(fit, device_uid=UID, config=SensorConfig(sensor, probe_area_cm2=area),
                                      reference={"kind": "scale", "unit": "kg"}, zero_raw=Z,
                                      raw_limits=(-8388608, 8388607), created=created)


# --------------------------------------------------------------------------- record


def test_record_round_trips_through_json_with_the_same_id():
    rec = make_record().with_verification({"date": "2026-03-02T10:00:00Z", "reference_n": 20.0, "reading_n": 20.1,
                                            "error_n": 0.1, "tolerance_n": 1.0, "within_tolerance": True})
    again = CalibrationRecord.from_json(rec.to_json())
    assert again == rec
    assert again.id == rec.id == rec.content_id() and len(rec.id) == 12
    d = rec.to_dict()
    for key in ("id", "device_uid", "created", "config", "reference", "model", "points", "stated_error_n",
                "full_scale_n", "range_n", "verifications", "drift_checks", "zero_raw"):
        assert key in d
    assert d["config"] == {"sensor": "sim", "gain": None, "channel": None, "probe_area_cm2": 1.0}


def test_id_changes_with_the_calibration_not_with_later_checks():
    rec = make_record()
    assert rec.with_drift_check({"drift_n": 0.01}).id == rec.id
    assert make_record(top=60.0).id != rec.id


def test_device_blob_fits_in_1024_bytes_even_with_many_points_and_checks():
    forces = list(np.linspace(0, 100, 11))
    pts = [Point(Z + K * f + 0.37, f, "load", sd=41.234, n=200) for f in forces]
    pts += [Point(Z + K * f + 0.37, f, "unload", sd=41.234, n=200) for f in forces[-2::-1]]
    rec = make_record(pts=pts)
    for i in range(30):
        rec = rec.with_verification({"date": "2026-03-02T10:00:00Z", "reference_n": 20.0 + i, "reading_n": 20.1,
                                     "error_n": 0.1, "tolerance_n": 1.0, "within_tolerance": True})
    assert len(rec.to_json()) > 1024
    blob = rec.to_blob()
    assert len(blob) <= 1024
    back = CalibrationRecord.from_json(blob)
    assert back.id == rec.id  # recognised as the same calibration
    assert back.model == rec.model and back.stated_error_n == rec.stated_error_n
    raws = np.array([Z, Z + K * 33.0])
    assert np.allclose(back.converter().force_n(raws), rec.converter().force_n(raws))


@pytest.mark.parametrize("text, match", [("{", "not valid JSON"), ("[]", "JSON object"),
                                         ('{"format": 99}', "format"),
                                         ('{"format": 1, "model": {"kind": "linear", "params": {}}}', "missing")])
def test_damaged_records_are_refused_with_the_reason(text, match):
    with pytest.raises(ValueError, match=match):
        CalibrationRecord.from_json(text)


# --------------------------------------------------------------------------- converter and tare


def test_converter_converts_arrays_and_applies_the_tare_shift():
    rec = make_record()
    raws = Z + K * np.array([0.0, 10.0, 25.0])
    assert np.allclose(rec.converter().force_n(raws), [0, 10, 25], atol=1e-6)
    assert np.allclose(rec.converter(tare=Z).force_n(raws), [0, 10, 25], atol=1e-6)  # tare = zero: no shift
    # the unloaded reading drifted up by 700 counts and the device was tared there: readings shift back
    drifted = raws + 700
    assert np.allclose(rec.converter(tare=Z + 700).force_n(drifted), [0, 10, 25], atol=1e-6)
    # without that tare the drift shows as 0.05 N
    assert np.allclose(rec.converter().force_n(drifted), np.array([0, 10, 25]) + 0.05, atol=1e-6)


def test_converter_flags_readings_beyond_the_calibrated_range_and_saturation():
    conv = make_record(top=50.0).converter()
    force = np.array([0.0, 49.0, 50.0, 55.0, -5.0])
    flags = conv.out_of_range(force)
    assert flags.tolist() == [False, False, False, True, True]
    assert conv.out_of_range(np.array([10.0]), raw=np.array([8388607])).tolist() == [True]
    assert conv.range_note(55.0) == "above calibrated 50 N"
    assert conv.range_note(10.0) == ""
    assert conv.range_note(10.0, raw=8388607) == "sensor saturated"


def test_factory_scale_from_hello_follows_the_same_tare_rule():
    info = {"cal": f"linear:{K:g}:{Z:g}", "tare": "0", "raw_min": "-8388608", "raw_max": "8388607", "uid": UID}
    conv = converter_for(info)
    assert conv.source == "factory" and conv.force_n(Z + K)[()] == pytest.approx(1.0)
    tared = converter_for({**info, "tare": str(Z + 1400)})
    assert tared.force_n(Z + 1400 + K)[()] == pytest.approx(1.0)
    # the app model's display scale agrees
    lm = app_model.LiveModel(app_model.DisplaySettings(unit="N"))
    assert lm.scale_for({**info, "tare": str(Z + 1400)}).values([Z + 1400 + K])[0] == pytest.approx(1.0)
    assert converter_for({"cal": "none"}) is None


def test_app_model_shows_values_through_the_record_for_its_device_only():
    rec = make_record(pts=[Point(Z + 2 * K * f, f) for f in (0, 10, 20, 30)])  # a record that halves the factory scale
    m = app_model.LiveModel(app_model.DisplaySettings(unit="N"))
    info = {"cal": f"linear:{K:g}:{Z:g}", "tare": "0", "uid": UID, "sensor": rec.config.sensor}
    assert m.scale_for(info).values([Z + 2 * K])[0] == pytest.approx(2.0)  # factory
    m.set_calibration_record(rec)
    assert m.scale_for(info).values([Z + 2 * K])[0] == pytest.approx(1.0)  # through the record
    assert m.scale_for({**info, "uid": "other"}).values([Z + 2 * K])[0] == pytest.approx(2.0)
    assert m.scale_for({**info, "sensor": "adc"}).values([Z + 2 * K])[0] == pytest.approx(2.0)  # another sensor
    scale = m.scale_for(info)
    assert scale.range_note(45.0) == "above calibrated 30 N" and scale.range_note(20.0) == ""
    m.set_unit("kPa")
    assert m.scale_for(info).values([Z + 2 * K * 10])[0] == pytest.approx(100.0)  # 10 N on 1 cm²


# --------------------------------------------------------------------------- before use


def test_assess_refuses_none_another_device_and_another_configuration():
    rec = make_record()
    cfg = SensorConfig("sim", probe_area_cm2=1.0)
    assert assess(rec, device_uid=UID, config=cfg, now=NOW).usable
    none = assess(None, device_uid=UID, config=cfg, now=NOW)
    assert not none.usable and "no calibration" in none.refusal
    other = assess(rec, device_uid="abcd", config=cfg, now=NOW)
    assert not other.usable and "not this one" in other.refusal
    sensor = assess(rec, device_uid=UID, config=SensorConfig("hx711"), now=NOW)
    assert not sensor.usable and "another configuration" in sensor.refusal and "hx711" in sensor.refusal
    gain = assess(make_record().__class__.from_dict({**rec.to_dict(), "config": {"sensor": "sim", "gain": "128"}}),
                  device_uid=UID, config=SensorConfig("sim", gain="64"), now=NOW)
    assert not gain.usable and "gain 64" in gain.refusal


def test_a_different_probe_warns_for_a_load_cell_and_refuses_for_an_fsr():
    rec = make_record(area=1.0)
    warned = assess(rec, device_uid=UID, config=SensorConfig("sim", probe_area_cm2=2.0), now=NOW)
    assert warned.usable and any("2 cm² tip" in w for w in warned.warnings)
    fsr = CalibrationRecord.from_dict({**rec.to_dict(), "config": {"sensor": "adc", "probe_area_cm2": 1.0}})
    refused = assess(fsr, device_uid=UID, config=SensorConfig("adc", probe_area_cm2=2.0), now=NOW)
    assert not refused.usable and "probe" in refused.refusal


def test_assess_warns_when_older_than_the_settable_age():
    rec = make_record(created=NOW - dt.timedelta(days=120))
    cfg = SensorConfig("sim")
    old = assess(rec, device_uid=UID, config=cfg, now=NOW)
    assert old.usable and any("120 days old" in w for w in old.warnings)
    assert not assess(rec, device_uid=UID, config=cfg, now=NOW, max_age_days=365).warnings


# --------------------------------------------------------------------------- reachability


def test_check_reachable_refuses_an_fsr_against_a_clinical_target():
    # the example: an FSR's ~20 N against a 300 kPa target on 1 cm² (= 30 N)
    fsr_pts = [Point(1000.0 * f, f) for f in (0, 5, 10, 20)]
    rec = make_record(pts=fsr_pts)
    r = check_reachable(rec, target_kpa=300, probe_area_cm2=1.0)
    assert not r.ok and r.target_n == pytest.approx(30.0) and r.limit_n == 20.0
    assert "beyond" in r.reason and "0–20.0 N" in r.reason and "load-cell" in r.reason
    assert check_reachable(rec, target_kpa=150, probe_area_cm2=1.0).ok  # 15 N
    assert not check_reachable(rec, target_kpa=150, probe_area_cm2=2.0).ok  # 30 N on a 2 cm² tip
    assert check_reachable(rec.converter(), target_n=19.0).ok  # converters work too
    with pytest.raises(UserError, match="target refused"):
        require_reachable(rec, target_n=25.0)
    assert require_reachable(rec, target_n=10.0) == 10.0


@pytest.mark.parametrize("kwargs, match", [(dict(target_n=-1.0), "not a positive"),
                                           (dict(target_kpa=100.0, probe_area_cm2=None), "thumb")])
def test_check_reachable_refuses_nonsense_and_pressure_on_a_thumb(kwargs, match):
    r = check_reachable(make_record(), **kwargs)
    assert not r.ok and match in r.reason


def test_check_reachable_refuses_without_a_calibration():
    r = check_reachable(None, target_n=10.0)
    assert not r.ok and "not calibrated" in r.reason


# --------------------------------------------------------------------------- storage


class FlashLink:
    """The device-storage contract (read/write/clear_calibration) over a dict standing in for flash;
    refuses writes while streaming, as the firmware does."""

    def __init__(self, flash: dict, info: dict):
        self.flash = flash
        self.device = DeviceInfo.from_fields(info)
        self.state = "streaming"
        self.calls = []

    def read_calibration(self):
        return self.flash.get("blob")

    def write_calibration(self, blob):
        if self.state == "streaming":
            raise UserError("the device refused 'cal commit': stop streaming first")
        assert len(blob) <= 1024
        self.flash["blob"] = bytes(blob)

    def clear_calibration(self):
        self.flash.pop("blob", None)

    def stop(self):
        self.calls.append("stop")
        self.state = "connected"

    def start(self):
        self.calls.append("start")
        self.state = "streaming"


class PlainLink:
    def __init__(self, info):
        self.device = DeviceInfo.from_fields(info)


def test_host_cache_keeps_every_calibration_and_the_latest(tmp_path):
    cache = HostCache(tmp_path)
    a = make_record(created=NOW - dt.timedelta(days=2))
    b = make_record(top=60.0, created=NOW)
    cache.save(a)
    cache.save(b)
    assert cache.latest(UID) == b
    assert [r.id for r in cache.history(UID)] == [a.id, b.id]
    assert cache.get(UID, a.id) == a
    assert cache.latest("ffff") is None
    (tmp_path / UID / "latest.json").write_text("{broken")
    with pytest.raises(UserError, match="latest.json"):
        cache.latest(UID)
    with pytest.raises(UserError, match="cannot name a folder"):
        cache.folder("../etc")


def test_data_dir_follows_the_environment(tmp_path, monkeypatch):
    from pointdose.calibration import data_dir

    monkeypatch.setenv("POINTDOSE_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert HostCache().root == tmp_path / "calibrations"


def test_write_device_stops_the_stream_and_the_record_survives_a_new_link(tmp_path):
    flash: dict = {}
    info = {"uid": UID, "sensor": "sim"}
    link = FlashLink(flash, info)
    rec = make_record()
    on_device, path = save_everywhere(link, rec, HostCache(tmp_path))
    assert on_device and path.is_file()
    assert link.calls == ["stop", "start"] and link.state == "streaming"
    # a new link to the same flash (a reboot) reads it back
    again = FlashLink(flash, info)
    assert read_device(again) == CalibrationRecord.from_json(rec.to_blob())
    loaded = load_for_device(again, SensorConfig("sim"), cache=HostCache(tmp_path), now=NOW)
    assert loaded.source == "device" and loaded.record.id == rec.id and loaded.assessment.usable
    # the host copy (with every point) is preferred for the details
    assert loaded.record.points == rec.points


def test_load_for_device_refuses_another_configuration_but_keeps_the_candidate(tmp_path):
    flash: dict = {}
    write_device(FlashLink(flash, {}) if False else _stopped(FlashLink(flash, {})), make_record())
    loaded = load_for_device(FlashLink(flash, {"uid": UID, "sensor": "hx711"}), SensorConfig("hx711"),
                             cache=HostCache(tmp_path), now=NOW)
    assert loaded.record is None and loaded.candidate is not None
    assert "another configuration" in loaded.assessment.refusal


def _stopped(link):
    link.state = "connected"
    return link


def test_without_device_storage_the_host_copy_is_used_and_the_ui_is_told(tmp_path):
    cache = HostCache(tmp_path)
    rec = make_record()
    cache.save(rec)
    link = PlainLink({"uid": UID, "sensor": "sim"})
    assert write_device(link, rec) is False and read_device(link) is None
    loaded = load_for_device(link, SensorConfig("sim"), cache=cache, now=NOW)
    assert loaded.source == "host" and loaded.record == rec and not loaded.storage_supported
    assert NO_DEVICE_STORAGE in loaded.messages


def test_a_device_with_none_but_a_host_copy_says_so(tmp_path):
    cache = HostCache(tmp_path)
    cache.save(make_record())
    loaded = load_for_device(FlashLink({}, {"uid": UID, "sensor": "sim"}), SensorConfig("sim"), cache=cache, now=NOW)
    assert loaded.source == "host" and any("has no calibration stored" in m for m in loaded.messages)
    nothing = load_for_device(FlashLink({}, {"uid": "beef", "sensor": "sim"}), SensorConfig("sim"),
                              cache=cache, now=NOW)
    assert nothing.record is None and "no calibration" in nothing.assessment.refusal


def test_a_damaged_device_blob_is_a_user_error():
    with pytest.raises(UserError, match="cannot be read"):
        read_device(FlashLink({"blob": b"\xff\x00garbage"}, {}))


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize("value, unit, newtons", [(500, "g", 4.903325), (2, "kg", 19.6133), (10, "lb", 44.4822),
                                                  (12.5, "N", 12.5), (1, "kgf", 9.80665), (1, "lbf", 4.44822)])
def test_reference_units_round_trip(value, unit, newtons):
    assert units.reference_to_n(value, unit) == pytest.approx(newtons)
    assert units.n_to_reference(units.reference_to_n(value, unit), unit) == pytest.approx(value)
    assert units.reference_to_n(value, unit.upper()) == pytest.approx(newtons)


def test_probe_presets_and_the_thumb_sensor():
    assert units.PROBE_PRESETS_CM2 == {"0.5 cm² tip": 0.5, "1 cm² probe": 1.0, "2 cm² tip": 2.0}
    assert units.probe_area("0.5 cm² tip") == 0.5 and units.probe_area("2") == 2.0 and units.probe_area(1) == 1.0
    assert units.probe_area("thumb") is None and "force" in units.THUMB_NOTE and "area" in units.THUMB_NOTE
    assert units.probe_name(2.0) == "2 cm² tip" and units.probe_name(None) == "thumb sensor"
    with pytest.raises(ValueError, match="unknown probe"):
        units.probe_area("finger")
    with pytest.raises(ValueError, match="positive"):
        units.probe_area("0")
    # 20 N on each preset, through kPa and back
    for area in units.PROBE_PRESETS_CM2.values():
        kpa = units.to_display(20.0, "kPa", area)
        assert kpa == pytest.approx(200.0 / area)
        assert units.from_display(kpa, "kPa", area) == pytest.approx(20.0)


def test_record_json_is_plain_json():
    json.loads(make_record().to_json())
    assert isinstance(make_record().model, LinearModel)
