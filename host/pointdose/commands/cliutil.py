"""What the records commands share: the --db option and opening the store for them."""

from __future__ import annotations

import argparse

from pointdose.errors import UserError


def add_db_argument(parser: argparse.ArgumentParser, used_for: str = "") -> None:
    """The ``--db`` option; ``used_for``: when a command reads it at all (e.g. "--replay APPLICATION_ID")."""
    parser.add_argument("--db", metavar="FILE|URL",
                        help=(f"{used_for}: " if used_for else "") + "records database, a file or "
                        "postgresql://user@host/db (default: $POINTDOSE_DB, else records.sqlite in the user data folder)")


def open_store(args, *, readonly: bool = False):
    from pointdose.records.store import Store

    return Store(getattr(args, "db", None), readonly=readonly)


def parse_range(text: str, what: str) -> tuple[float, float]:
    """``LOW:HIGH`` → (low, high), with an error that shows the expected form."""
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise UserError(f"{what} must be LOW:HIGH, e.g. 100:150, not {text!r}") from None
    if not low < high:
        raise UserError(f"{what} {text!r}: LOW must be below HIGH")
    return low, high


def fmt(value, digits: int = 1, none: str = "—") -> str:
    if value is None:
        return none
    return f"{value:.{digits}f}"
