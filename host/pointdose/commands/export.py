"""``pointdose export --client CODE [--out DIR] [--format json,csv]``: one client's records."""

from __future__ import annotations

import argparse

from pointdose.commands.cliutil import add_db_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client", required=True, metavar="CODE", help="the client's code")
    parser.add_argument("--out", default=".", metavar="DIR", help="folder to write CODE/ into (default: here)")
    parser.add_argument("--format", default="json,csv", metavar="F",
                        help="json, csv or json,csv (default): JSON of everything; CSV per-point summaries and samples")
    parser.add_argument("--include-name", action="store_true", help="also export the client's real name")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from pointdose.commands.cliutil import open_store
    from pointdose.records.exporting import export_client

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    with open_store(args, readonly=True) as store:
        files = export_client(store, args.client, args.out, formats=formats, include_name=args.include_name,
                              progress=not args.no_progress and sys.stderr.isatty())
    folder = files[0].parent if files else args.out
    print(f"exported {args.client}: {len(files)} files in {folder}")
    return 0
