"""``pointdose analyze TRACE.csv --contact-kpa X [--band LOW:HIGH] --json``: metrics of a CSV trace.

The CSV has a header naming at least ``t_s`` and ``pressure_kpa`` (any order); ``seq``, ``segment``
and ``force_n`` are used when present (``seq`` reveals gaps); other columns are ignored. Every
problem names its line: a missing column, a value that is not a finite number, time going
backwards without a ``seq`` column (with one, a step back is a clock correction: a gap, see
docs/metrics.md), a file with no samples.
"""

from __future__ import annotations

import argparse
import math

from pointdose.errors import UserError
from pointdose.records.trace_csv import read_trace
from pointdose.textout import json_text


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
