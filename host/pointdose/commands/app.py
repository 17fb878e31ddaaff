"""``pointdose app``: the live pressure window's command line (the window itself: :mod:`pointdose.app.main`).

DearPyGui is imported inside :func:`run` only (through :mod:`pointdose.app.view`), so that
``pointdose --help`` and the other commands never load it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pointdose.commands.cliopts import add_lsl as lsl_flag
    parser.add_argument("--port", metavar="P", help="serial port of the board (default: scan; none found → simulated device)")
    parser.add_argument("--sim", action="store_true", help="use the simulated device (the real firmware on this computer)")
    from pointdose.commands.cliopts import add_sim_board
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
    parser.add_argument("--replay", metavar="APPLICATION_ID|SAMPLES.csv",
                        help="the simulated device presses as a recorded application did, looped (implies --sim; "
                             "docs/firmware.md, 'Replay'); a CSV without force_n uses --probe-area")
    parser.add_argument("--speed", metavar="X", help="--replay: play X times as fast (0.05 to 20, default 1)")
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
    from pointdose.commands.cliopts import display_unit, probe_area_cm2
    from pointdose.device import check_choice

    if getattr(args, "db", None):  # the app's panels open $POINTDOSE_DB: a file or a server URL
        import os

        os.environ["POINTDOSE_DB"] = str(args.db)
    sim_board = getattr(args, "sim_board", None)
    replay = _replay(args, sim_board)  # read (and refused in one line) before any window opens
    check_choice(args.port, args.sim or replay is not None, sim_board)
    settings = DisplaySettings(unit=display_unit(args.unit), probe_area_cm2=probe_area_cm2(args.probe_area))
    if replay is not None:  # no demo presses: they would take over from the recording
        controller = Controller(force_sim=True, sim_demo=False, start_sim=lambda: _replay_sim(replay))
    else:
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


def _replay(args: argparse.Namespace, sim_board: str | None):
    """``--replay``: the recording the simulated device will play (pointdose.sim.replay), or None."""
    from pointdose.errors import UserError

    source = getattr(args, "replay", None)
    if source is None:
        if getattr(args, "speed", None) is not None:
            raise UserError("--speed goes with --replay APPLICATION_ID|SAMPLES.csv")
        return None
    if args.port:
        raise UserError("--replay plays through the simulated device: drop --port")
    if sim_board not in (None, "unix"):
        raise UserError("--replay plays through the unix port's simulated sensor: drop --board pico")
    from pointdose.sim.replay import check_speed, load

    speed = check_speed(args.speed if args.speed is not None else 1.0)
    return load(source, db=getattr(args, "db", None), speed=speed, probe_area_cm2=args.probe_area)


def _replay_sim(replay):
    """The simulated device playing ``replay``, for the app's controller (its banner names the recording)."""
    from pointdose.app.controller import SimHandle
    from pointdose.sim.device import SimSettings, SimulatedDevice

    sim = SimulatedDevice(SimSettings(replay=replay)).start()
    return SimHandle(port=sim.port, backend_label=f"replaying {replay.source} at {replay.speed:g}x, looped · "
                                                  f"{sim.label}", close=sim.close)
