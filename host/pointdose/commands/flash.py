"""``pointdose flash``: the command line of :mod:`pointdose.flash` (install the firmware with mpremote)."""

from __future__ import annotations

import argparse

from pointdose.flash import CONFIGS, flash


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", help="serial port of the board (default: the one board found)")
    parser.add_argument(
        "--config",
        choices=sorted(CONFIGS),
        help="device configuration stored on the board (default: leave the board's choice unchanged)",
    )
    parser.add_argument(
        "--source",
        action="store_true",
        help="copy the .py files instead of compiling them with mpy-cross (when the .mpy versions differ)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")


def run(args: argparse.Namespace) -> int:
    return flash(port=args.port, config=args.config, source=args.source, dry_run=args.dry_run)
