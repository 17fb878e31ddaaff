"""``pointdose records sync|check``: a records server shared by many stations (docs/records.md, "Many stations")."""

from __future__ import annotations

import argparse

from pointdose.commands.cliutil import add_db_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("sync", help="send this station's journal to the server now; with --from, merge a station's "
                                    "records file into it (again and again: nothing is duplicated)")
    p.add_argument("--from", dest="source", metavar="FILE", action="append", default=[],
                   help="a station's records.sqlite to merge into the server (repeat for several)")
    add_db_argument(p)
    p = sub.add_parser("check", help="check the records database: integrity, and on a server what is still pending")
    add_db_argument(p)


def run(args: argparse.Namespace) -> int:
    from pointdose.commands.cliutil import open_store
    from pointdose.errors import UserError
    from pointdose.records.store import db_location

    if args.action == "check":  # a server: writable, so that this station's journal is seen too
        with open_store(args, readonly=not isinstance(db_location(args.db), str)) as store:
            result = store.integrity_check()
            pending = store.pending()
            print(f"{store.path}: integrity {result}" + (f"; {pending} rows recorded offline not yet on the server"
                                                          if pending else ""))
        return 0 if result == "ok" else 1
    if not isinstance(db_location(args.db), str):  # said before a file is opened (or made)
        raise UserError("records sync sends records to a server: give it with --db postgresql://user@host/db "
                        "(or POINTDOSE_DB)")
    with open_store(args) as store:
        left = store.sync()
        if left:
            raise UserError(f"the records server {store.path} is away: {left} rows recorded on this station wait in "
                            "its journal; they are sent when it is back (or run this again)")
        print(f"{store.path}: this station's journal is on the server (nothing pending)")
        for source in args.source:
            from pointdose.records.sync import merge_file

            print(merge_file(source, store).summary())
    return 0
