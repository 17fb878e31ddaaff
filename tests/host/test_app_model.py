"""The app's model on plain CPython (no display, no DearPyGui)."""

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointdose.app import model as m
from pointdose.link.info import DeviceInfo

DTYPE = np.dtype([("seq", np.int64), ("t_dev_s", np.float64), ("t_host_rx_s", np.float64),
                  ("raw", np.int32), ("segment", np.int32)])


class Ring:
    """The smallest ring with SampleRing's public surface the model uses."""

    def __init__(self, t, raw, rx=None):
        self.data = np.zeros(len(t), dtype=DTYPE)
        self.data["seq"] = np.arange(len(t))
        self.data["t_dev_s"] = t
        self.data["t_host_rx_s"] = t if rx is None else rx
        self.data["raw"] = raw
        self.version = 1

    def window(self, seconds):
        t = self.data["t_dev_s"]
        if t.size == 0:
            return self.data.copy()
        return self.data[t >= t[-1] - seconds].copy()


class Link:
    def __init__(self, ring, info, state="STREAMING", stats=None):
        self.ring, self.device, self.state = ring, DeviceInfo.from_fields(info), state
        self.stats = stats or {"samples": len(ring.data), "lost_samples": 3, "device_overflow": 0,
                               "crc_errors": 1, "framing_errors": 0, "reconnects": 2}


CAL = {"fw": "0.1.0", "proto": "1", "board": "rp2", "sensor": "hx711", "rate": "200", "uid": "e66138",
       "tare": "0", "cal": "linear:2000:50000"}


def status(link, **kw):
    return m.SourceStatus(phase="connected", message="Connected", link=link, port="/dev/ttyACM0", **kw)


# --------------------------------------------------------------------------- model never loads dpg


def test_model_does_not_import_dearpygui():
    assert "dearpygui" not in getattr(m, "__dict__", {})
    assert all("dearpygui" not in line for line in open(m.__file__) if line.startswith(("import", "from")))


def test_app_command_parser_does_not_import_dearpygui():
    import subprocess

    code = ("import sys, argparse; import pointdose.commands.app as a; a.add_arguments(argparse.ArgumentParser());"
            "import pointdose.app.model, pointdose.app.controller;"
            "print('dearpygui' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- calibration


def test_factory_scale_uses_zero_when_tare_is_zero():
    from pointdose.calibration import factory_converter

    cal = factory_converter(CAL)
    assert cal.source == "factory" and cal.shift == 0.0
    assert cal.force_n(52000) == pytest.approx(1.0)


def test_factory_scale_prefers_a_nonzero_tare():
    from pointdose.calibration import factory_converter

    cal = factory_converter({**CAL, "tare": "51000"})
    assert cal.force_n(53000) == pytest.approx(1.0)


@pytest.mark.parametrize("text", ["none", "", "linear:0:5", "linear:abc:5", "poly:1:2:3", "linear:1"])
def test_no_or_bad_calibration_means_uncalibrated(text):
    lm = m.LiveModel(m.DisplaySettings(unit="N"))
    assert not lm.scale_for({"cal": text}).calibrated
    assert not lm.scale_for({}).calibrated
    assert lm.scale_for({"cal": text, "tare": "100"}).values([150])[0] == pytest.approx(50.0)  # counts net of tare


def test_scale_converts_to_the_chosen_unit_and_probe():
    from pointdose.calibration import factory_converter

    cal = factory_converter(CAL)
    # 10 N on 1 cm² = 100 kPa; on 2 cm² = 50 kPa
    assert m.Scale(cal, "kPa", 1.0).values([70000])[0] == pytest.approx(100.0)
    assert m.Scale(cal, "kPa", 2.0).values([70000])[0] == pytest.approx(50.0)
    assert m.Scale(cal, "N", 2.0).values([70000])[0] == pytest.approx(10.0)
    assert m.Scale(cal, "kgf/cm2", 1.0).values([70000])[0] == pytest.approx(100 / 98.0665)


# --------------------------------------------------------------------------- decimation


def test_decimation_keeps_min_max_per_column_and_the_last_sample():
    rng = np.random.default_rng(0)
    x = np.arange(30_000) / 1000.0  # 30 s at 1 kHz
    y = rng.normal(0, 1, x.size)
    y[12_345] = 50.0  # a one-sample spike
    y[20_000] = -40.0
    xd, yd = m.decimate_minmax(x, y, column_width=30.0 / 1000)
    assert xd.size <= 2 * 1000 + 1
    assert yd.max() == 50.0 and yd.min() == -40.0
    assert xd[-1] == x[-1] and yd[-1] == y[-1]
    assert np.all(np.diff(xd) > 0)  # still a function of time, in order
    col = np.floor(x / 0.03).astype(int)
    dcol = np.floor(xd / 0.03).astype(int)
    for c in (0, 411, 999):
        sel = y[col == c]
        got = yd[dcol == c]
        assert got.max() == sel.max() and got.min() == sel.min()


def test_short_series_are_not_decimated():
    x = np.linspace(0, 1, 50)
    y = np.sin(x)
    xd, yd = m.decimate_minmax(x, y, column_width=0.001)
    assert np.array_equal(xd, x) and np.array_equal(yd, y)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=400),
       st.floats(0.001, 0.5))
def test_decimation_properties(values, width):
    y = np.array(values)
    x = np.arange(y.size) * 0.01
    xd, yd = m.decimate_minmax(x, y, width)
    assert yd.max() == y.max() and yd.min() == y.min()
    assert xd[-1] == x[-1] and yd[-1] == y[-1]
    assert set(xd.tolist()) <= set(x.tolist())
    columns = np.unique(np.floor(x / width)).size
    assert xd.size <= max(y.size, 2 * columns + 1)


# --------------------------------------------------------------------------- axis, staleness


def test_nice_ceiling_and_y_limits():
    assert m.nice_ceiling(0.7) == 1.0
    assert m.nice_ceiling(101) == 200.0
    assert m.nice_ceiling(230) == 250.0
    assert m.y_limits(0, 320, 100) == pytest.approx((-15.0, 500.0))
    assert m.y_limits(-5, 10, 100) == pytest.approx((-13.3, 100.0))
    assert m.shorten("/dev/ttyACM0") == "/dev/ttyACM0"
    short = m.shorten("/tmp/pointdose-sim-0qejm_ma/ttySIM0", 20)
    assert len(short) == 20 and short.startswith("…") and short.endswith("_ma/ttySIM0")


def test_raw_counts_axis_frames_the_data_not_zero():
    lo, hi = m.span_limits(-7_976_000, -7_940_000, 1000)
    assert lo <= -7_976_000 and hi >= -7_940_000 and hi - lo < 100_000
    lo, hi = m.span_limits(100, 100, 1000)
    assert lo <= -400 and hi >= 600


def test_stale_detection():
    assert not m.is_stale(10.0, 10.2, 200)
    assert m.is_stale(10.0, 10.6, 200)
    assert not m.is_stale(10.0, 10.4, 10)  # 5 periods at 10 Hz is 0.5 s
    assert m.is_stale(10.0, 10.6, 10)
    assert m.is_stale(None, 1.0, 200)


# --------------------------------------------------------------------------- whole frames


def press_ring(seconds=30.0, rate=200.0, newtons=25.0):
    t = np.arange(0, seconds, 1 / rate) + 1000.0
    raw = 50000 + 2000 * np.where(t > t[-1] - 1.0, newtons, 0.0)
    return Ring(t, raw.astype(np.int32))


def test_frame_readout_in_kpa_with_trace_and_rows():
    ring = press_ring()
    model = m.LiveModel()
    now = float(ring.data["t_dev_s"][-1]) + 0.01
    fv = model.frame(status(Link(ring, CAL)), now, columns=800)
    assert fv.readout == "250" and fv.readout_unit == "kPa" and fv.readout_level == "live"
    # the device's factory scale (hello's cal=), never checked against a reference: said so, as the records do
    assert fv.readout_note == "uncalibrated" and fv.readout_caption == "Pressure now" and fv.units_apply
    assert fv.y_label == "pressure (kPa)"
    assert fv.trace_x.size <= 2 * 800 + 1 and fv.trace_x[-1] == pytest.approx(-0.01)
    assert fv.trace_y.max() == pytest.approx(250.0)
    assert fv.y_limits == pytest.approx((-15.0, 500.0))
    rows = dict(fv.rows)
    assert rows["Device"] == "rp2 · hx711" and rows["Firmware"] == "0.1.0 (protocol 1)"
    assert rows["Lost samples"] == "3" and rows["CRC errors"] == "1" and rows["Reconnects"] == "2"
    assert rows["Sample rate"] == "200 Hz" and rows["Measured rate"].endswith(" Hz")
    assert fv.state_text == "Streaming" and fv.state_level == "ok" and fv.streaming and fv.can_command


def test_frame_in_other_units():
    ring = press_ring()
    now = float(ring.data["t_dev_s"][-1])
    model = m.LiveModel()
    model.set_unit("kgf/cm²")
    fv = model.frame(status(Link(ring, CAL)), now, 800)
    assert fv.readout == "2.55" and fv.readout_unit == "kgf/cm²"
    model.set_unit("lbf")
    fv = model.frame(status(Link(ring, CAL)), now, 800)
    assert fv.readout == "5.6" and fv.y_label == "force (lbf)"
    model.set_unit("kPa")
    model.set_probe_area(0.5)
    assert model.frame(status(Link(ring, CAL)), now, 800).readout == "500"


def test_uncalibrated_shows_counts_and_says_so():
    ring = press_ring()
    now = float(ring.data["t_dev_s"][-1])
    fv = m.LiveModel().frame(status(Link(ring, {**CAL, "cal": "none"})), now, 800)
    assert fv.readout == "100000" and fv.readout_unit == "counts" and fv.readout_caption == "Reading now"
    assert not fv.units_apply
    assert "uncalibrated" in fv.readout_note and "uncalibrated" in fv.y_label


def test_stale_stream_is_flagged_and_new_samples_counted_once():
    ring = press_ring()
    t_last = float(ring.data["t_dev_s"][-1])
    model = m.LiveModel()
    first = model.frame(status(Link(ring, CAL)), t_last + 0.01, 800)
    assert first.new_rx_s.size == ring.data.size
    again = model.frame(status(Link(ring, CAL)), t_last + 2.0, 800)
    assert again.new_rx_s.size == 0
    assert again.readout_level == "stale" and "no data for 2.0 s" in again.readout_note
    assert again.state_level == "warn"


def test_stopped_link_is_not_stale_and_buttons_follow_state():
    ring = press_ring()
    fv = m.LiveModel().frame(status(Link(ring, CAL, state="CONNECTED")), float(ring.data["t_dev_s"][-1]) + 5, 800)
    assert fv.readout_level == "live" and fv.readout_note == "uncalibrated · stopped"
    assert fv.can_command and not fv.streaming


def test_connecting_and_error_states_before_a_link():
    model = m.LiveModel()
    fv = model.frame(m.SourceStatus(phase="scanning", message="Scanning for boards…"), 0.0, 800)
    assert fv.state_text == "Scanning for boards…" and fv.state_level == "busy"
    assert fv.readout == "—" and not fv.can_command and fv.trace_x.size == 0
    err = model.frame(m.SourceStatus(phase="error", message="x", error="/dev/ttyUSB0 is not a pointdose device"), 0, 800)
    assert err.state_level == "error" and "not a pointdose" in err.state_text


def test_simulated_source_is_labelled():
    ring = press_ring()
    fv = m.LiveModel().frame(status(Link(ring, CAL), simulated=True,
                                    backend_label="real firmware on the MicroPython unix port"),
                             float(ring.data["t_dev_s"][-1]), 800)
    assert fv.simulated and "MicroPython unix port" in fv.sim_text


def test_frame_stats_fps_and_latency():
    stats = m.FrameStats()
    for i in range(100):
        stats.record(i / 100.0, np.array([i / 100.0 - 0.02]) if i else np.array([-50.0]))
    report = stats.report()
    assert report["frames"] == 100 and report["samples_displayed"] == 100
    assert report["fps_median"] == pytest.approx(100.0, rel=1e-6)
    assert report["latency_ms"]["median"] == pytest.approx(20.0)  # the first (backlog) batch is left out


def test_before_hello_nothing_is_called_uncalibrated():
    fv = m.LiveModel().frame(m.SourceStatus(phase="connecting", message="Connecting to /dev/ttyACM0…"), 0.0, 800)
    assert fv.readout_unit == "kPa" and fv.readout_note == "" and fv.y_label == "pressure (kPa)"
    assert dict(fv.rows)["Device"] == "—"


class GrowingRing(Ring):
    def grow(self, seconds, rate=200.0, raw=70000):
        t0 = self.data["t_dev_s"][-1]
        t = t0 + np.arange(1, int(seconds * rate) + 1) / rate
        extra = np.zeros(t.size, dtype=DTYPE)
        extra["t_dev_s"] = extra["t_host_rx_s"] = t
        extra["raw"] = raw
        self.data = np.concatenate([self.data, extra])
        self.version += 1


def test_a_slow_frame_leaves_no_backlog():
    ring = GrowingRing(np.arange(0, 5, 1 / 200.0), np.full(1000, 50000, dtype=np.int32))
    model = m.LiveModel()
    link = Link(ring, CAL)
    model.frame(status(link), float(ring.data["t_dev_s"][-1]), 800)
    ring.grow(2.0)  # the GUI was busy for 2 s: 400 samples arrived meanwhile
    now = float(ring.data["t_dev_s"][-1])
    fv = model.frame(status(link), now, 800)
    assert fv.trace_x[-1] == pytest.approx(0.0) and fv.readout == "100"  # the newest sample, at once
    assert fv.new_rx_s.size == 400  # each sample counted the first time it is drawn, once
    assert model.frame(status(link), now, 800).new_rx_s.size == 0


def test_a_status_value_wider_than_the_column_keeps_its_end():
    width = lambda text: 10.0 * len(text)  # noqa: E731 (10 px a character)
    assert m.fit_width("fake://board", 200, width) == "fake://board"
    short = m.fit_width("/tmp/pointdose-sim-b49pg8_1/ttySIM0", 180, width)
    assert short == "…-b49pg8_1/ttySIM0" and width(short) <= 180
    assert m.fit_width("200 Hz", 10, width) == "200 Hz"  # short values are never cut
    assert m.fit_width("anything at all", 0, width) == "anything at all"  # no metrics yet: as it is


def test_the_measured_rate_has_a_row_of_its_own():
    model = m.LiveModel()
    fv = model.frame(m.SourceStatus(phase="connected", message=""), 0.0, columns=800)
    rows = dict(fv.rows)
    assert rows["Sample rate"] == "—" and rows["Measured rate"] == "—"


def test_a_calibration_made_here_drops_the_uncalibrated_note():
    """Factory scale: 'uncalibrated' (values in kPa, error unknown); the Calibrate tab's record: no note."""
    from pointdose.calibration import CalibrationRecord, SensorConfig, Tolerance, fit_points
    from pointdose.calibration.models import Point

    ring = press_ring()
    now = float(ring.data["t_dev_s"][-1]) + 0.01
    model = m.LiveModel()
    assert model.frame(status(Link(ring, CAL)), now, columns=800).readout_note == "uncalibrated"
    pts = [Point(50000 + 2000 * f, f, d) for f, d in ((0, "load"), (10, "load"), (20, "load"), (30, "load"),
                                                      (10, "unload"), (0, "unload"))]
    record = CalibrationRecord.from_fit(fit_points(pts, "linear", tolerance=Tolerance(pct_fs=2.0)), device_uid="e66138",
                                        config=SensorConfig("hx711", probe_area_cm2=1.0),
                                        reference={"kind": "scale", "unit": "kg"}, zero_raw=50000,
                                        raw_limits=(-8388608, 8388607))
    model.set_calibration_record(record)
    fv = model.frame(status(Link(ring, CAL)), now, columns=800)
    assert fv.readout == "250" and fv.readout_note == ""
