"""Reading a pressure trace CSV (as `pointdose export` writes it): `pointdose analyze` and the
simulator's replay (`pointdose sim --replay samples.csv`) both read traces through it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from pointdose.errors import UserError, read_user_file

MAX_TRACE_BYTES = 256 * 1024 * 1024  # an hour at 1 kHz as written by `pointdose export` is about 250 MB
MAX_COUNTER = 2 ** 53  # seq and segment: whole numbers a float holds exactly (and int64 holds)
LIMITS = {"t_s": 1e10, "pressure_kpa": 1e6, "force_n": 1e6}  # plausibility: beyond these sums overflow
REQUIRED = ("t_s", "pressure_kpa")
OPTIONAL = ("seq", "segment", "force_n")


def read_trace(path: str | Path) -> dict[str, list[float]]:
    """Columns of a trace CSV; UserError naming the file and line of the first problem."""
    path = Path(path)
    text = read_user_file(path, what="trace CSV", max_bytes=MAX_TRACE_BYTES,
                          hint="give a CSV with columns t_s,pressure_kpa")
    reader = csv.reader(text.splitlines())
    try:
        return _columns(path, reader)
    except csv.Error as exc:
        raise UserError(f"{path} line {reader.line_num}: not readable as CSV ({exc}); "
                        "a trace holds numbers only") from None


def _columns(path: Path, reader) -> dict[str, list[float]]:
    header = None
    cols: dict[str, list[float]] = {}
    index: dict[str, int] = {}
    last_t = None
    for line_no, row in enumerate(reader, start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise UserError(f"{path} line {line_no}: the header has no {' or '.join(missing)} column "
                                f"(found: {', '.join(header)}); a trace needs t_s and pressure_kpa")
            index = {c: header.index(c) for c in REQUIRED + OPTIONAL if c in header}
            cols = {c: [] for c in index}
            continue
        if len(row) < len(header):
            raise UserError(f"{path} line {line_no}: {len(row)} values, but the header has {len(header)} columns")
        for name, i in index.items():
            cell = row[i].strip()
            try:
                value = float(cell)
            except ValueError:
                raise UserError(f"{path} line {line_no}: {name} {cell!r} is not a number") from None
            if not math.isfinite(value):
                raise UserError(f"{path} line {line_no}: {name} is {cell!r}; only finite numbers are allowed")
            if name in LIMITS and abs(value) > LIMITS[name]:
                raise UserError(f"{path} line {line_no}: {name} {cell} is beyond {LIMITS[name]:g} "
                                f"({'no probe reads that' if name != 't_s' else 'not a time in seconds'})")
            if name in ("seq", "segment") and not (value.is_integer() and abs(value) <= MAX_COUNTER):
                raise UserError(f"{path} line {line_no}: {name} {cell!r} must be a whole number of at most "
                                f"{MAX_COUNTER:,} (a sample counter)")
            cols[name].append(value)
        t = cols["t_s"][-1]
        if last_t is not None and t < last_t and "seq" not in index:  # with seq: a clock step back, a gap
            raise UserError(f"{path} line {line_no}: t_s {t:g} is before the previous sample's {last_t:g} "
                            "(time must not go backwards)")
        last_t = t
    if header is None:
        raise UserError(f"{path} is empty: expected a header line (t_s,pressure_kpa) and samples")
    if not cols["t_s"]:
        raise UserError(f"{path}: no samples after the header line")
    return cols
