"""HX711 24-bit bridge ADC driver (Avia Semiconductor HX711 datasheet).

- DOUT goes low when a conversion is ready; its rate (10 or 80 SPS, RATE pin)
  comes from the chip's own oscillator, so the device loop calls ``ready()``
  and reads then -- never on a board timer.
- Each PD_SCK rising edge shifts out one bit, MSB first: 24 data bits in
  two's complement, then 1, 2 or 3 more pulses select the input and gain of
  the NEXT conversion (25: A/128, 26: B/32, 27: A/64) -- datasheet table 3.
- PD_SCK high for more than 60 µs powers the chip down, so interrupts are
  held off while clocking (``irq_off``/``irq_on`` from the board layer; no-ops
  on the unix port).
- Output settles in 4 conversions (50 ms at 80 SPS, 400 ms at 10 SPS) after
  power-up, reset, a gain/channel change or a rate change; the driver
  discards those conversions itself.

Usage::

    from machine import Pin, disable_irq, enable_irq
    hx = HX711(Pin(16, Pin.IN), Pin(17, Pin.OUT), gain=128,
               irq_off=disable_irq, irq_on=enable_irq)
    raw = hx.read()                         # blocking, with a deadline
    if hx.ready(): raw = hx.read_now()      # non-blocking, for the main loop
"""
import time
import micropython
from micropython import const

_ETIMEDOUT = const(110)     # errno.ETIMEDOUT (MicroPython and Linux)
_SETTLE = const(4)          # conversions to settle (datasheet: 50 ms @ 80 SPS, 400 ms @ 10 SPS)
_SIGN = const(0x800000)
_WRAP = const(0x1000000)
_PULSES = {128: 25, 32: 26, 64: 27}    # gain -> PD_SCK pulses per read (32 is channel B)
_I24_MIN = const(-8388608)
_I24_MAX = const(8388607)
_STUCK = const(3)           # reads in a row with DOUT still low after the pulses: stuck low


def _no_irq_off():
    return 0


def _no_irq_on(state):
    pass


class HX711:
    def __init__(self, dout, sck, gain=128, rate=10, rate_pin=None,
                 irq_off=None, irq_on=None, ticks_ms=None):
        if gain not in _PULSES:
            raise ValueError("HX711 gain must be 128, 64 (channel A) or 32 (channel B)")
        if rate not in (10, 80):
            raise ValueError("HX711 rate must be 10 or 80 SPS")
        self._dout = dout
        self._sck = sck
        self._rate_pin = rate_pin
        self._irq_off = irq_off or _no_irq_off
        self._irq_on = irq_on or _no_irq_on
        self._ticks_ms = ticks_ms or time.ticks_ms
        sck(0)                      # PD_SCK low: powered up, normal operation
        self.gain = 128             # after reset the chip converts A/128
        self._pulses = _PULSES[gain]
        self.settling = _SETTLE     # conversions still to discard
        if rate_pin is not None:
            rate_pin(1 if rate == 80 else 0)
        self.rate = rate
        if gain != 128:
            self.set_gain(gain)

    # -- configuration -----------------------------------------------------------
    def set_gain(self, gain):
        """Select gain/channel; effective after the next read, then settles."""
        if gain not in _PULSES:
            raise ValueError("HX711 gain must be 128, 64 (channel A) or 32 (channel B)")
        self._pulses = _PULSES[gain]
        self.gain = gain
        # The conversion now waiting was made with the old setting; the next
        # ones need _SETTLE conversions to settle.
        self.settling = _SETTLE + 1

    def set_rate(self, hz):
        if self._rate_pin is None:
            raise ValueError("HX711 RATE pin not wired to the board")
        if hz not in (10, 80):
            raise ValueError("HX711 rate must be 10 or 80 SPS")
        self._rate_pin(1 if hz == 80 else 0)
        self.rate = hz
        self.settling = _SETTLE + 1

    def power_down(self):
        """PD_SCK high > 60 µs: the chip powers down (datasheet fig. 3)."""
        self._sck(1)
        time.sleep_us(100)

    def power_up(self):
        """PD_SCK low: the chip resets to A/128 and settles."""
        self._sck(0)
        self.settling = _SETTLE + (0 if self._pulses == 25 else 1)

    # -- reading ------------------------------------------------------------------
    def ready(self):
        """True when DOUT is low: a conversion waits to be read."""
        return not self._dout()

    @micropython.native
    def read_now(self):
        """Clock out the waiting conversion (call when ``ready()``); signed int."""
        sck = self._sck
        dout = self._dout
        st = self._irq_off()
        v = 0
        try:        # interrupts come back on whatever happens while clocking
            for _ in range(24):
                sck(1)
                sck(0)
                v = (v << 1) | dout()
            for _ in range(self._pulses - 24):
                sck(1)
                sck(0)
        finally:
            self._irq_on(st)
        if v & _SIGN:
            v -= _WRAP
        return v

    def read(self, timeout_ms=None):
        """Wait for a settled conversion and return it.

        Raises ``OSError(ETIMEDOUT)`` when DOUT does not go low before the
        deadline (default: settling plus two conversion periods and 100 ms).
        """
        if timeout_ms is None:
            timeout_ms = (_SETTLE + 2) * 1000 // self.rate + 100
        tm = self._ticks_ms
        deadline = time.ticks_add(tm(), timeout_ms)
        while True:
            if not self._dout():
                v = self.read_now()
                if self.settling:
                    self.settling -= 1
                else:
                    return v
            elif time.ticks_diff(tm(), deadline) > 0:
                raise OSError(_ETIMEDOUT, "HX711: DOUT not low within %d ms (wiring? power?)" % timeout_ms)


class HX711Sensor:
    """Adapts the driver to the device loop: ``ready(now)`` / ``read(now)``."""

    kind = "hx711"
    scheduled = False
    raw_min = _I24_MIN
    raw_max = _I24_MAX

    def __init__(self, hx, sim=None):
        self.hx = hx
        self.sim = sim      # the SimSource behind a fake chip, for `sim` commands
        self.rate = hx.rate
        self.stuck = 0      # reads in a row after which DOUT stayed low
        self.missed = 0     # conversions replaced by the next before they were read
        self._t = -1        # time of the last read (-1: sampling just started)
        self._acc = 0       # late time not yet a whole period
        self._update_timeout()

    def restart(self, now):
        """Sampling starts (again): the gap since the last read is no miss."""
        self._t = -1

    def why(self):
        """What the device's ERROR 2 says when no conversion comes."""
        if self.stuck >= _STUCK:
            return ("HX711 DOUT stuck low: it did not go high after the read, as no working chip "
                    "does (DOUT shorted to GND? chip unpowered?)")
        return "HX711 DOUT never went low (loose DOUT wire, or the chip unpowered?)"

    def _update_timeout(self):
        # No conversion for settling + 2 periods + 100 ms is a fault.
        p = 1000000 // self.rate
        self.timeout_us = (_SETTLE + 2) * p + 100000
        self._p = p
        self._late = p + p // 2     # a read this long after the last: the chip converted unread

    def cal(self):
        return self.sim.cal() if self.sim is not None else None

    def check_rate(self, hz):
        if hz == self.rate:
            return 0, None
        if hz not in (10, 80):
            return 2, "rate %d: the HX711 runs at 10 or 80 Hz only" % hz
        if self.hx._rate_pin is None:
            return 3, "rate: the HX711 RATE pin is not wired to the board (set rate_pin in config.json)"
        return 0, None

    def set_rate(self, hz):
        if hz != self.rate:
            self.hx.set_rate(hz)
        self.rate = hz
        self._update_timeout()
        self._t = -1

    @micropython.native
    def ready(self, now):
        hx = self.hx
        if hx._dout():
            self.stuck = 0
            return False
        if self.stuck >= _STUCK:    # DOUT low all along: no data (the device's deadline reports it)
            return False
        if hx.settling:             # not yet settled: read and discard
            self.read(now)
            hx.settling -= 1
            return False
        return True

    @micropython.native
    def read(self, now):
        hx = self.hx
        v = hx.read_now()
        t = self._t
        if t >= 0:
            d = (now - t) & 0x3FFFFFFF
            if d >= self._late:     # the conversions in between were overwritten unread
                a = self._acc + d - self._p
                k = a // self._p
                self._acc = a - k * self._p
                self.missed = self.missed + k if self.missed < 0x3FFFFFFF - k else 0x3FFFFFFF
        self._t = now
        # After the 25th PD_SCK pulse DOUT goes high until the next conversion (datasheet), at
        # least 12.5 ms later: DOUT still low now means it is stuck low (or shorted), not data.
        if hx._dout():
            self.stuck = 0
        elif self.stuck < _STUCK:
            self.stuck += 1
        return v
