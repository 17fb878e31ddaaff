"""The firmware on an emulated Pico: cost and allocation per sample, and the highest rate kept.

Needs ``POINTDOSE_PICO_UF2`` (a MicroPython RPI_PICO ``.uf2``; docs/firmware.md) and node with
rp2040js; without them it prints why and returns no figures.

1. **Cost per sample** (emulated µs, the emulated chip's own ``ticks_us``): the real device loop
   (``Device.step``) with the board's real sensor objects — ``ADCSensor`` on ``machine.ADC(26)``
   (8× oversampling, the FSR model behind it) and ``HX711Sensor`` bit-banging GP16/GP17 against the
   HX711 model — writing frames to the tests' duplex stdio fake (``FakeStdio`` polled through
   ``FakeSelectPoll``: Python code, slower than the board's C stdio, so this is an upper bound).
   The firmware's own estimate (the ``cost_us`` of its ``rate`` reply) is reported beside it. ADC: the clock is faked so every ``step()``
   takes one sample (as in bench_firmware.py); HX711: only the passes that take a sample are timed.
   **Bytes allocated per sample**: ``gc.mem_alloc()`` with the GC off over the same loop.
2. **Highest rate with 0 missed slots**: the device streams at each rate for a few emulated
   seconds (a ``ping`` every 0.5 emulated s, as DeviceLink feeds the watchdog), decoded by the
   host's ``StreamDecoder`` (raw device times); *missed slots* are the schedule's slots in the
   stream's device-time span less the samples received (a late sample fills its slot; its lateness
   shows in the longest interval between samples). The emulator is paced to wall time and may fall behind on a loaded machine: then the rate
   the *emulated* chip sustains is still what is measured (device time), not the host's.

rp2040js' instruction timing is approximate (no flash wait states, no bus contention): treat the
figures as estimates until a real Pico confirms them. Target: 1 kHz ADC and 80 SPS HX711.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

ADC_RATES = (200, 300, 400, 500, 800, 1000)  # after the first stream `rate` refuses from the work it timed
HX711_RATES = (10, 80)
STREAM_EMULATED_S = 3.0

_BOARD_SCRIPT = r"""
import gc, time, machine
import pd_config
from pd_clock import Clock, FakeClock
from pd_device import Device, StreamPoller
from pd_fakeio import FakeSelectPoll, FakeStdio

def device(sensor, clock, rate):
    cfg = dict(pd_config.COMMON)
    cfg.update(rate=rate, batch_us=4000, watchdog_ms=300000, ring=512)
    io = FakeStdio()        # one duplex object, as a board's stdio; counts what is written
    dev = Device(cfg, sensor, clock, io, io, kbd_intr=lambda c: None, boot=b"bnch",
                 poller=StreamPoller(io, io, poll=FakeSelectPoll))
    dev.cmd_start(1, [], clock.now())
    return dev

def adc(n):
    from pd_adc import ADCSensor
    clock = FakeClock(0)
    dev = device(ADCSensor(machine.ADC(26), oversample=8, rate=1000), clock, 1000)
    step = dev.step
    sched = dev.sched
    def drive(k):
        for _ in range(k):
            w = sched.wait_us(clock.now())
            if w:
                clock.advance(w)
            step()
    drive(50)
    gc.collect()
    s0 = dev.seq
    t0 = time.ticks_us()
    drive(n)
    us = time.ticks_diff(time.ticks_us(), t0)
    k = dev.seq - s0
    gc.collect(); gc.disable()
    a0 = gc.mem_alloc()
    drive(n)
    a1 = gc.mem_alloc()
    gc.enable()
    print("RESULT adc %.2f %.3f %d" % (us / k, (a1 - a0) / n, k))

def hx711(n):
    from pd_hx711 import HX711, HX711Sensor
    Pin = machine.Pin
    hx = HX711(Pin(16, Pin.IN), Pin(17, Pin.OUT), gain=128, rate=80, rate_pin=Pin(18, Pin.OUT),
               irq_off=machine.disable_irq, irq_on=machine.enable_irq)
    clock = Clock()
    dev = device(HX711Sensor(hx), clock, 80)
    step = dev.step
    ticks = time.ticks_us
    diff = time.ticks_diff
    def run(k, timed):
        spent = 0
        s0 = dev.seq
        while dev.seq - s0 < k:
            s = dev.seq
            t0 = ticks()
            step()
            t1 = ticks()
            if dev.seq != s:
                spent += diff(t1, t0)
        return spent
    run(8, False)
    gc.collect()
    spent = run(n, True)
    gc.collect(); gc.disable()
    a0 = gc.mem_alloc()
    run(n, False)
    a1 = gc.mem_alloc()
    gc.enable()
    print("RESULT hx711 %.2f %.3f %d" % (spent / n, (a1 - a0) / n, n))

CALL
"""


MASK = (1 << 30) - 1


def _missed(seq: np.ndarray, t_us: np.ndarray, period_us: float) -> int:
    """Scheduled slots without a sample: the slots in the stream's device-time span less the samples
    received (a sample taken late still fills its slot, as the firmware's ``Schedule`` counts; a
    sample lost on the way, a sequence gap, leaves its slot empty)."""
    if len(seq) < 2:
        return 0
    slots = int(round(int(np.sum(np.diff(t_us) & MASK)) / period_us)) + 1
    return max(0, slots - len(seq))


def _max_gap(t_us: np.ndarray) -> int:
    """The longest device-time interval between two samples received, µs (lateness, jitter)."""
    return int(np.max(np.diff(t_us) & MASK)) if len(t_us) > 1 else 0


def _set_rate(pico, rate: int) -> tuple[bool, str]:
    """Ask for ``rate``: (accepted, the firmware's own cost per sample in µs or its refusal)."""
    from pointdose.link import DeviceLink
    from pointdose.link.device_link import DeviceCommandError

    with DeviceLink(pico.port, hello_timeout=60, stall_timeout=60) as link:
        try:
            reply = link.set_rate(rate, timeout=60)
        except DeviceCommandError as exc:
            return False, exc.reply.text
        return True, reply.fields.get("cost_us", "")


def _stream(pico, rate: int) -> tuple[int, int, int]:
    """(samples, missed slots, longest interval in µs) of STREAM_EMULATED_S emulated seconds at ``rate``, from the raw frames
    (device times as sent: the host's clock mapping would blur them when the emulator lags)."""
    import serial

    from pointdose.protocol.decoder import StreamDecoder

    dec = StreamDecoder()
    seq: list[np.ndarray] = []
    t_us: list[np.ndarray] = []
    with serial.Serial(pico.port, timeout=0.05) as ser:
        ser.write(b"start\n")
        t0 = pico.ctl.emulated_us()
        deadline = time.monotonic() + 600
        last_ping = t0
        while (now := pico.ctl.emulated_us()) - t0 < STREAM_EMULATED_S * 1e6 and time.monotonic() < deadline:
            got = dec.feed(ser.read(65536))
            seq.append(got.samples["seq30"])
            t_us.append(got.samples["t30_us"])
            # the liveness watchdog, fed every 0.5 s of *device* time as DeviceLink does in real time
            # (paced by the host's clock, a lagging emulator would see many more commands a second)
            if now - last_ping > 500_000:
                ser.write(b"7 ping\n")
                last_ping = now
        ser.write(b"stop\n")
        end = time.monotonic() + 2
        while time.monotonic() < end:
            got = dec.feed(ser.read(65536))
            seq.append(got.samples["seq30"])
            t_us.append(got.samples["t30_us"])
    s = np.concatenate(seq).astype(np.int64)
    t = np.concatenate(t_us).astype(np.int64)
    # the first samples after `start` and the last before `stop` are at the stream's edges: skip them
    return len(s), _missed(s[2:-2], t[2:-2], 1e6 / rate), _max_gap(t[2:-2])


def run() -> list[tuple[str, float, str]]:
    from pointdose.sim.pico import UF2_ENV, EmulatedPico, PicoSettings, PicoUnavailable, raw_exec

    if not os.environ.get(UF2_ENV):
        print(f"  skipped: set {UF2_ENV} to a MicroPython RPI_PICO .uf2 to measure the firmware on an emulated Pico")
        return []
    out: list[tuple[str, float, str]] = []
    for sensor, rates, call in (("adc", ADC_RATES, "adc(2000)"), ("hx711", HX711_RATES, "hx711(80)")):
        try:
            pico = EmulatedPico(PicoSettings(sensor=sensor, rate_hz=rates[0], cycle=(20, 1, 1, 1, 1)))
            pico.READY_TIMEOUT_S = 300
            pico.start()
        except PicoUnavailable as exc:
            print(f"  skipped: {exc}")
            return out
        try:
            best = 0
            for rate in rates:
                accepted, cost = _set_rate(pico, rate)
                if not accepted:
                    print(f"  ({sensor} {rate} Hz refused by the firmware: {cost})")
                    continue
                if cost:
                    out.append((f"pico_{sensor}_{rate}hz_firmware_cost", float(cost), "emulated us"))
                n, missed, gap = _stream(pico, rate)
                out.append((f"pico_{sensor}_{rate}hz_samples", float(n), "samples"))
                out.append((f"pico_{sensor}_{rate}hz_missed_slots", float(missed), "slots"))
                out.append((f"pico_{sensor}_{rate}hz_longest_interval", float(gap), "emulated us"))
                if missed == 0 and n > 0:
                    best = rate
            out.append((f"pico_{sensor}_max_rate_0_missed", float(best), "Hz"))
            text = raw_exec(pico.port, _BOARD_SCRIPT.replace("CALL", call), timeout=900)
            for line in text.splitlines():
                if line.startswith("RESULT "):
                    _, tag, us, alloc, n = line.split()
                    out.append((f"pico_{tag}_us_per_sample", float(us), "emulated us"))
                    out.append((f"pico_{tag}_bytes_per_sample", float(alloc), "bytes"))
        finally:
            pico.close()
    return out


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name}: {value:,.6g} {unit}")
