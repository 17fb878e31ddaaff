"""``pointdose history --client CODE [--point ID] [--unit U] [--json]``: each point across sessions."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from pointdose.commands.cliutil import add_db_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client", required=True, metavar="CODE", help="the client's code")
    parser.add_argument("--point", type=int, metavar="ID", help="only this point (ids: pointdose clients points CODE)")
    parser.add_argument("--unit", default="kPa", metavar="UNIT",
                        help="pressure unit for PPT, peak and mean: kPa (default), kgf/cm2 or N/cm2")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--sem-kpa", type=float, metavar="KPA",
                        help="a published SEM of one PPT at this site (kPa) to label changes with, instead of the "
                             "client's own trials; needs --sem-source")
    parser.add_argument("--sem-source", metavar="TEXT", help="where that SEM comes from (study, site, population)")
    parser.add_argument("--sem-trials", type=int, default=1, metavar="K",
                        help="trials averaged in the PPT that SEM is for (default 1)")
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    from pointdose import units
    from pointdose.errors import UserError
    from pointdose.records import history
    from pointdose.commands.cliutil import open_store

    try:
        unit = units.unit(args.unit)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if unit.kind != "pressure":
        raise UserError(f"--unit {args.unit}: history shows pressures; choose kPa, kgf/cm2 or N/cm2")
    site = None
    if args.sem_kpa is not None or args.sem_source:
        import math

        from pointdose import pptchange

        if args.sem_kpa is None or not args.sem_source:
            raise UserError("--sem-kpa and --sem-source go together: a published SEM is used only with its source")
        if not (math.isfinite(args.sem_kpa) and args.sem_kpa > 0) or not 1 <= args.sem_trials <= 20:
            raise UserError("--sem-kpa must be a positive number of kPa and --sem-trials 1 to 20")
        site = pptchange.Reliability(sem_kpa=args.sem_kpa, source=args.sem_source, k=args.sem_trials)
    with open_store(args, readonly=True) as store:
        try:
            points = history.client_history(store, args.client, args.point, site)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        clinical_text = None if args.json else _clinical_text(store, args.client, points)
    if args.json:
        from pointdose.textout import json_text

        print(json_text([asdict(p) for p in points], indent=1))
        return 0
    if not points:
        print(f"client {args.client} has no points recorded yet")
        return 0

    def p(v):  # a pressure in the chosen unit
        return "—" if v is None else units.format_value(v * unit.per_internal, unit.key)

    sym = unit.key
    for ph in points:
        print(f"\n{ph.name}  [point {ph.point_id}, {ph.location}]")
        head = (f"{'date':<10}  {'protocol':<16} {'dur s':>6} {'contact s':>9} {'dose kPa·s':>10} "
                f"{'peak ' + sym:>10} {'PPT before→after ' + sym:>22}  change")
        print(head)
        for e in ph.entries:
            ppt = f"{p(e.ppt_before_kpa)} → {p(e.ppt_after_kpa)}" if e.ppt_before_kpa is not None else ""
            print(f"{e.date:<10}  {(e.protocol or '—')[:16]:<16} {e.duration_s:>6.0f} {e.contact_s:>9.1f} "
                  f"{e.dose_kpa_s:>10.0f} {p(e.peak_kpa):>10} {ppt:>22}  {e.change_notes()}")
        for line in clinical_text["points"].get(ph.point_id, []):
            print(f"  {line}")
    for line in clinical_text["client"]:
        print(line)
    print("\ndose: descriptive (∫ pressure dt over contact, docs/metrics.md). PPT changes are labelled against "
          "the MDC95 from this client's own repeated trials at the point (trial-to-trial error; 'no error estimate' "
          "until there are enough); PPTs are compared only with the same probe and ramp rate, and one taken under an "
          "older calibration is recomputed under the current one from raw counts first (the note says so).")
    return 0


def _clinical_text(store, code: str, points) -> dict:
    """The clinical record (docs/clinical.md) as lines: per point its norm, findings, reference site and
    trial-to-trial reliability; for the client the L/R asymmetry and session-to-session reliability."""
    from pointdose.records import clinical

    per_point = {}
    for ph in points:
        lines = [clinical.norm_line(store, ph.point_id)]
        f = clinical.latest_finding(store, ph.point_id)
        lines.append("findings: " + (f"{f.short()} ({f.recorded_at[:10]})" if f else "none recorded"))
        ref = clinical.reference_line(store, ph.point_id)
        if ref:
            lines.append(f"reference site: {ref}")
        rel = clinical.trial_reliability(store, ph.point_id)
        lines.append(f"reliability, trial to trial: {rel.message}")
        per_point[ph.point_id] = lines
    client_id = store.client(code)["id"]
    out = ["", "Left/right asymmetry (newest PPT per side):"]
    out += [f"  {a.line()}" for a in clinical.asymmetry(store, client_id)] or ["  no bilateral site with a PPT on "
                                                                              "both sides yet"]
    between = clinical.session_reliability(store, client_id)
    out += ["Reliability, session to session:", f"  {between.message}"]
    if store.client(code)["role"] == "student":
        out += ["Reliability of the student's pressing (training trials):",
                f"  {clinical.student_reliability(store, client_id).message}"]
    return {"points": per_point, "client": out}
