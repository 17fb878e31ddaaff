"""Device features end to end: DeviceLink (or a raw port) on the pty of the real firmware (unix port).

Calibration blob kept across a power cycle and refused while streaming; the cue echoed in CUE_STATE and
shown on the fake LED/buzzer; the firmware's own over-pressure alarm while the host is silent; a
simulated button press in the stream's time; the simulated tremor.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import serial

from pointdose.link import DeviceLink
from pointdose.link.device_link import DeviceCommandError
from pointdose.protocol.decoder import StreamDecoder
from pointdose.protocol.wire import CueState, DeviceError, ErrorCode, ReplyStatus, crc16
from waiting import wait_until

pytestmark = pytest.mark.needs_unix_port


def read_frames(ser: serial.Serial, decoder: StreamDecoder, seconds: float):
    """Read (never write) for ``seconds``: [(kind, item)] in wire order, kind 's' (samples) or 'm'."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        data = ser.read(4096)
        if data:
            d = decoder.feed(data)
            pos = 0
            for msg, p in zip(d.messages, d.positions):
                if p > pos:
                    out.append(("s", d.samples[pos:p]))
                pos = p
                out.append(("m", msg))
            if pos < len(d.samples):
                out.append(("s", d.samples[pos:]))
    return out


def test_calibration_blob_survives_a_power_cycle_and_is_refused_while_streaming(sim):
    blob = bytes((i * 7 + 3) & 0xFF for i in range(700))
    with DeviceLink(sim.port) as link:
        assert link.device.calblob_crc is None and link.read_calibration() is None
        link.write_calibration(blob)
        assert link.read_calibration() == blob
        link.start()
        with pytest.raises(DeviceCommandError) as exc:
            link.write_calibration(b"other")
        assert exc.value.status == ReplyStatus.NOT_NOW and "stop streaming first" in exc.value.reply.text
        with pytest.raises(DeviceCommandError):
            link.clear_calibration()
        assert link.read_calibration() == blob  # reading is fine while streaming
        link.stop()
    sim.restart()
    with DeviceLink(sim.port) as link:
        assert link.device.calblob_crc == f"{crc16(blob):04x}"
        assert link.read_calibration() == blob
        link.clear_calibration()
    sim.restart()
    with DeviceLink(sim.port) as link:
        assert link.device.calblob_crc is None and link.read_calibration() is None


def _io(link: DeviceLink) -> dict[str, str]:
    return link.command("io").fields


def test_cue_is_echoed_and_drives_the_fake_led_and_buzzer(sim):
    with DeviceLink(sim.port) as link:
        assert _io(link)["buttons"] == "pain,release,stop"
        link.send_cue("hold", "in", 0)
        assert link.cue_state.phase == "hold" and link.cue_state.band == "in"
        assert (link.cue_state.led_on_ms, link.cue_state.led_off_ms) == (1000, 0)  # steady in the band
        assert _io(link)["led"] == "1"
        link.send_cue("press", "below", 40)
        cs = link.cue_state
        assert (cs.phase, cs.band, cs.level) == ("press", "below", 40)
        assert cs.led_on_ms + cs.led_off_ms == 1000 - 8 * 40 and cs.buzzer_hz == 1000
        leds, buzz = set(), set()
        deadline = time.monotonic() + 15.0  # a guard: both levels come within one 680 ms blink
        while time.monotonic() < deadline and (len(leds) < 2 or len(buzz) < 2):
            f = _io(link)
            leds.add(f["led"])
            buzz.add(f["buzzer"])
            time.sleep(0.01)
        assert leds == {"0", "1"} and buzz == {"0", "1"}, "the LED blinks and the buzzer ticks below the band"
        link.send_cue("off")
        assert link.cue_state.phase == "off" and _io(link)["led"] == "0"  # not streaming: dark


def test_firmware_alarm_fires_while_the_host_is_silent(make_sim):
    sim = make_sim(watchdog_ms=400)
    with serial.Serial(sim.port, timeout=0.05) as ser:
        dec = StreamDecoder()
        ser.write(b"1 sim noise 0\n2 limit 100000\n3 sim profile 1.2:0,1.6:10\n4 cue hold in 0\n5 start\n")
        # from here on the host says nothing: the watchdog stops the stream after 0.4 s, the force
        # passes the limit (42000 + 10 N x 14000 counts) about 1.3 s after the profile started
        events = read_frames(ser, dec, 3.0)
        errors = [m for k, m in events if k == "m" and isinstance(m, DeviceError)]
        assert [e.code for e in errors] == [ErrorCode.WATCHDOG, ErrorCode.OVER_PRESSURE], errors
        over = errors[1]
        assert int(over.fields["raw"]) > 100000 and over.fields["limit"] == "max:100000"
        i_wd = next(i for i, (k, m) in enumerate(events) if k == "m" and getattr(m, "code", 0) == ErrorCode.WATCHDOG)
        assert not any(k == "s" for k, _ in events[i_wd + 1:]), "samples sent after the watchdog stopped the stream"
        cues = [m for k, m in events if k == "m" and isinstance(m, CueState)]
        assert cues[-1].firmware_alarm and cues[-1].phase == "alarm"
        assert any(c.phase == "off" and not c.firmware_alarm for c in cues), "the stale cue is dropped at the watchdog"
    with DeviceLink(sim.port) as link:  # the host comes back: the device is still in alarm
        f = _io(link)
        assert f["alarm"] == "1" and f["alarms"] == "1" and f["buzzer_hz"] == "3000"
        link.command("sim force 0")
        assert wait_until(lambda: _io(link)["alarm"] == "0", timeout=3), "the alarm ends once back inside"
        assert link.cue_state is None or not link.cue_state.firmware_alarm or wait_until(
            lambda: not link.cue_state.firmware_alarm, timeout=1)


def test_sim_button_reaches_on_button_in_stream_time(sim):
    with DeviceLink(sim.port) as link:
        got = []
        link.on_button = lambda t, name: got.append((t, name))
        link.start()
        assert wait_until(lambda: link.stats.samples >= 200, timeout=10)
        link.command("sim button pain")
        assert wait_until(lambda: got, timeout=3)
        assert wait_until(lambda: link.stats.samples >= 400, timeout=10)
        link.stop()
        t, name = got[0]
        assert name == "pain" and list(link.buttons)[0].name == "pain"
        rows = link.ring.last(link.stats.samples)
        assert rows["t_dev_s"][0] < t < rows["t_dev_s"][-1]
        assert wait_until(lambda: [e.pressed for _, e in link.button_events] == [True, False], timeout=2)


def test_sim_tremor_shows_at_its_frequency(sim):
    with DeviceLink(sim.port) as link:
        link.command("sim noise 0")
        link.command("sim tremor 2 10")
        link.start()
        assert wait_until(lambda: link.stats.samples >= 800, timeout=10)
        link.stop()
        rows = link.ring.last(800)
        raw, t = rows["raw"].astype(float), rows["t_dev_s"]
        raw -= raw.mean()
        # On the device's own timestamps: a loaded host makes the device skip slots (STATUS missed), so
        # the samples are not evenly spaced at 200 Hz and an FFT at the nominal rate reads a wrong pitch.
        freqs = np.arange(2.0, 30.0, 0.05)
        power = np.abs(np.exp(-2j * np.pi * freqs[:, None] * (t - t[0])[None, :]) @ raw)
        assert freqs[np.argmax(power)] == pytest.approx(10, abs=0.5)
        assert (raw.max() - raw.min()) / 2 == pytest.approx(2 * 14000, rel=0.1)  # 2 N at 14000 counts/N
