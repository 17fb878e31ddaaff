"""DeviceLink ↔ the firmware on an emulated Pico: streams, every command, cues, limit, buttons.

Pin numbers are the firmware's pico-hx711 / pico-fsr profiles (firmware/pd_config.py): HX711 DOUT
GP16, PD_SCK GP17 (RATE wired to GP18 here), FSR divider on GP26, LED GP25, buzzer GP15, buttons
release GP10, pain GP11, stop GP12. Durations are measured in emulated µs from the pins' edges.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from pico_helpers import T, open_link, wait_emulated, wait_for

from pointdose.link.device_link import DeviceCommandError
from pointdose.protocol.wire import crc16
from pointdose.sim.pico import BUZZER_PIN, LED_PIN

ZERO, PER_N = 42000, 14000  # the HX711 model's counts (emulator defaults)


def _rows(link):
    return link.ring.last(len(link.ring))


def _stream(link, n: int):
    """Start, wait for ``n`` more samples, stop; the samples received."""
    before = link.stats.samples
    link.start(timeout=T)
    wait_for(lambda: link.stats.samples - before >= n, what=f"{n} samples")
    link.stop(timeout=T)
    return _rows(link)


def _contiguous(rows) -> None:
    seq = rows["seq"][rows["segment"] == rows["segment"][-1]]
    assert len(seq) > 0
    assert np.all(np.diff(seq) == 1), f"sequence gaps at {np.nonzero(np.diff(seq) != 1)[0][:5]}"


# ----------------------------------------------------------------------------- hello and streams
def test_hello_says_rp2_and_hx711(hx711_pico):
    with open_link(hx711_pico) as link:
        dev = link.device
    assert dev.board == "rp2"
    assert dev.sensor == "hx711"
    assert dev.proto in ("1", "2")
    assert dev.rate_hz == 80
    assert int(dev.fields["mpy"]) & 0xFF == 6  # .mpy version 6: MicroPython 1.23 and later


def test_hx711_stream_is_contiguous_and_follows_the_force(hx711_pico):
    ctl = hx711_pico.ctl
    ctl.request("force 10")
    with open_link(hx711_pico) as link:
        wait_emulated(hx711_pico, 50_000)
        rows = _stream(link, 160)  # two emulated seconds at 80 SPS
        stats = link.stats
    _contiguous(rows)
    assert stats.lost_samples == 0 and stats.crc_errors == 0 and stats.framing_errors == 0
    tail = rows["raw"][-40:]
    assert abs(statistics.median(tail) - (ZERO + 10 * PER_N)) < 1000
    ctl.request("force 0")


def test_hx711_rate_pin_switches_10_and_80_sps(hx711_pico):
    with open_link(hx711_pico) as link:
        assert link.set_rate(10, timeout=T).fields["rate"] == "10"
        rows = _stream(link, 12)
        dt = np.diff(rows["t_dev_s"][-10:])
        assert 0.09 < float(np.median(dt)) < 0.11  # the chip's 10 SPS, stamped in device time
        with pytest.raises(DeviceCommandError) as refused:
            link.set_rate(20, timeout=T)
        assert refused.value.status == 2
        assert link.set_rate(80, timeout=T).fields["rate"] == "80"


def test_adc_stream_is_contiguous_and_follows_the_fsr(adc_pico):
    ctl = adc_pico.ctl
    with open_link(adc_pico) as link:
        assert link.device.sensor == "adc" and link.device.board == "rp2"
        ctl.request("force 0")
        unloaded = _stream(link, 200)["raw"][-50:]
        ctl.request("force 5")
        wait_emulated(adc_pico, 20_000)
        light = _stream(link, 200)["raw"][-50:]
        ctl.request("force 20")
        wait_emulated(adc_pico, 20_000)
        rows = _stream(link, 200)
        stats = link.stats
    _contiguous(rows)
    assert stats.lost_samples == 0
    heavy = rows["raw"][-50:]
    assert statistics.median(unloaded) < 500
    assert 1000 < statistics.median(light) < statistics.median(heavy)
    # FSR 1.5 kΩ at 20 N against 10 kΩ: 0.87 of full scale
    assert 0.80 * 65535 < statistics.median(heavy) < 0.93 * 65535
    ctl.request("force 0")


def test_adc_rate_limits(adc_pico):
    with open_link(adc_pico) as link:
        for bad in (0, 5000):
            with pytest.raises((DeviceCommandError, Exception)):
                link.command(f"rate {bad}", timeout=T)
        assert link.set_rate(200, timeout=T).fields["rate"] == "200"


def test_adc_rate_is_judged_from_the_loop_timed_on_the_board(adc_pico):
    # not streaming, `rate` times a dry run of the real loop (the bench alone, reads, polls and a
    # frame encoded, missed most of the work and accepted 1 kHz that then missed ~20 % of its
    # slots); while streaming it uses the stream's own timing. Both agree, and 1 kHz fits
    # (issue 9, item 3.2)
    with open_link(adc_pico) as link:
        dry = link.set_rate(1000, timeout=T).fields
        assert dry["rate"] == "1000" and int(dry["seen_us"]) > 0, dry
        link.start(timeout=T)
        wait_emulated(adc_pico, 2_500_000)     # two whole STATUS seconds
        seen = link.set_rate(1000, timeout=T).fields
        link.stop(timeout=T)
        assert link.set_rate(200, timeout=T).fields["rate"] == "200"
    d, s = int(dry["seen_us"]), int(seen["seen_us"])
    assert abs(d - s) < 0.35 * s, (dry, seen)
    assert 1000 * s < 700_000, seen                   # the 70 % budget: `rate` keeps 1 kHz


# ----------------------------------------------------------------------------- every command
def test_every_command_in_the_protocol(hx711_pico):
    with open_link(hx711_pico) as link:
        c = lambda text: link.command(text, timeout=T).fields  # noqa: E731
        assert c("info")["board"] == "rp2"
        assert c("ping abc")["pong"] == "abc"
        assert c("status")["ok"] == "1" and link.status is not None
        assert c("start")["streaming"] == "1"
        tare = c("tare 16")
        assert int(tare["n"]) == 16 and abs(int(tare["tare"]) - ZERO) < 1000
        assert c("stop")["streaming"] == "0"
        assert c("rate 80")["rate"] == "80"
        cue = c("cue hold in 0")
        assert (cue["phase"], cue["band"]) == ("hold", "in")
        assert c("cue")["phase"] == "hold"
        assert c("limit max 8000000")["limit_max"] == "8000000"
        assert c("limit min -8000000")["limit_min"] == "-8000000"
        assert c("limit off")["limit_max"] == "off"
        io = c("io")
        assert set(io) >= {"led", "buzzer", "alarm", "buttons", "pressed"}
        assert set(io["buttons"].split(",")) == {"release", "pain", "stop"}
        assert c("calw 0 0102")["n"] == "2"
        assert c(f"cal commit 2 {crc16(bytes([1, 2])):04x}")["len"] == "2"
        assert c("cal")["len"] == "2"
        assert c("cal read")["frames"] == "1"
        assert c("cal clear")["calblob"] == "none"
        c("cue off")
        with pytest.raises(DeviceCommandError) as sim:
            c("sim force 3")  # the simulated sensor's command: not on a board's HX711
        assert sim.value.status == 3
        with pytest.raises(DeviceCommandError) as again:
            c("again")  # under a fresh id: no reply kept for it (a lost reply is asked for under its own id)
        assert again.value.status == 3 and "no reply kept" in again.value.reply.text
        with pytest.raises(DeviceCommandError) as unknown:
            c("fly")
        assert unknown.value.status == 1


# ----------------------------------------------------------------------------- cues on the pins
def _bursts(edges, gap_us: int):
    """Group PWM edges into tone bursts: (start µs, end µs, median half-period µs)."""
    out, cur = [], []
    for level, t in edges:
        if cur and t - cur[-1] > gap_us:
            out.append(cur)
            cur = []
        cur.append(t)
    if cur:
        out.append(cur)
    return [(b[0], b[-1], statistics.median(np.diff(b)) if len(b) > 2 else 0) for b in out]


def _levels(edges):
    """(level, duration µs) of each complete interval between edges."""
    return [(edges[i][0], edges[i + 1][1] - edges[i][1]) for i in range(len(edges) - 1)]


def test_cue_press_below_blinks_led_70_percent_and_ticks_1khz(hx711_pico):
    ctl = hx711_pico.ctl
    with open_link(hx711_pico) as link:
        link.send_cue("press", "below", 0, timeout=T)  # P = 1000 ms
        wait_emulated(hx711_pico, 600_000)  # past the phase's chirp
        led = ctl.watch(LED_PIN)
        buzz = ctl.watch(BUZZER_PIN)
        wait_emulated(hx711_pico, 3_500_000)
        ctl.request(f"unwatch {LED_PIN}")
        ctl.request(f"unwatch {BUZZER_PIN}")
        link.send_cue("off", timeout=T)
    on = [d for lv, d in _levels(led) if lv == 1]
    off = [d for lv, d in _levels(led) if lv == 0]
    assert len(on) >= 2 and len(off) >= 2, led
    assert all(abs(d - 700_000) < 20_000 for d in on), on
    assert all(abs(d - 300_000) < 20_000 for d in off), off
    bursts = _bursts(buzz, 5_000)
    assert len(bursts) >= 3, bursts
    starts = [b[0] for b in bursts]
    assert all(abs(d - 1_000_000) < 20_000 for d in np.diff(starts)), starts
    assert all(abs((b[1] - b[0]) - 30_000) < 5_000 for b in bursts[1:]), bursts
    assert all(abs(b[2] - 500) < 25 for b in bursts), bursts  # 1 kHz: 500 µs between edges


def test_limit_alarm_with_the_host_silent(hx711_pico):
    ctl = hx711_pico.ctl
    ctl.request("force 0")
    limit = ZERO + 15 * PER_N
    with open_link(hx711_pico) as link:
        link.set_limit(limit, timeout=T)
        assert link.io(timeout=T)["alarm"] == "0"
    # the host is gone: nothing is sent; the device must raise the alarm on its own
    led = ctl.watch(LED_PIN)
    buzz = ctl.watch(BUZZER_PIN)
    ctl.request("force 25")
    wait_for(lambda: len(led) >= 12, what="the alarm blinking the LED")
    ctl.request(f"unwatch {LED_PIN}")
    ctl.request(f"unwatch {BUZZER_PIN}")
    ctl.request("force 0")
    steady = _levels(led)[2:]
    assert steady and all(abs(d - 100_000) < 15_000 for _, d in steady), steady  # 100/100 ms
    bursts = _bursts(buzz, 5_000)
    assert len(bursts) >= 2
    assert all(abs((b[1] - b[0]) - 150_000) < 15_000 for b in bursts[:-1]), bursts  # 150 ms on
    assert all(abs(b[2] - 1e6 / 6000) < 20 for b in bursts), bursts  # 3 kHz
    with open_link(hx711_pico) as link:
        io = link.io(timeout=T)
        assert int(io["alarms"]) >= 1
        link.command("limit off", timeout=T)


def test_watchdog_stops_a_stream_when_the_host_stops_pinging(hx711_pico):
    with open_link(hx711_pico, ping_interval=1e6) as link:
        link.start(timeout=T)
        wait_for(lambda: any(e.code == 1 for _, e in link.errors), what="ERROR 1 (liveness watchdog)")
        status = link.command("status", timeout=T)
        assert status.ok
        wait_for(lambda: link.status is not None and link.status.watchdog_stopped, what="STATUS watchdog flag")


def test_buttons_through_gpio_are_debounced(hx711_pico):
    ctl = hx711_pico.ctl
    with open_link(hx711_pico) as link:
        link.button_events.clear()
        ctl.request("pulse 11 0 8000")  # an 8 ms glitch: under the 20 ms debounce
        wait_emulated(hx711_pico, 200_000)
        ctl.request("pulse 11 0 100000")  # a 100 ms press of "pain"
        wait_for(lambda: len(link.button_events) >= 2, what="press and release")
        wait_emulated(hx711_pico, 200_000)
        events = list(link.button_events)
    assert [(e.name, e.pressed) for _, e in events] == [("pain", True), ("pain", False)], events
    held_us = events[1][1].t_us - events[0][1].t_us
    assert abs(held_us - 100_000) < 10_000, held_us
