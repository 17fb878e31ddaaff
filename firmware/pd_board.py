"""Board layer: the only module that knows rp2 / esp32 / unix differences.

``detect()`` returns a ``Board`` with: ``name`` (``rp2``, ``esp32``,
``unix``), ``uid`` (hex), ``tick_us`` (esp32: 10 ms, the tick its waits round up to), ``irq_off``/``irq_on`` (``machine.disable_irq`` /
``enable_irq``; no-ops on unix), ``pin()``, ``adc()``, ``led()``, ``buzzer()``, ``button()``
(cue and input pins: fake pins on unix, ``pd_fakeio.FakePin``),
``env()`` (environment variables on unix, nothing on boards), ``store``
(folder for tare/config files) and ``default_link``.

Usage::

    board = detect()
    dout = board.pin(16, out=False)
"""
import sys

try:
    import os
except ImportError:     # pragma: no cover
    import uos as os


def _no_irq_off():
    return 0


def _no_irq_on(state):
    pass


def _hex(b):
    return "".join("%02x" % x for x in b)


class Board:
    def __init__(self, name, machine_name=None):
        self.name = name
        self.machine_name = machine_name if machine_name is not None else getattr(
            sys.implementation, "_machine", "")
        self.irq_off = _no_irq_off
        self.irq_on = _no_irq_on
        self.store = ""
        self.default_link = "usb"
        self.uid = "0"
        self.tick_us = 0        # esp32: poll()/sleep_ms() waits round up to this FreeRTOS tick
        self._machine = None
        if name == "unix":
            self.uid = self.env("POINTDOSE_UID", "53494d30303031")
            self.store = self.env("POINTDOSE_STORE", ".")
            return
        import machine
        self._machine = machine
        self.irq_off = machine.disable_irq
        self.irq_on = machine.enable_irq
        self.uid = _hex(machine.unique_id())
        if name == "esp32":
            self.tick_us = 10000    # CONFIG_FREERTOS_HZ=100 (ports/esp32)
            # Plain ESP32 boards sit behind a USB-UART bridge; S2/S3 have native USB.
            m = sys.implementation._machine
            self.default_link = "usb" if ("S2" in m or "S3" in m) else "uart:115200"

    def env(self, key, default=None):
        """Environment variable on the unix port; ``default`` on a board."""
        if self.name != "unix":
            return default
        try:
            v = os.getenv(key)
        except AttributeError:
            return default
        return default if v is None or v == "" else v

    def pin(self, n, out=False, pull_up=False):
        """An output, or an input; ``pull_up``: with the internal pull-up (rp2's ``Pin(n, Pin.IN)``
        has no pull, so an unconnected input floats and reads noise)."""
        m = self._machine
        if m is None:
            raise ValueError("pin %s: no GPIO on the unix port" % n)
        if out:
            return m.Pin(n, m.Pin.OUT)
        if pull_up:
            return m.Pin(n, m.Pin.IN, m.Pin.PULL_UP)
        return m.Pin(n, m.Pin.IN)

    def adc(self, n):
        m = self._machine
        if m is None:
            raise ValueError("adc %s: no ADC on the unix port" % n)
        a = m.ADC(m.Pin(n)) if self.name == "esp32" else m.ADC(n)
        if self.name == "esp32":
            try:
                a.atten(m.ADC.ATTN_11DB)    # full 0..3.3 V range
            except AttributeError:
                pass
        return a

    def led(self, n):
        if n is None:
            return None
        if self._machine is None:
            from pd_fakeio import FakePin
            return FakePin("led", 0)
        p = self.pin(n, out=True)
        p.value(0)
        return p

    def buzzer(self, n):
        """A passive piezo on PWM: ``value(0/1)`` silences/sounds it, ``tone(hz)`` sets the pitch."""
        if n is None:
            return None
        if self._machine is None:
            from pd_fakeio import FakePin
            return FakePin("buzzer", 0)
        return PwmBuzzer(self._machine, self.pin(n, out=True))

    def quiet_adc_power(self):
        """Pico (not Pico W): GP23 high puts the on-board regulator in PWM mode, which lowers ADC
        noise (Raspberry Pi Pico datasheet, "Using the ADC"). On a Pico W GP23 is the wireless
        chip's power line, so it is left alone. Returns True when done."""
        m = self._machine
        if m is None or self.name != "rp2" or "Pico W" in self.machine_name:
            return False
        m.Pin(23, m.Pin.OUT).value(1)
        return True

    def button(self, n):
        """An input to GND with the internal pull-up (a foot pedal's resting level is read at boot)."""
        if self._machine is None:
            from pd_fakeio import FakePin
            return FakePin("button%s" % n, 1)
        m = self._machine
        return m.Pin(n, m.Pin.IN, m.Pin.PULL_UP)

    def streams(self):
        """(input, output) of the host link: ONE duplex object, as on the boards.

        On rp2 and esp32 ``sys.stdin.buffer is sys.stdout.buffer``.  The unix
        port has two objects, so there the link is file descriptor 0 opened
        once for reading and writing (the launcher puts a pty there);
        ``POINTDOSE_STDIO=two`` keeps the unix port's two objects (stdin and
        stdout on separate pipes).
        """
        i = sys.stdin.buffer
        o = sys.stdout.buffer
        if i is o or self.name != "unix" or self.env("POINTDOSE_STDIO", "one") == "two":
            return i, o
        s = open(0, "r+b")
        return s, s

class PwmBuzzer:
    """Square wave on a pin: duty 50 % when on, 0 when off (boards only)."""

    def __init__(self, machine, pin):
        self._pwm = machine.PWM(pin)
        self._pwm.freq(2000)
        self._pwm.duty_u16(0)
        self.level = 0

    def tone(self, hz):
        if hz > 0:
            self._pwm.freq(hz)

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = 1 if v else 0
        self._pwm.duty_u16(32768 if v else 0)


def detect():
    p = sys.platform
    if p == "rp2":
        return Board("rp2")
    if p == "esp32":
        return Board("esp32")
    return Board("unix")
