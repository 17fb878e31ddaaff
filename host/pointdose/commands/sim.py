"""``pointdose sim``: run the simulated device and print the port to connect to.

``--board unix`` (default): the firmware on the MicroPython unix port with a simulated sensor;
``--replay APPLICATION_ID|SAMPLES.csv`` makes that sensor play a recording (:mod:`pointdose.sim.replay`).
``--board pico``: the firmware on MicroPython's rp2 port in an emulated RP2040, with an HX711 model
or an FSR divider on the ADC, fed a repeating press/hold/ease/rest force (:mod:`pointdose.sim.pico`).
"""

from __future__ import annotations

import argparse
import signal
import time

from pointdose.commands.cliutil import add_db_argument
from pointdose.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", choices=["unix", "pico"], default="unix",
                        help="unix: the MicroPython unix port (default); pico: an emulated Raspberry Pi Pico "
                             "running a MicroPython RPI_PICO .uf2 (needs node)")
    parser.add_argument("--uf2", metavar="FILE",
                        help="--board pico: MicroPython's RPI_PICO firmware (default: $POINTDOSE_PICO_UF2)")
    parser.add_argument("--sensor", choices=["sim", "sim-hx711", "hx711", "adc"], default=None,
                        help="unix: sim (load-cell counts on the ADC schedule, default) or sim-hx711 (the real HX711 "
                             "driver on a fake chip at 80 Hz); pico: hx711 (default, a datasheet HX711 on GP16/GP17) "
                             "or adc (an FSR divider on GP26)")
    parser.add_argument("--rate", type=int, metavar="HZ",
                        help="sample rate at boot (unix: 200 Hz, sim-hx711 80; pico: hx711 80, adc 200)")
    parser.add_argument("--peak", type=float, default=30.0, metavar="N",
                        help="--board pico: the peak of the repeating press (newtons, default 30)")
    parser.add_argument("--link", metavar="usb|uart:BAUD", help="unix: the link the device believes it is on (default usb)")
    parser.add_argument("--uid", help="unix: unique device id, hex")
    parser.add_argument("--ticks-start", type=int, metavar="US",
                        help="unix: start the 30-bit device clock here, e.g. 1073000000 to cross the wrap within a minute")
    parser.add_argument("--replay", metavar="APPLICATION_ID|SAMPLES.csv",
                        help="unix: play a recorded application (its id in the records, or a samples CSV with t_s, "
                             "pressure_kpa and optionally force_n) through the simulated sensor, looped")
    parser.add_argument("--speed", metavar="X",
                        help="--replay: play X times as fast (0.05 to 20, default 1)")
    parser.add_argument("--probe-area", metavar="CM2",
                        help="--replay of a CSV without force_n: the probe area that turns its kPa into N "
                             "(default 1 cm², a setting)")
    add_db_argument(parser, "--replay APPLICATION_ID")
    parser.add_argument("--backend", choices=["auto", "micropython-unix", "cpython-shim"], default="auto")


def _replay(args: argparse.Namespace):
    if args.replay is None:
        if args.speed is not None or args.probe_area is not None:
            raise UserError("--speed and --probe-area go with --replay APPLICATION_ID|SAMPLES.csv")
        return None
    if args.board != "unix":
        raise UserError("--replay plays through the unix port's simulated sensor: drop --board pico")
    from pointdose.sim.replay import check_area, check_speed, load

    speed = check_speed(args.speed if args.speed is not None else 1.0)
    area = check_area(args.probe_area) if args.probe_area is not None else None
    return load(args.replay, db=args.db, speed=speed, probe_area_cm2=area)


def _open(args: argparse.Namespace):
    replay = _replay(args)
    if args.board == "pico":
        from pointdose.sim.pico import EmulatedPico, PicoSettings

        sensor = args.sensor or "hx711"
        if sensor not in ("hx711", "adc"):
            raise UserError(f"--sensor {sensor} is for --board unix; the emulated Pico has hx711 or adc")
        return EmulatedPico(PicoSettings(sensor=sensor, rate_hz=args.rate, uf2=args.uf2,
                                         cycle=(args.peak, 2.0, 5.0, 2.0, 3.0)))
    from pointdose.sim.device import SimSettings, SimulatedDevice

    sensor = args.sensor or "sim"
    if replay is not None and sensor != "sim":
        raise UserError(f"--replay plays through --sensor sim, not {sensor}")
    if sensor not in ("sim", "sim-hx711"):
        raise UserError(f"--sensor {sensor} needs --board pico; the unix port has sim or sim-hx711")
    if args.uf2:
        raise UserError("--uf2 is for --board pico")
    settings = SimSettings(sensor=sensor, rate_hz=args.rate, uid=args.uid, ticks_start=args.ticks_start, link=args.link,
                           replay=replay)
    return SimulatedDevice(settings, backend=args.backend)


def run(args: argparse.Namespace) -> int:
    device = _open(args)

    def stop(signum, frame):  # SIGTERM / SIGHUP: leave through the `with` so the device is closed
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    with device as sim:
        print(sim.port, flush=True)
        print(f"SIMULATED device ({sim.label}); log: {sim.log_path}", flush=True)
        replay = getattr(sim.settings, "replay", None)
        if replay is not None:
            print(f"replaying {replay.source}: {replay.duration_s:.1f} s a round at {replay.speed:g}x, looped "
                  "(send 'sim replay' to start it again)", flush=True)
        print("connect with: pointdose app --port PORT, pointdose monitor --port PORT, "
              "or any serial terminal; Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0
