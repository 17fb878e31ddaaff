"""``pointdose analyze TRACE.csv --contact-kpa X [--band LOW:HIGH] --json``: metrics of a CSV trace.

The CSV has a header naming at least ``t_s`` and ``pressure_kpa`` (any order); ``seq``, ``segment``
and ``force_n`` are used when present (``seq`` reveals gaps); other columns are ignored. Every
problem names its line: a missing column, a value that is not a finite number, time going
backwards without a ``seq`` column (with one, a step back is a clock correction: a gap, see
docs/metrics.md), a file with no samples.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from pointdose.errors import UserError
from pointdose.errors import read_user_file
from pointdose.textout import json_text

MAX_TRACE_BYTES = 256 * 1024 * 1024  # an hour at 1 kHz as written by `pointdose export` is about 250 MB
MAX_COUNTER = 2 ** 53  # seq and segment: whole numbers a float holds exactly (and int64 holds)
LIMITS = {"t_s": 1e10, "pressure_kpa": 1e6, "force_n": 1e6}  # plausibility: beyond these sums overflow
REQUIRED = ("t_s", "pressure_kpa")
OPTIONAL = ("seq", "segment", "force_n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE.csv", help="CSV with columns t_s,pressure_kpa (others ignored)")
    parser.add_argument("--contact-kpa", type=float, required=True, metavar="X",
                        help="contact threshold in kPa: contact begins at or above it")
    parser.add_argument("--release-kpa", type=float, metavar="Y",
                        help="contact ends below this, kPa (default half the threshold; docs/metrics.md)")
    parser.add_argument("--band", metavar="LOW:HIGH", help="target band in kPa, e.g. 100:150")
    parser.add_argument("--ppt-kpa", type=float, metavar="P", help="the point's PPT in kPa (time above it)")
    parser.add_argument("--hold", action="append", default=[], metavar="T0:T1",
                        help="a hold window in s for hold stability (CV); repeat for several")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


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


def analyze(path, *, contact_kpa: float, band=None, ppt_kpa=None, holds=(), release_kpa=None) -> dict:
    from pointdose import metrics

    cols = read_trace(path)
    m = metrics.compute(cols["t_s"], cols["pressure_kpa"], contact_kpa=contact_kpa, release_kpa=release_kpa,
                        band_kpa=band,
                        ppt_kpa=ppt_kpa, holds=holds, force_n=cols.get("force_n"),
                        seq=[int(v) for v in cols["seq"]] if "seq" in cols else None,
                        segment=[int(v) for v in cols["segment"]] if "segment" in cols else None)
    return m.to_dict()


def run(args: argparse.Namespace) -> int:
    from pointdose.commands.cliutil import fmt, parse_range

    if not math.isfinite(args.contact_kpa):
        raise UserError("--contact-kpa must be a number of kPa")
    if args.release_kpa is not None and not (math.isfinite(args.release_kpa) and args.release_kpa <= args.contact_kpa):
        raise UserError(f"--release-kpa must be a number of kPa at or below --contact-kpa ({args.contact_kpa:g})")
    band = parse_range(args.band, "--band") if args.band else None
    holds = [parse_range(h, "--hold") for h in args.hold]
    result = analyze(args.trace, contact_kpa=args.contact_kpa, band=band, ppt_kpa=args.ppt_kpa, holds=holds,
                     release_kpa=args.release_kpa)
    if args.json:
        print(json_text(result, indent=2))
        return 0
    rows = [("samples", f"{result['n_samples']}"), ("duration", f"{fmt(result['duration_s'], 2)} s"),
            ("contact", f"from {fmt(result['contact_kpa'])} kPa up, until below {fmt(result['contact_release_kpa'])} kPa"),
            ("contact time", f"{fmt(result['contact_s'], 2)} s"),
            ("dose (descriptive)", f"{fmt(result['dose_kpa_s'])} kPa·s"),
            ("mean over contact", f"{fmt(result['mean_contact_kpa'])} kPa"), ("peak", f"{fmt(result['peak_kpa'])} kPa")]
    if band:
        rows.append((f"in band {band[0]:g}–{band[1]:g} kPa",
                     f"{fmt(result['in_band_s'], 2)} s ({fmt(result['in_band_pct'])} % of contact)"))
    if args.ppt_kpa is not None:
        rows.append((f"above PPT {args.ppt_kpa:g} kPa", f"{fmt(result['above_ppt_s'], 2)} s"))
    for i, cv in enumerate(result["hold_cv"], 1):
        rows.append((f"hold {i} stability (CV)", f"{cv * 100:.1f} %" if cv is not None else "— (too short)"))
    for gap in result["gaps"]:
        what = "device restarted" if gap["missing"] is None else f"{gap['missing']} samples missing"
        rows.append(("gap (not integrated)", f"{gap['duration_s']:.3f} s at {gap['t_before_s']:.3f} s, {what}"))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0
