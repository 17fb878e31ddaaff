"""``pointdose report --session ID | --client CODE [--latest] [--out FILE]``: a PDF per session."""

from __future__ import annotations

import argparse

from pointdose.commands.cliutil import add_db_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", type=int, metavar="ID", help="the session (ids: pointdose history --client CODE --json)")
    which.add_argument("--client", metavar="CODE", help="a report for each of the client's sessions (or --latest)")
    parser.add_argument("--latest", action="store_true", help="with --client: only the most recent session")
    parser.add_argument("--out", metavar="PATH", help="PDF file (one session) or folder (default: here)")
    parser.add_argument("--unit", default="kPa", help="also show pressures in this unit (kgf/cm2, N/cm2)")
    parser.add_argument("--include-name", action="store_true", help="print the client's real name, not only the code")
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from pointdose import units
    from pointdose.errors import UserError
    from pointdose.files import inside
    from pointdose.commands.cliutil import open_store
    from pointdose.records.report import report_name, session_report

    try:
        units.unit(args.unit)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    progress = sys.stderr.isatty()
    with open_store(args, readonly=True) as store:
        if args.session is not None:
            session = store.session(args.session)
            code = store.client(int(session["client_id"]))["code"]
            sessions = [session]
        else:
            client = store.client(args.client)
            code = client["code"]
            sessions = store.sessions(client["id"])
            if not sessions:
                raise UserError(f"client {code} has no sessions yet")
            if args.latest:
                sessions = sessions[-1:]
        written = []
        for s in sessions:
            name = report_name(code, s)  # a plain file in the folder
            if args.out and args.out.lower().endswith(".pdf"):
                if len(sessions) > 1:
                    raise UserError("--out FILE.pdf takes one session: give --session ID or --latest, or a folder")
                out = Path(args.out)
            else:
                out = inside(Path(args.out or "."), name)
            written.append(session_report(store, s["id"], out, include_name=args.include_name, unit=args.unit,
                                          progress=progress))
    for path in written:
        print(f"report written to {path}")
    return 0
