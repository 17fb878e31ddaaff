"""Command line: one table maps each command to the module that implements it.

Each command module has ``add_arguments(parser)`` and ``run(args) -> int``. Command modules
import heavy dependencies (DearPyGui, numpy-heavy code) inside ``run`` only, so that
``pointdose --help`` stays fast and a command that needs no GUI never imports DearPyGui.

Errors meant for the user are raised as :class:`UserError` (or a subclass) anywhere below;
they are printed here as ``pointdose: what went wrong and what to do`` with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pointdose import __version__
from pointdose.errors import UserError
from pointdose.textout import SafeWriter, clean

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "app": ("pointdose.commands.app", "open the app on a board, or on the simulated device when none is found"),
    "sim": ("pointdose.commands.sim", "run the simulated device (the real firmware) and print its port"),
    "monitor": ("pointdose.commands.monitor", "stream live readings as text (no GUI)"),
    "flash": ("pointdose.commands.flash", "install the firmware on a board with mpremote"),
    "session": ("pointdose.commands.session", "run a guided protocol with text cues (terminal, SSH, tests)"),
    "protocols": ("pointdose.commands.protocols", "list the built-in protocols and their parameters; check a .toml"),
    "calibrate": ("pointdose.commands.calibrate", "calibrate a sensor (wizard, fit a CSV, show, verify, zero drift)"),
    "analyze": ("pointdose.commands.analyze", "metrics of a pressure trace CSV (contact time, dose, time in band)"),
    "history": ("pointdose.commands.history", "a client's points across sessions: PPT trend, dose, duration"),
    "export": ("pointdose.commands.export", "export a client's records as JSON and CSV"),
    "report": ("pointdose.commands.report", "a PDF report per session"),
    "backup": ("pointdose.commands.backup", "a checked copy of the records database"),
    "records": ("pointdose.commands.records", "a records server for many stations: sync the journal, merge a "
                                              "station's file, check"),
    "clients": ("pointdose.commands.clients", "add, list, erase, export or import clients"),
    "train": ("pointdose.commands.train", "training drills with feedback schedules; student progress; CSV export/merge"),
    "class": ("pointdose.commands.classes", "students and classes for training; compare a class"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pointdose", description="Live pressure feedback for trigger-point work.")
    parser.add_argument("--version", action="version", version=f"pointdose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    stdout = sys.stdout
    sys.stdout = SafeWriter(stdout)  # names and labels from users and files never print raw escapes
    try:
        module = importlib.import_module(args._module)
        return int(module.run(args) or 0)
    except UserError as exc:
        print(f"pointdose: {clean(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        if isinstance(sys.stdout, SafeWriter):
            sys.stdout.flush()
        sys.stdout = stdout


if __name__ == "__main__":
    raise SystemExit(main())
