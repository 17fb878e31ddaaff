"""``pointdose app``: the live pressure window's command line (the window itself: :mod:`pointdose.app.main`).

DearPyGui is imported inside :func:`run` only (through :mod:`pointdose.app.view`), so that
``pointdose --help`` and the other commands never load it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pointdose.lsl import add_argument as lsl_flag
    parser.add_argument("--port", metavar="P", help="serial port of the board (default: scan; none found → simulated device)")
    parser.add_argument("--sim", action="store_true", help="use the simulated device (the real firmware on this computer)")
    from pointdose.cliopts import add_sim_board
    add_sim_board(parser)
    parser.add_argument("--seconds", type=float, metavar="S", help="quit after S seconds (for tests and demos)")
    parser.add_argument("--screenshot", metavar="FILE", help="write a PNG of the window shortly before quitting")
    parser.add_argument("--size", type=_size, default=(1280, 800), metavar="WxH",
                        help="window size in pixels (default 1280x800; the layout fits 1024x768 and up)")
    parser.add_argument("--unit", default="kPa", metavar="UNIT",
                        help="display unit: kPa (default), kgf/cm2, N/cm2, N, kgf or lbf")
    parser.add_argument("--probe-area", type=float, default=1.0, metavar="CM2",
                        help="probe contact area in cm² (default 1), for pressure units")
    parser.add_argument("--max-fps", type=float, default=120.0, metavar="FPS",
                        help="cap the frame rate to spare the CPU (0: no cap; default 120)")
    lsl_flag(parser)
    from pointdose.commands.cliutil import add_db_argument
    add_db_argument(parser)
    parser.add_argument("--report", metavar="FILE", help=argparse.SUPPRESS)  # JSON frame statistics, for tests/bench


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"window size {text!r} is not WIDTHxHEIGHT, e.g. 1024x768") from None
    if w < 320 or h < 240:
        raise argparse.ArgumentTypeError(f"window size {text!r} is too small: at least 320x240 (1024x768 fits all)")
    return w, h


def run(args: argparse.Namespace) -> int:
    from pointdose.app.controller import Controller, default_start_sim
    from pointdose.app.main import run_app
    from pointdose.app.model import DisplaySettings
    from pointdose.cliopts import display_unit, probe_area_cm2
    from pointdose.device import check_choice

    if getattr(args, "db", None):  # the app's panels open $POINTDOSE_DB: a file or a server URL
        import os

        os.environ["POINTDOSE_DB"] = str(args.db)
    sim_board = getattr(args, "sim_board", None)
    check_choice(args.port, args.sim, sim_board)
    settings = DisplaySettings(unit=display_unit(args.unit), probe_area_cm2=probe_area_cm2(args.probe_area))
    controller = Controller(port=args.port, force_sim=args.sim, sim_demo=True,
                            start_sim=lambda: default_start_sim(sim_board))
    lsl = None
    if getattr(args, "lsl", False):
        from pointdose.lsl import AppStreamer
        lsl = AppStreamer(lambda: controller.link)
    report = run_app(controller, seconds=args.seconds, screenshot=args.screenshot, max_fps=args.max_fps,
                     settings=settings, lsl=lsl, size=getattr(args, "size", (1280, 800)))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2))
    if controller.fatal_error is not None:
        raise controller.fatal_error
    return 0
