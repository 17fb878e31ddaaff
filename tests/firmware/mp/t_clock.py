# 30-bit clock arithmetic, the drift-free schedule (ADC path), the ADC sensor and the ring.
import mp_harness as h
from pd_adc import ADCSensor
from pd_clock import MASK, Clock, FakeClock, Schedule, add, diff
from pd_ring import Ring


def test_diff_add_across_wrap():
    a = MASK - 10
    b = add(a, 25)
    assert b == 14
    assert diff(b, a) == 25 and diff(a, b) == -25
    for x in (0, 1, 12345, MASK, MASK - 1, 1 << 29, (1 << 29) - 1):
        for d in (0, 1, -1, 999, -999, (1 << 29) - 1, -(1 << 29), MASK, -MASK):
            r = add(x, d)
            assert 0 <= r <= MASK
            assert r == (x + d) % (MASK + 1), (x, d)
            if -(1 << 29) <= d < (1 << 29):
                assert diff(r, x) == d, (x, d)


def test_clock_start_offset_near_wrap():
    c = Clock(MASK - 5000)
    t0 = c.now()
    assert MASK - 5000 <= t0 <= MASK or t0 < 100000
    c.sleep_us(8000)
    t1 = c.now()
    assert t1 < t0, "the 30-bit clock did not wrap"
    assert 8000 <= diff(t1, t0) < 200000


def test_clock_values_stay_30_bit():
    c = Clock(MASK)
    for _ in range(100):
        t = c.now()
        assert 0 <= t <= MASK


def test_schedule_drift_free_with_jitter():
    period = 5000
    clk = FakeClock(MASK - 3 * period)      # crosses the wrap too
    s = Schedule(period, clk.now())
    start = clk.now()
    n = 0
    x = 12345
    for _ in range(20000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        clk.advance(100 + x % 300)          # jittery loop, 100..399 µs per pass
        if s.due(clk.now()):
            n += 1
    elapsed = diff(clk.now(), start)
    # one sample per slot that began, no drift: next_due stays on the grid
    assert n == elapsed // period + 1, (n, elapsed)
    assert diff(s.next_due, start) == n * period
    assert s.missed == 0


def test_schedule_stall_skips_stale_slots():
    clk = FakeClock(1000)
    s = Schedule(1000, clk.now())
    assert s.due(clk.now())
    assert not s.due(clk.now())
    grid = s.next_due
    clk.advance(10500)          # a 10.5 ms stall at 1 kHz
    assert s.due(clk.now())     # one sample now...
    assert not s.due(clk.now()), "burst-sampled a stale slot"
    assert s.missed == 9         # slots 2000..10000 had no sample; 11000 is taken late
    assert diff(s.next_due, grid) % 1000 == 0, "left the phase grid"
    assert 0 < diff(s.next_due, clk.now()) <= 1000
    clk.advance(diff(s.next_due, clk.now()))
    assert s.due(clk.now())


def test_schedule_1khz_exact_count():
    clk = FakeClock(0)
    s = Schedule(1000, 0)
    n = 0
    for _ in range(4000):
        if s.due(clk.now()):
            n += 1
        clk.advance(250)
    assert n == 1000


class _ADC:
    def __init__(self):
        self.i = 0

    def read_u16(self):
        self.i += 1
        return (self.i * 4099) & 0xFFFF


def test_adc_mean_of_oversample():
    a = _ADC()
    s = ADCSensor(a, oversample=8)
    vals = [((i + 1) * 4099) & 0xFFFF for i in range(8)]
    assert s.read(0) == sum(vals) // 8
    assert a.i == 8
    assert s.check_rate(1000)[0] == 0 and s.check_rate(1001)[0] == 2 and s.check_rate(0)[0] == 2
    try:
        ADCSensor(a, oversample=65)
        assert False
    except ValueError:
        pass


def test_ring_overwrites_oldest_and_counts():
    r = Ring(4)
    for i in range(10):
        r.push(i, i * 10, i)
    assert r.count == 4 and r.dropped == 6
    assert [r.seq[(r.tail + k) % 4] for k in range(4)] == [6, 7, 8, 9]
    r.pop(3)
    assert r.count == 1 and r.val[r.tail] == 9


if __name__ == "__main__":
    h.main(globals())
