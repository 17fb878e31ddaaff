"""``pointdose backup [DEST]``: a consistent, checked copy of the records database."""

from __future__ import annotations

import argparse

from pointdose.commands.cliutil import add_db_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dest", nargs="?", metavar="DEST",
                        help="backup file (default: records-YYYYmmdd-HHMMSS.sqlite beside the database)")
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    import sys
    from datetime import datetime
    from pathlib import Path

    from tqdm import tqdm

    from pointdose.commands.cliutil import open_store

    with open_store(args, readonly=False) as store:
        dest = Path(args.dest) if args.dest else None if store.backend != "sqlite" else store.path.with_name(
            f"records-{datetime.now().strftime('%Y%m%d-%H%M%S')}.sqlite")
        with tqdm(desc="backup", unit="page", leave=False, disable=not sys.stderr.isatty()) as bar:
            def progress(done, total):
                bar.total = total
                bar.n = done
                bar.refresh()
            store.backup(dest, progress=progress)
    print(f"backup written to {dest} (integrity checked)")
    return 0
