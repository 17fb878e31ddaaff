# No heap allocation per sample in steady state: gc.mem_alloc() around many loop passes.
import gc
import sys

import mp_harness as h
from mp_harness import Rig


def _measure(rig, us, step):
    rig.run_us(300000, step)            # warm up: first-call caches, first frames
    gc.collect()
    gc.disable()
    try:
        seq0 = rig.dev.seq
        a0 = gc.mem_alloc()
        rig.run_us(us, step)
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    n = rig.dev.seq - seq0
    print("  alloc %d bytes over %d samples" % (a1 - a0, n))
    return a1 - a0, n


def _stream(rig):
    rig.send("1 start\n", us=0)
    assert rig.dev.streaming


def test_zero_alloc_sim_1khz():
    r = Rig(rate=1000, watchdog_ms=60000, capture=0)
    _stream(r)
    b, n = _measure(r, 3000000, 250)        # 3 s: includes 3 STATUS frames
    assert n > 2900 and r.out.nbytes > 3000 * 5
    assert b == 0, b


def test_zero_alloc_sim_200hz():
    r = Rig(rate=200, watchdog_ms=60000, capture=0)
    _stream(r)
    b, n = _measure(r, 2000000, 500)
    assert n > 390 and b == 0, (b, n)


def test_zero_alloc_hx711_driver_80hz():
    from pd_fakehx711 import FakeHX711
    from pd_hx711 import HX711, HX711Sensor
    from pd_simsensor import SimSource
    r = Rig(sensor="none", rate=80, watchdog_ms=60000, capture=0)
    chip = FakeHX711(r.clock, rate=80, sim=SimSource())
    hx = HX711(chip.dout, chip.sck, rate=80, rate_pin=chip.rate_pin)
    r.dev.sensor = HX711Sensor(hx, sim=chip.sim)
    _stream(r)
    b, n = _measure(r, 2000000, 500)
    assert n >= 155 and b == 0, (b, n)
    assert chip.overwritten == 0


def test_zero_alloc_keepalive_pings_while_streaming():
    # DeviceLink pings twice a second while streaming: that reply allocates nothing, so a stream
    # with only its keep-alives never brings on a garbage collection (~16 ms on an emulated Pico)
    r = Rig(rate=1000, watchdog_ms=60000, capture=1 << 17)
    _stream(r)
    lines = (b"7 ping\n", b"ping\n", b"65535 ping\n")
    r.run_us(300000, 250)
    r.frames()
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc()
        for i in range(6):
            r.inp.feed(lines[i % 3])
            r.run_us(500000, 250)
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    assert a1 - a0 == 0, a1 - a0
    got = [(c, st, t.split(" t=")[0]) for c, st, t in r.replies()]
    assert got == [(7, 0, "pong="), (0, 0, "pong="), (65535, 0, "pong=")] * 2, got
    t = int(r.cmd("8 ping\n")[0][2].split(" t=")[1])
    assert 0 <= (r.clock.now() - t) & h.MASK < 10000, t       # the device time, as cmd_ping says
    assert r.cmd("8 again\n") == r.cmd("8 again\n")            # the reply kept for `again`
    # any other form goes through the parser: an argument is echoed, an upper-case verb accepted
    assert r.cmd("9 ping x\n")[0][2].startswith("pong=x t=")
    assert r.cmd("10 PING\n")[0][:2] == (10, 0) and r.cmd("0 ping\n")[0][:2] == (0, 2)


def test_zero_alloc_cue_lines_while_streaming():
    # a guided session refreshes the cue up to 20 times a second: `cue PHASE BAND LEVEL` is done in
    # place, as cmd_cue does it, without allocating
    from pd_fakeio import FakePin
    pins = {"led": FakePin("led"), "buzzer": FakePin("buzzer")}
    r = Rig(rate=1000, watchdog_ms=60000, capture=1 << 17, pins=pins)
    _stream(r)
    lines = (b"3 cue press below 40\n", b"cue hold in 0\n", b"65535 cue ease above 100\n",
             b"4 cue rest none 7\n", b"5 cue off none 0\n")
    r.run_us(300000, 250)
    r.frames()
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc()
        for ln in lines:
            r.inp.feed(ln)
            r.run_us(50000, 250)
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    assert a1 - a0 == 0, a1 - a0
    fs = r.frames()
    got = [h.reply(p) for t, p in fs if t == 2]
    assert got == [(3, 0, "phase=press band=below level=40 alarm=0"), (0, 0, "phase=hold band=in level=0 alarm=0"),
                   (65535, 0, "phase=ease band=above level=100 alarm=0"), (4, 0, "phase=rest band=none level=7 alarm=0"),
                   (5, 0, "phase=off band=none level=0 alarm=0")], got
    assert len([1 for t, _ in fs if t == 0x10]) == 5        # a CUE_STATE echo for each
    # the same state as cmd_cue (the parser's path) leaves
    r2 = Rig(rate=1000, watchdog_ms=60000, pins={"led": FakePin("led"), "buzzer": FakePin("buzzer")})
    _stream(r2)
    r2.dev.cmd_cue(9, ["ease", "above", "60"], 0)
    r.cmd("9 cue ease above 60\n", us=0)
    a, b = r.dev.cues, r2.dev.cues
    assert (a.phase, a.band, a.level, a.led_on, a.led_off, a.bz_on, a.bz_off, a.bz_hz) == (
        b.phase, b.band, b.level, b.led_on, b.led_off, b.bz_on, b.bz_off, b.bz_hz)
    # other forms still go through the parser: errors as before, upper case refused
    assert r.cmd("6 cue press below 101\n")[0][:2] == (6, 2)
    assert r.cmd("7 cue PRESS below 1\n")[0][:2] == (7, 2)
    assert r.cmd("8 cue press\n")[0] == (8, 0, "phase=press band=none level=0 alarm=0")


class _FakeADC:
    """An ``machine.ADC`` stand-in: ``read_u16`` is a method, so binding it allocates."""

    def __init__(self):
        self.v = 20000

    def read_u16(self):
        self.v = (self.v + 37) & 0xFFFF
        return self.v


def test_zero_alloc_adc_1khz_oversampled():
    from pd_adc import ADCSensor
    sen = ADCSensor(_FakeADC(), oversample=8, rate=1000)
    r = Rig(sensor=sen, rate=1000, watchdog_ms=60000, capture=0)
    _stream(r)
    b, n = _measure(r, 2000000, 250)
    assert n > 1900 and b == 0, (b, n)


def test_zero_alloc_hx711_fake_chip_with_limit():
    # the HX711 path with the firmware's limit checked on every sample
    from pd_fakehx711 import FakeHX711
    from pd_hx711 import HX711, HX711Sensor
    from pd_simsensor import SimSource
    r = Rig(sensor="none", rate=80, watchdog_ms=60000, capture=0)
    chip = FakeHX711(r.clock, rate=80, sim=SimSource())
    r.dev.sensor = HX711Sensor(HX711(chip.dout, chip.sck, rate=80, rate_pin=chip.rate_pin), sim=chip.sim)
    r.send("2 limit 8000000\n", us=0)
    _stream(r)
    b, n = _measure(r, 2000000, 500)
    assert n >= 155 and b == 0, (b, n)


def test_zero_alloc_writing_a_byte_per_pollout():
    # a host reading 3 kB/s of a 1 kHz stream: the rp2 CDC FIFO stays full, the device writes one
    # byte per POLLOUT (and its ring overflows): still nothing allocated per sample
    from pd_fakeio import CdcStdio
    r = Rig(rate=1000, watchdog_ms=60000, io=lambda c: CdcStdio(c, host_bps=3000))
    _stream(r)
    r.run_us(500000)
    assert r.dev._trickle
    b, n = _measure(r, 1000000, 250)
    assert n > 990 and b == 0, (b, n)


def test_zero_alloc_while_overflowing():
    r = Rig(rate=1000, ring=64, watchdog_ms=60000, capture=0)
    _stream(r)
    r.out.writable = False
    r.run_us(200000)                    # the one ERROR 3 of this stream is queued here
    b, n = _measure(r, 1000000, 250)
    assert r.dev.ring.dropped > 1000 and b == 0, (b, r.dev.ring.dropped)


def test_zero_alloc_real_select_poll():
    # The device's own StreamPoller (select.poll + ipoll) on real file descriptors:
    # stdin is a pipe the test runner keeps open without data, output goes to /dev/null.
    from pd_clock import FakeClock
    from pd_device import Device, StreamPoller
    from pd_simsensor import SimSensor, SimSource
    inp = sys.stdin.buffer
    out = open("/dev/null", "wb")
    poller = StreamPoller(inp, out)
    if poller.readable():
        print("  stdin is readable (not a quiet pipe): skipped")
        return
    clock = FakeClock(1000)
    dev = Device(h.cfg(rate=1000, watchdog_ms=60000), SimSensor(SimSource(), rate=1000), clock,
                 inp, out, kbd_intr=lambda c: None, boot=b"abcd", poller=poller)
    dev.cmd_start(1, [], clock.now())

    def run(us):
        t = 0
        while t < us:
            dev.step()
            clock.advance(250)
            t += 250

    run(300000)
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc()
        s0 = dev.seq
        run(1000000)
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    out.close()
    print("  alloc %d bytes over %d samples (real poll)" % (a1 - a0, dev.seq - s0))
    assert dev.seq - s0 > 990 and a1 - a0 == 0, a1 - a0


def test_allocation_is_detected():
    # the measurement can fail: a loop that allocates is seen
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    junk = [bytearray(8) for _ in range(10)]
    a1 = gc.mem_alloc()
    gc.enable()
    assert a1 - a0 >= 80 and junk



def test_zero_alloc_sim_replay_1khz():
    import os
    import time
    path = "/tmp/pd_alloc_replay_%d.txt" % (time.ticks_us() & 0xFFFFFF)
    with open(path, "w") as f:
        for k in range(400):        # a 0.4 s round of 1 ms points: the loop wraps during the measure
            f.write("%d %s\n" % (k, (k % 100) / 10))
    try:
        r = Rig(rate=1000, watchdog_ms=60000, capture=0)
        r.sensor.sim.load_replay(path)
    finally:
        os.remove(path)
    _stream(r)
    b, n = _measure(r, 2000000, 250)
    assert n > 1900 and b == 0, (b, n)


if __name__ == "__main__":
    h.main(globals())
