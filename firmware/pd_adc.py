"""Analog force sensor (FSR divider or any voltage) read with oversampling.

The raw value is the mean of ``oversample`` ``ADC.read_u16()`` readings
(0 .. 65535), which averages away part of the RP2040 ADC's noise (ENOB ~8.7)
and its DNL spikes (erratum E11).  The device loop reads it on the drift-free
``pd_clock.Schedule`` (default 200 Hz, up to 1 kHz): it is ``scheduled``.

Usage::

    from machine import ADC
    sen = ADCSensor(ADC(26), oversample=8, rate=200)
    raw = sen.read(now)
"""
import micropython
from micropython import const

_MAX_OVERSAMPLE = const(64)     # 64 * 65535 < 2^22: the sum stays a small int


class ADCSensor:
    kind = "adc"
    scheduled = True
    raw_min = 0
    raw_max = 65535
    timeout_us = 0
    missed = 0          # a scheduled sensor's misses are the Schedule's
    sim = None

    def __init__(self, adc, oversample=4, rate=200, max_rate=1000):
        if not 1 <= oversample <= _MAX_OVERSAMPLE:
            raise ValueError("oversample must be 1..%d" % _MAX_OVERSAMPLE)
        if not 1 <= rate <= max_rate:
            raise ValueError("rate must be 1..%d Hz" % max_rate)
        self._read = adc.read_u16   # bound once: binding a method allocates on every evaluation
        self.oversample = oversample
        self.rate = rate
        self.max_rate = max_rate

    def restart(self, now):
        pass

    def cal(self):
        return None

    def check_rate(self, hz):
        if 1 <= hz <= self.max_rate:
            return 0, None
        return 2, "rate %d out of range: the ADC sensor runs at 1..%d Hz" % (hz, self.max_rate)

    def set_rate(self, hz):
        self.rate = hz

    def ready(self, now):
        return True

    @micropython.native
    def read(self, now):
        r = self._read
        n = self.oversample
        s = 0
        for _ in range(n):
            s += r()
        return s // n
