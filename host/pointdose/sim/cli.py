"""``pointdose sim``: run the simulated device and print the port to connect to."""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sensor", choices=["sim", "sim-hx711"], default="sim",
                        help="sim: load-cell counts on the ADC schedule; sim-hx711: the real HX711 driver on a fake chip at 80 Hz")
    parser.add_argument("--rate", type=int, metavar="HZ", help="sample rate at boot (default 200 Hz; sim-hx711: 80)")
    parser.add_argument("--link", metavar="usb|uart:BAUD", help="the link the device believes it is on (default usb)")
    parser.add_argument("--uid", help="unique device id, hex")
    parser.add_argument("--ticks-start", type=int, metavar="US",
                        help="start the 30-bit device clock here, e.g. 1073000000 to cross the wrap within a minute")
    parser.add_argument("--backend", choices=["auto", "micropython-unix", "cpython-shim"], default="auto")


def run(args: argparse.Namespace) -> int:
    from pointdose.sim.device import SimSettings, SimulatedDevice

    settings = SimSettings(sensor=args.sensor, rate_hz=args.rate, uid=args.uid,
                           ticks_start=args.ticks_start, link=args.link)
    with SimulatedDevice(settings, backend=args.backend) as sim:
        print(sim.port, flush=True)
        print(f"simulated device ({sim.label}); firmware log: {sim.log_path}", flush=True)
        print("connect with: pointdose app --port PORT, pointdose monitor --port PORT, "
              "or any serial terminal; Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0
