# HX711 driver against the fake chip (which follows the datasheet).
import mp_harness as h
from pd_clock import FakeClock
from pd_fakehx711 import UNSETTLED, FakeHX711
from pd_hx711 import HX711, HX711Sensor


class _Irq:
    def __init__(self):
        self.depth = 0
        self.calls = 0

    def off(self):
        self.depth += 1
        self.calls += 1
        return 77

    def on(self, st):
        assert st == 77
        self.depth -= 1


def _rig(rate=80, source=None, gain=128, rate_pin=True, auto=0):
    clk = FakeClock(5000, auto=auto)
    chip = FakeHX711(clk, rate=rate, source=source)
    chip.pulse_counts = []
    irq = _Irq()
    hx = HX711(chip.dout, chip.sck, gain=gain, rate=rate,
               rate_pin=chip.rate_pin if rate_pin else None,
               irq_off=irq.off, irq_on=irq.on, ticks_ms=clk.ticks_ms)
    return clk, chip, hx, irq


def _next(clk, chip, hx):
    """Advance fake time until DOUT is low, then clock one word out."""
    for _ in range(200000):
        if hx.ready():
            return hx.read_now()
        clk.advance(100)
    raise AssertionError("no conversion")


def test_sign_decoding_extremes():
    vals = [0, 1, -1, 8388607, -8388608, 0x123456, -0x123456, 8388607 + 5, -8388608 - 5]
    want = [0, 1, -1, 8388607, -8388608, 0x123456, -0x123456, 8388607, -8388608]
    clk, chip, hx, irq = _rig(source=lambda t, g: vals[max(0, chip.conversions - 5)])
    got = []
    for _ in range(4):                  # settling conversions
        _next(clk, chip, hx)
    for _ in range(len(vals)):
        got.append(_next(clk, chip, hx))
    assert got == want, got
    assert irq.depth == 0 and irq.calls == 4 + len(vals)


def test_gain_pulse_counts():
    for gain, pulses in ((128, 25), (32, 26), (64, 27)):
        clk, chip, hx, irq = _rig(gain=gain, auto=20)
        hx.read()
        clk.advance(12500)
        chip._update(clk.now())         # the next conversion ends the pulse count
        assert chip.pulse_counts and chip.pulse_counts[-1] == pulses, (gain, chip.pulse_counts)
        assert chip.gain == gain, (gain, chip.gain)
        assert set(chip.pulse_counts) == {pulses}


def test_gain_change_settles_before_returning():
    clk, chip, hx, irq = _rig(source=lambda t, g: 1000 * g, auto=20)
    assert hx.read() == 128000
    hx.set_gain(64)
    v = hx.read()
    assert v == 64000, v                # no UNSETTLED residue, not the old gain
    hx.set_gain(32)
    assert hx.read() == 32000
    assert chip.gain == 32


def test_bad_gain_and_rate_raise_value_error():
    clk, chip, hx, irq = _rig(rate_pin=False)
    for bad in (lambda: hx.set_gain(100), lambda: hx.set_rate(80),
                lambda: HX711(chip.dout, chip.sck, gain=7)):
        try:
            bad()
            assert False, "no ValueError"
        except ValueError:
            pass


def test_data_ready_deadline_raises_oserror():
    clk, chip, hx, irq = _rig(auto=50)
    chip.dead = True
    t0 = clk.now()
    try:
        hx.read(timeout_ms=30)
        assert False, "no timeout"
    except OSError as e:
        assert e.args[0] == 110, e.args        # ETIMEDOUT
    waited = (clk.now() - t0) // 1000
    assert 30 <= waited < 40, waited


def test_deadline_real_time():
    # the same with the real ticks_ms: returns (not never), and not before 20 ms (no upper bound:
    # how late it returns says how busy the machine is)
    import time
    from pd_clock import Clock
    chip = FakeHX711(Clock(), rate=80)
    chip.dead = True
    hx = HX711(chip.dout, chip.sck, rate=80)
    t0 = time.ticks_ms()
    try:
        hx.read(timeout_ms=20)
        assert False
    except OSError as e:
        assert e.args[0] == 110
    assert 20 <= time.ticks_diff(time.ticks_ms(), t0)


def test_power_down_when_sck_held_high():
    clk, chip, hx, irq = _rig()
    _next(clk, chip, hx)
    chip.sck(1)
    clk.advance(61)
    assert chip.dout() == 1
    assert not chip.powered and chip.power_downs == 1
    clk.advance(200000)
    assert chip.dout() == 1, "a powered-down chip converted"
    chip.sck(0)                         # reset: A/128, settles again
    assert chip.powered and chip.gain == 128
    hx.power_up()
    clk.advance(1)
    assert hx.settling == 4
    clk.auto = 20
    assert hx.read(timeout_ms=1000) >= 0


def test_short_sck_high_does_not_power_down():
    clk, chip, hx, irq = _rig()
    chip.sck(1)
    clk.advance(59)
    chip.sck(0)
    assert chip.powered and chip.power_downs == 0


def _stream(rate, seconds, poll_us):
    clk, chip, hx, irq = _rig(rate=rate)
    sen = HX711Sensor(hx)
    idx = []
    end = seconds * 1000000
    t = 0
    while t < end:
        if sen.ready(clk.now()):
            v = sen.read(clk.now())
            idx.append(v)
        clk.advance(poll_us)
        t += poll_us
    return chip, idx


def test_reads_every_conversion_at_80hz():
    chip, idx = _stream(80, 2, 700)
    # after 4 settling conversions (discarded by the driver) every conversion once, in order
    assert idx == list(range(4, 4 + len(idx))), idx[:10]
    assert len(idx) == 160 - 4 or len(idx) == 160 - 5, len(idx)
    assert chip.overwritten == 0


def test_reads_every_conversion_at_10hz():
    chip, idx = _stream(10, 3, 3000)
    assert idx == list(range(4, 4 + len(idx))), idx
    assert len(idx) in (25, 26), len(idx)
    assert chip.overwritten == 0


def test_slow_poll_skips_are_the_chips_not_the_drivers():
    # polling slower than the chip converts: conversions get overwritten in the chip,
    # and the driver never reads one twice
    chip, idx = _stream(80, 1, 20000)
    assert all(b > a for a, b in zip(idx, idx[1:]))
    assert chip.overwritten > 0


def test_rate_pin_switches_10_80():
    clk, chip, hx, irq = _rig(rate=80)
    sen = HX711Sensor(hx)
    assert sen.check_rate(10) == (0, None)
    sen.set_rate(10)
    assert chip.period_us == 100000 and hx.rate == 10
    assert sen.check_rate(50)[0] == 2
    clk2, chip2, hx2, irq2 = _rig(rate=10, rate_pin=False)
    assert HX711Sensor(hx2).check_rate(80)[0] == 3
    assert HX711Sensor(hx2).check_rate(10) == (0, None)


def test_unsettled_values_never_reach_the_loop():
    clk, chip, hx, irq = _rig(rate=80, source=lambda t, g: 7)
    sen = HX711Sensor(hx)
    got = []
    for _ in range(3000):
        if sen.ready(clk.now()):
            got.append(sen.read(clk.now()))
        clk.advance(500)
    assert got and all(v == 7 for v in got), got[:6]
    assert UNSETTLED > 7


if __name__ == "__main__":
    h.main(globals())
