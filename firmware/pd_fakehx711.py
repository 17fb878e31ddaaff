"""A fake HX711 chip behind ``machine.Pin``-like objects, following the datasheet.

- Conversions complete at the chip's own rate (10 or 80 SPS from the RATE
  pin), timed by a clock object (``pd_clock.Clock`` or ``FakeClock``); DOUT
  goes low when a conversion is ready.  A conversion that completes before the
  previous one was read replaces it (counted in ``overwritten``).
- Each PD_SCK rising edge shifts out one bit, MSB first (24 bits, two's
  complement); the 25th edge sets DOUT high; 25/26/27 edges in all, counted
  until the next conversion completes, select A/128, B/32, A/64 for it.
- PD_SCK high for more than ``pd_us`` (datasheet: 60 µs) powers the chip
  down (DOUT high, no conversions); PD_SCK low again resets it to A/128.
- The first 4 conversions after power-up, a reset, a gain/channel change or a
  rate change are not settled: they carry ``UNSETTLED`` added to the value.

The converted value comes from ``source(t_us, gain)`` -- by default the
conversion's index (so tests can see skipped or repeated conversions); the
``sim-hx711`` sensor passes a ``SimSource`` so conversions follow the sim force.

Usage::

    chip = FakeHX711(clock, rate=80)
    hx = HX711(chip.dout, chip.sck, rate=80, rate_pin=chip.rate_pin)
"""
from micropython import const

from pd_clock import add, diff

UNSETTLED = const(1000000)  # added to a conversion that is not settled yet
_SETTLE = const(4)
_I24 = const(0xFFFFFF)
_GAIN_OF = {25: 128, 26: 32, 27: 64}


class _Pin:
    """The subset of ``machine.Pin`` the driver uses: ``p()``, ``p(v)``, ``value``, ``on``, ``off``."""

    def __init__(self, chip, which):
        self._chip = chip
        self._which = which

    def __call__(self, v=None):
        return self._chip._pin(self._which, v)

    def value(self, v=None):
        return self._chip._pin(self._which, v)

    def on(self):
        self._chip._pin(self._which, 1)

    def off(self):
        self._chip._pin(self._which, 0)

    def init(self, *args, **kw):
        pass


class FakeHX711:
    def __init__(self, clock, rate=80, source=None, pd_us=60, sim=None):
        self.clock = clock
        self.source = source
        self.sim = sim              # SimSource used as source (value(t) * gain / 128)
        self.pd_us = pd_us
        self.dout = _Pin(self, 0)
        self.sck = _Pin(self, 1)
        self.rate_pin = _Pin(self, 2)
        self._rate_level = 1 if rate == 80 else 0
        self.gain = 128
        self.conversions = 0        # conversions completed since construction
        self.reads = 0              # complete 24-bit reads
        self.overwritten = 0        # conversions replaced before they were read
        self.bad_reads = 0          # pulse trains of other than 25..27 edges
        self.power_downs = 0
        self.pulse_counts = None    # a list to record pulses per read (tests)
        self.powered = True
        self.dead = False           # True: DOUT stuck high (broken wiring)
        self._sck_level = 0
        self._t_rise = 0
        self._t_edge = 0
        self._word = 0
        self._has = False           # a conversion waits to be read
        self._pulses = 0            # edges in the current pulse train
        self._bit = 1
        self.last_index = -1        # index of the conversion last latched
        self._reset(clock.now())

    @property
    def period_us(self):
        return 12500 if self._rate_level else 100000

    def _reset(self, now):
        self._next = add(now, self.period_us)
        self._unsettled = _SETTLE
        self._has = False
        self._pulses = 0

    def _convert(self, t):
        self.conversions += 1
        idx = self.conversions - 1
        if self.sim is not None:
            v = self.sim.value(t)
            if self.gain == 64:
                v //= 2
            elif self.gain == 32:
                v = v // 4 + 5000
        elif self.source is not None:
            v = self.source(t, self.gain)
        else:
            v = idx
        if self._unsettled:
            self._unsettled -= 1
            v += UNSETTLED
        if v > 8388607:
            v = 8388607
        elif v < -8388608:
            v = -8388608
        if self._has:
            self.overwritten += 1
        self._word = v & _I24
        self._has = True
        self.last_index = idx

    def _finish_train(self):
        n = self._pulses
        self._pulses = 0
        if self.pulse_counts is not None:
            self.pulse_counts.append(n)
        if n in _GAIN_OF:
            self.reads += 1
            g = _GAIN_OF[n]
            if g != self.gain:
                self.gain = g
                self._unsettled = _SETTLE
        else:
            self.bad_reads += 1

    def _update(self, now):
        if not self.powered:
            return
        if self._sck_level and diff(now, self._t_rise) > self.pd_us:
            self.powered = False        # PD_SCK held high: power down
            self.power_downs += 1
            self._has = False
            self._pulses = 0
            return
        if self._pulses:
            # The chip counts PD_SCK pulses until its next conversion completes;
            # the count then selects the input and gain (datasheet table 3).
            if self._sck_level or diff(now, self._next) < 0:
                return
            self._finish_train()
        if self.dead:
            return
        # Latch the conversions that completed meanwhile (at most a few).
        p = self.period_us
        late = diff(now, self._next)
        if late > 8 * p:
            skip = late // p - 1
            self.conversions += skip
            self.overwritten += skip
            self._next = add(self._next, skip * p)
        while diff(now, self._next) >= 0:
            self._convert(self._next)
            self._next = add(self._next, p)

    def _pin(self, which, v):
        now = self.clock.now()
        self._update(now)
        if which == 0:                          # DOUT (read by the MCU)
            if not self.powered or self.dead:
                return 1
            if self._pulses:
                return self._bit
            return 0 if self._has else 1
        if which == 2:                          # RATE (driven by the MCU)
            if v is None:
                return self._rate_level
            v = 1 if v else 0
            if v != self._rate_level:
                self._rate_level = v
                self._reset(now)
            return None
        if v is None:                           # PD_SCK read back
            return self._sck_level
        v = 1 if v else 0
        if v == self._sck_level:
            return None
        self._sck_level = v
        if v:
            self._t_rise = now
            if self.powered and (self._has or self._pulses):
                self._pulses += 1
                n = self._pulses
                if n <= 24:
                    self._bit = (self._word >> (24 - n)) & 1
                else:
                    self._bit = 1
                    self._has = False
        else:
            self._t_edge = now
            if not self.powered:                # PD_SCK low again: reset to A/128
                self.powered = True
                self.gain = 128
                self._reset(now)
            elif diff(now, self._t_rise) > self.pd_us:
                self.powered = False
                self.power_downs += 1
                self._has = False
                self._pulses = 0
                self.powered = True             # ...and low again right away: reset
                self.gain = 128
                self._reset(now)
        return None
