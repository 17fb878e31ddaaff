"""Cue outputs (LED, buzzer) and inputs (buttons, foot switch), driven from the device loop.

Nothing here blocks or sleeps: the loop calls ``Output.update(now)`` when its ``due`` time has
passed and ``Buttons.poll(now, dev)`` every ``POLL_US``.  All times are 30-bit µs
(``pd_clock``); all arithmetic is on small ints and nothing allocates after construction, so cues,
the firmware's own over-pressure alarm and buttons cost nothing per sample.

An output pattern is a *chirp* (``n`` pulses of ``on``/``off``, played once when the cue's phase
changes) followed by a *steady* cycle (``on`` ms lit, ``off`` ms dark; ``off`` 0 = steady on,
``on`` 0 = dark).  ``Cues.apply`` turns (phase, band, level, firmware alarm, streaming) into the
patterns of the LED and the buzzer (docs/firmware.md, "Cues"):

LED                                      buzzer (tone, when a buzzer is configured)
  in band: steady                          on a phase change: press 2 x 80 ms, hold 250 ms,
  below: 70 % lit, period 1000 - 8*level     ease 3 x 60 ms, rest 500 ms (low tone)
  above: 20 % lit, same period             press/hold/ease outside the band: 30 ms ticks every
  no band: press 500/500, hold steady,       period, 1 kHz below, 2.5 kHz above
    ease 100/900, rest 50/1950             alarm: 150/150 ms at 3 kHz
  alarm: 100/100 ms
  off: the link light (lit while streaming)

Usage::

    cues = Cues(Output(led_pin), Output(buzzer_pin))
    cues.set(now, P_HOLD, B_BELOW, 40)      # host cue
    if (now - cues.due) & MASK < 2**29: cues.update(now)
"""
from array import array
import micropython
from micropython import const

from pd_clock import MASK, add

_HALF = const(0x20000000)
FAR = const(0x10000000)         # "nothing due": about 268 s ahead
POLL_US = const(5000)           # buttons are polled this often (pd_device._io)

PHASES = ("off", "press", "hold", "ease", "rest", "alarm")
BANDS = ("none", "below", "in", "above")
PHASES_B = tuple(p.encode() for p in PHASES)   # as bytes, matched in the line buffer in place
BANDS_B = tuple(b.encode() for b in BANDS)
P_OFF = const(0)
P_PRESS = const(1)
P_HOLD = const(2)
P_EASE = const(3)
P_REST = const(4)
P_ALARM = const(5)
B_NONE = const(0)
B_BELOW = const(1)
B_IN = const(2)
B_ABOVE = const(3)

# CUE_STATE flags
CF_FW_ALARM = const(1)      # the firmware's own over-pressure alarm overrides the host's cue
CF_LED = const(2)           # an LED is configured
CF_BUZZER = const(4)        # a buzzer is configured

# BUTTON ids (docs/protocol.md); "up"/"down" let the host step a 0-10 rating
BUTTON_IDS = {"release": 1, "pain": 2, "stop": 3, "mark": 4, "up": 5, "down": 6}


class Output:
    """One on/off output (``pin.value(v)``; a buzzer also has ``tone(hz)``) following a pattern."""

    def __init__(self, pin):
        self.pin = pin
        self.level = 0
        self.hz_now = 0
        self.on_us = 0
        self.off_us = 0
        self.hz = 0
        self.b_left = 0         # half-steps left in the chirp (2 per pulse)
        self.b_on = 0
        self.b_off = 0
        self.b_hz = 0
        self.due = 0
        self.active = False     # a timed change is pending at ``due``

    def _out(self, v, hz):
        self.level = v
        p = self.pin
        if p is None:
            return
        if v and hz and hz != self.hz_now:
            self.hz_now = hz
            p.tone(hz)
        p.value(v)

    def set(self, now, on_ms, off_ms, hz, b_n, b_on_ms, b_off_ms, b_hz):
        on = on_ms * 1000
        off = off_ms * 1000
        self.hz = hz
        if b_n == 0 and self.active:
            # A host refreshes its cue often (the level moves): never restart a running pattern,
            # or a blink resent faster than its period would look steady.
            self.on_us = on
            self.off_us = off
            if self.b_left:
                return          # a chirp is playing: the new steady pattern follows it
            if on and off:      # blinking on: keep the rhythm, shorten the present part if need be
                left = (self.due - now) & MASK
                lim = on if self.level else off
                if left < _HALF and left > lim:
                    self.due = add(now, lim)
                if self.level:
                    self._out(1, hz)
                return
        self.on_us = on
        self.off_us = off
        self.b_left = 2 * b_n
        self.b_on = b_on_ms * 1000
        self.b_off = b_off_ms * 1000
        self.b_hz = b_hz
        self.level = 0
        self.update(now)

    @micropython.native
    def update(self, now):
        if self.b_left:
            b = self.b_left - 1
            self.b_left = b
            if b & 1:
                self._out(1, self.b_hz)
                self.due = add(now, self.b_on)
            else:
                self._out(0, 0)
                self.due = add(now, self.b_off)
            self.active = True
            return
        if self.on_us == 0:
            self._out(0, 0)
            self.active = False
        elif self.off_us == 0:
            self._out(1, self.hz)
            self.active = False
        elif self.level:
            self._out(0, 0)
            self.due = add(now, self.off_us)
            self.active = True
        else:
            self._out(1, self.hz)
            self.due = add(now, self.on_us)
            self.active = True


class Cues:
    """The cue the device shows: the host's (phase, band, level), or the firmware's own alarm."""

    def __init__(self, led, buzzer):
        self.led = led          # Output
        self.bz = buzzer        # Output
        self.phase = P_OFF
        self.band = B_NONE
        self.level = 0
        self.fw_alarm = False
        self.streaming = False
        self.shown = P_OFF      # phase shown last (for the chirp on a change)
        self.led_on = 0         # the steady patterns now shown, ms (for CUE_STATE)
        self.led_off = 0
        self.bz_on = 0
        self.bz_off = 0
        self.bz_hz = 0
        self.due = 0
        self.active = False

    def flags(self):
        f = CF_FW_ALARM if self.fw_alarm else 0
        if self.led.pin is not None:
            f |= CF_LED
        if self.bz.pin is not None:
            f |= CF_BUZZER
        return f

    def set(self, now, phase, band, level):
        self.phase = phase
        self.band = band
        self.level = level
        self.apply(now)

    def apply(self, now):
        ph = self.phase
        bd = self.band
        lv = self.level
        if self.fw_alarm:
            ph = P_ALARM
            bd = B_ABOVE
            lv = 100
        period = 1000 - 8 * lv
        # LED
        if ph == P_ALARM:
            lon = 100
            loff = 100
        elif ph == P_OFF:
            lon = 1000 if self.streaming else 0
            loff = 0
        elif bd == B_IN:
            lon = 1000
            loff = 0
        elif bd == B_BELOW:
            lon = period * 7 // 10
            loff = period - lon
        elif bd == B_ABOVE:
            lon = period // 5
            loff = period - lon
        elif ph == P_PRESS:
            lon = 500
            loff = 500
        elif ph == P_HOLD:
            lon = 1000
            loff = 0
        elif ph == P_EASE:
            lon = 100
            loff = 900
        else:           # rest
            lon = 50
            loff = 1950
        # buzzer: steady part
        bon = 0
        boff = 0
        bhz = 0
        if ph == P_ALARM:
            bon = 150
            boff = 150
            bhz = 3000
        elif P_PRESS <= ph <= P_EASE and (bd == B_BELOW or bd == B_ABOVE):
            bon = 30
            boff = period - 30
            bhz = 1000 if bd == B_BELOW else 2500
        # buzzer: chirp on a phase change
        n = 0
        c_on = 0
        c_off = 0
        c_hz = 0
        if ph != self.shown and ph != P_ALARM:
            if ph == P_PRESS:
                n = 2
                c_on = 80
                c_off = 80
                c_hz = 2000
            elif ph == P_HOLD:
                n = 1
                c_on = 250
                c_off = 100
                c_hz = 2000
            elif ph == P_EASE:
                n = 3
                c_on = 60
                c_off = 60
                c_hz = 1500
            elif ph == P_REST:
                n = 1
                c_on = 500
                c_off = 100
                c_hz = 800
        self.shown = ph
        self.led_on = lon
        self.led_off = loff
        self.bz_on = bon
        self.bz_off = boff
        self.bz_hz = bhz
        self.led.set(now, lon, loff, 0, 0, 0, 0, 0)
        self.bz.set(now, bon, boff, bhz, n, c_on, c_off, c_hz)
        self._next()

    def _next(self):
        led = self.led
        bz = self.bz
        if led.active and bz.active:
            # the earlier of the two deadlines (wrap-safe)
            self.due = led.due if (led.due - bz.due) & MASK >= _HALF else bz.due
        elif led.active:
            self.due = led.due
        elif bz.active:
            self.due = bz.due
        self.active = led.active or bz.active

    @micropython.native
    def update(self, now):
        """Advance whichever output is due; call when ``due`` has passed and ``active``."""
        led = self.led
        bz = self.bz
        if led.active and (now - led.due) & MASK < _HALF:
            led.update(now)
        if bz.active and (now - bz.due) & MASK < _HALF:
            bz.update(now)
        self._next()


class Buttons:
    """Debounced buttons / foot switch, polled every ``POLL_US`` from the loop.

    The level each input rests at is read at construction (power-up), so normally-open and
    normally-closed pedals both work; the other level is "pressed".  A change is accepted when
    ``STABLE`` polls in a row agree (20 ms), and is stamped with the time of the first of them
    (within ``POLL_US`` of the real edge).
    """

    STABLE = 4

    def __init__(self, pins, ids, names):
        n = len(pins)
        self.n = n
        self.pins = pins
        self.ids = bytes(ids)
        self.names = names
        self.rest = bytearray(n)
        self.state = bytearray(n)       # 1 = pressed (debounced)
        self.cnt = bytearray(n)
        self.t_edge = array("i", bytes(4 * n))
        self.count = 0                  # events since boot, mod 2^16 (BUTTON field)
        self.sim_i = -1                 # `sim button`: index held down until sim_until
        self.sim_until = 0
        for i in range(n):
            self.rest[i] = 1 if pins[i].value() else 0

    def index(self, name):
        for i in range(self.n):
            if self.names[i] == name:
                return i
        return -1

    def sim_press(self, i, now, us):
        """Hold fake pin ``i`` at its pressed level for ``us`` (unix port: ``sim button``)."""
        self.pins[i].level = 1 - self.rest[i]
        self.sim_i = i
        self.sim_until = add(now, us)

    @micropython.native
    def poll(self, now, dev):
        if self.sim_i >= 0 and (now - self.sim_until) & MASK < _HALF:
            i = self.sim_i
            self.pins[i].level = self.rest[i]
            self.sim_i = -1
        pins = self.pins
        for i in range(self.n):
            v = 1 if pins[i].value() else 0
            pressed = 1 if v != self.rest[i] else 0
            if pressed == self.state[i]:
                self.cnt[i] = 0
                continue
            c = self.cnt[i]
            if c == 0:
                self.t_edge[i] = now
            c += 1
            if c >= self.STABLE:
                self.state[i] = pressed
                self.cnt[i] = 0
                self.count = (self.count + 1) & 0xFFFF
                dev.button_event(self.t_edge[i], self.ids[i], pressed, self.count)
            else:
                self.cnt[i] = c
