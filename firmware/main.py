"""pointdose firmware entry point (boards and the MicroPython unix port).

On a board this runs at boot; on the unix port: ``micropython -i firmware/main.py``
with stdin/stdout on a raw-mode pty (see docs/firmware.md for the environment
variables).  It builds the configuration, board, sensor and device loop, then
runs the loop.  When the loop returns (``repl`` command, Ctrl-C while not
streaming, or end of input) the script ends, which drops to the REPL on a board
and with ``micropython -i``.
"""
import sys


def _own_dir():
    f = globals().get("__file__") or ""
    i = f.rfind("/")
    return f[:i] if i > 0 else ("/" if i == 0 else "")


_d = _own_dir()
if _d and _d not in sys.path:
    sys.path.insert(0, _d)

import pd_board      # noqa: E402
import pd_config     # noqa: E402
from pd_clock import Clock      # noqa: E402
from pd_device import Device    # noqa: E402


def make_sensor(cfg, board, clock):
    """The sensor the configuration names; raises ValueError/OSError on a wiring problem."""
    kind = cfg["sensor"]
    if kind == "sim":
        from pd_simsensor import SimSensor, SimSource
        src = SimSource()
        replay = cfg.get("replay")
        if replay:
            try:
                src.load_replay(replay)
            except (ValueError, OSError) as e:
                raise ValueError("POINTDOSE_REPLAY=%s: %s" % (replay, e))
        return SimSensor(src, rate=cfg["rate"])
    if kind == "sim-hx711":
        from pd_fakehx711 import FakeHX711
        from pd_hx711 import HX711, HX711Sensor
        from pd_simsensor import SimSource
        src = SimSource()
        # pd_us relaxed from the datasheet's 60 µs: the unix port can be
        # preempted mid-read, where a board would have interrupts off.
        chip = FakeHX711(clock, rate=cfg["rate"], sim=src, pd_us=20000)
        hx = HX711(chip.dout, chip.sck, gain=cfg["gain"], rate=cfg["rate"], rate_pin=chip.rate_pin,
                   irq_off=board.irq_off, irq_on=board.irq_on)
        return HX711Sensor(hx, sim=src)
    if kind == "hx711":
        from pd_hx711 import HX711, HX711Sensor
        if cfg["dout"] is None or cfg["sck"] is None:
            raise ValueError("dout/sck: HX711 pins not set")
        rp = board.pin(cfg["rate_pin"], out=True) if cfg["rate_pin"] is not None else None
        # DOUT pulled up: a loose wire reads high (no conversion: ERROR 2), never floating noise
        hx = HX711(board.pin(cfg["dout"], pull_up=True), board.pin(cfg["sck"], out=True), gain=cfg["gain"],
                   rate=cfg["rate"], rate_pin=rp, irq_off=board.irq_off, irq_on=board.irq_on)
        return HX711Sensor(hx)
    if kind == "adc":
        from pd_adc import ADCSensor
        if cfg["adc_pin"] is None:
            raise ValueError("adc_pin: not set")
        board.quiet_adc_power()     # Pico: GP23 high, regulator in its low-noise PWM mode
        return ADCSensor(board.adc(cfg["adc_pin"]), oversample=cfg["oversample"], rate=cfg["rate"])
    raise ValueError("sensor=%s: unknown" % kind)


def _pin(make, key, n, problems):
    """A cue/input pin, or None with a problem noted (a bad pin never stops the boot)."""
    if n is None:
        return None
    try:
        return make(n)
    except (ValueError, OSError, TypeError, AttributeError) as e:
        problems.append("%s=%s: %s" % (key, n, e))
        return None


def main():
    board = pd_board.detect()
    cfg, problems = pd_config.load(board)
    start = cfg.get("ticks_start")
    try:
        clock = Clock(int(start) if start is not None else None)
    except ValueError:
        problems.append("POINTDOSE_TICKS_START=%s: not a number, using the real clock" % start)
        clock = Clock()
    try:
        sensor = make_sensor(cfg, board, clock)
    except (ValueError, OSError) as e:
        problems.append("sensor=%s: %s" % (cfg["sensor"], e))
        sensor = None
    led = _pin(board.led, "led", cfg["led"], problems)
    buzzer = _pin(board.buzzer, "buzzer", cfg["buzzer"], problems)
    buttons = []
    for name, n in sorted((cfg["buttons"] or {}).items()):
        p = _pin(board.button, "buttons." + name, n, problems)
        if p is not None:
            buttons.append((name, p))
    inp, out = board.streams()
    dev = Device(cfg, sensor, clock, inp, out, board_name=board.name, uid=board.uid,
                 store=pd_config.Store(board.store), led=led, buzzer=buzzer, buttons=buttons,
                 tick_us=board.tick_us)
    dev.boot_errors(problems)
    dev.run()


if __name__ == "__main__":
    main()
