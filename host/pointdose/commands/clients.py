"""``pointdose clients add|list|points|screen|ppt|finding|reference|rename-point|import-points|note|erase|export|import|demo``:
the people in the records."""

from __future__ import annotations

import argparse

from pointdose.commands.cliutil import add_db_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("add", help="add a client (a pseudonymous code; the name is optional)")
    p.add_argument("code")
    p.add_argument("--name")
    p.add_argument("--role", default="client", help="client (default), student or self")
    add_db_argument(p)
    p = sub.add_parser("list", help="list clients with their sessions and points")
    p.add_argument("--role")
    add_db_argument(p)
    p = sub.add_parser("points", help="a client's points (ids for --point) and the body-map locations")
    p.add_argument("code", nargs="?")
    add_db_argument(p)
    p = sub.add_parser("screen", help="a client's screening (anticoagulants, suspected DVT, …): show it, or record "
                       "answers, dated")
    p.add_argument("code")
    p.add_argument("--set", action="append", default=[], metavar="ITEM[,ITEM]", help="present now")
    p.add_argument("--clear", action="append", default=[], metavar="ITEM[,ITEM]", help="no longer present / not present")
    p.add_argument("--none", action="store_true", help="every item not given with --set: not present")
    p.add_argument("--note")
    add_db_argument(p)
    p = sub.add_parser("ppt", help="a client's PPTs per point, with where each came from")
    p.add_argument("code")
    add_db_argument(p)
    p = sub.add_parser("finding", help="record trigger-point findings at a point in the client's visit "
                       "(docs/clinical.md)")
    p.add_argument("code")
    p.add_argument("--point", required=True, metavar="P", help="a point id, location:side, or a point's name")
    p.add_argument("--kind", required=True, help="active, latent or none")
    p.add_argument("--taut-band", metavar="yes|no", help="taut band found (default: not examined)")
    p.add_argument("--twitch", metavar="yes|no", help="local twitch response (default: not examined)")
    p.add_argument("--referred", metavar="TEXT", help="the referred pain pattern, in words")
    p.add_argument("--region", metavar="R", help="where it refers: a body part (head, neck, …) or location:side")
    p.add_argument("--note")
    p.add_argument("--visit", metavar="ID|new", help="the visit (session); default: the open visit, else a new one")
    add_db_argument(p)
    p = sub.add_parser("reference", help="set (or --clear) a point's reference site: another point to compare with")
    p.add_argument("code")
    p.add_argument("--point", required=True, metavar="P")
    p.add_argument("--ref", metavar="Q", help="the reference point (id, location:side or name)")
    p.add_argument("--clear", action="store_true", help="no reference site")
    add_db_argument(p)
    p = sub.add_parser("rename-point", help="rename a point named by hand (its history stays with it)")
    p.add_argument("code")
    p.add_argument("--point", required=True, metavar="P")
    p.add_argument("name", help="the new name; a side word (L/R, left/right) sets the side")
    add_db_argument(p)
    p = sub.add_parser("import-points", help="import the old points file (PPTs by name, for nobody in particular) "
                       "into a client you name, else into 'unassigned'")
    p.add_argument("file", nargs="?", help="default: the old file in the user data folder ($POINTDOSE_POINTS)")
    p.add_argument("--client", metavar="CODE", help="only if you know these PPTs were this client's")
    add_db_argument(p)
    p = sub.add_parser("note", help="add a note to a client")
    p.add_argument("code")
    p.add_argument("text")
    add_db_argument(p)
    p = sub.add_parser("erase", help="delete a client and everything recorded about them")
    p.add_argument("code")
    p.add_argument("--yes", action="store_true", help="really erase (required)")
    add_db_argument(p)
    p = sub.add_parser("export", help="same as pointdose export --client CODE")
    p.add_argument("code")
    p.add_argument("--out", default=".")
    p.add_argument("--format", default="json,csv")
    add_db_argument(p)
    p = sub.add_parser("import", help="add a client from an export's JSON")
    p.add_argument("file")
    p.add_argument("--as", dest="new_code", metavar="CODE", help="import under another code")
    add_db_argument(p)
    p = sub.add_parser("demo", help="add a demo client with synthetic weekly sessions (no device needed)")
    p.add_argument("code", nargs="?", default="DEMO-01")
    p.add_argument("--sessions", type=int, default=4)
    add_db_argument(p)


def run(args: argparse.Namespace) -> int:
    from pointdose.errors import UserError
    from pointdose.commands.cliutil import open_store

    readonly = args.action in ("list", "points", "export")
    if args.action == "points" and not args.code:
        from pointdose import bodymap

        for loc in bodymap.LOCATIONS:
            caution = f"  [caution: {', '.join(loc.cautions)}]" if loc.cautions else ""
            print(f"{loc.id:<32} {loc.label} — {loc.landmark}{caution}")
        return 0
    with open_store(args, readonly=readonly) as store:
        if args.action == "add":
            store.add_client(args.code, name=args.name, role=args.role)
            print(f"added {args.role} {args.code}")
        elif args.action == "list":
            rows = store.query("SELECT c.code, c.role, (SELECT COUNT(*) FROM sessions s WHERE s.client_id=c.id) AS sessions, "
                               "(SELECT COUNT(*) FROM points p WHERE p.client_id=c.id) AS points, "
                               "(SELECT MAX(started_at) FROM sessions s WHERE s.client_id=c.id) AS last FROM clients c "
                               + ("WHERE c.role=? " if args.role else "") + "ORDER BY c.code",
                               (args.role,) if args.role else ())
            if not rows:
                print("no clients yet: pointdose clients add CODE")
            for r in rows:
                print(f"{r['code']:<16} {r['role']:<8} {r['sessions']:>3} sessions {r['points']:>3} points  "
                      f"last {r['last'] or '—'}")
        elif args.action == "points":
            client = store.client(args.code)
            for p in store.points(client["id"]):
                print(f"{p['id']:>5}  {p['label']} ({p['side']})  [{p['location']}]")
        elif args.action == "screen":
            _screen(store, args)
        elif args.action == "ppt":
            from pointdose.records.ppt import provenance

            client = store.client(args.code)
            rows = store.query("SELECT p.*, pt.label, pt.side FROM ppt p JOIN points pt ON p.point_id=pt.id "
                               "WHERE pt.client_id=? ORDER BY pt.label, p.measured_at", (client["id"],))
            if not rows:
                print(f"{args.code} has no PPT yet: pointdose session --protocol ppt --client {args.code} --point P")
            for r in rows:
                flags = "" if r["censored"] == 0 and (r["planned"] is None or (r["n"] or 0) >= r["planned"]) else \
                    "  [not used: incomplete or censored]"
                print(f"{r['label']} ({r['side']}): PPT {r['kpa']:.0f} kPa, {provenance(r)}{flags}")
        elif args.action in ("finding", "reference", "rename-point"):
            _clinical(store, args)
        elif args.action == "import-points":
            from pointdose.records.ppt import import_points_file

            code, n = import_points_file(store, args.file, client_code=args.client)
            print(f"imported {n} PPTs from the old points file into {code}"
                  + ("" if args.client else " (they were nobody's in particular; the file is unchanged)"))
        elif args.action == "note":
            store.add_note(store.client(args.code)["id"], args.text)
            print("note saved")
        elif args.action == "erase":
            if not args.yes:
                raise UserError(f"erasing {args.code} deletes all their sessions, samples and notes for good: "
                                "repeat with --yes to do it (backups made before keep them)")
            counts = store.erase_client(args.code)
            print(f"erased {args.code}: {counts['sessions']} sessions, {counts['applications']} applications, "
                  f"{counts['points']} points (freed space overwritten; earlier backups still hold them)")
        elif args.action == "export":
            import sys

            from pointdose.records.exporting import export_client

            files = export_client(store, args.code, args.out, formats=args.format.split(","),
                                  progress=sys.stderr.isatty())
            print(f"exported {args.code}: {len(files)} files in {files[0].parent if files else args.out}")
        elif args.action == "import":
            import sys

            from pointdose.records.exporting import import_client

            cid = import_client(store, args.file, code=args.new_code, progress=sys.stderr.isatty())
            print(f"imported {store.client(cid)['code']}")
        elif args.action == "demo":
            from pointdose.records.demo import make_demo

            make_demo(store, args.code, sessions=args.sessions)
            print(f"added demo client {args.code} with {args.sessions} synthetic sessions to {store.path}")
    return 0


def _screen(store, args) -> None:
    from pointdose.protocols.cautions import SCREENING, canonical

    client = store.client(args.code)

    def keys(values):
        return [canonical(k) for v in values for k in v.split(",") if k.strip()]

    present, absent = keys(args.set), keys(args.clear)
    both = set(present) & set(absent)
    if both:
        from pointdose.errors import UserError

        raise UserError(f"{', '.join(sorted(both))}: given with both --set and --clear; choose one")
    answers = {k: True for k in present}
    answers.update({k: False for k in absent})
    if args.none:
        answers.update({k: False for k in SCREENING if k not in answers})
    if answers:
        store.add_screening(client["id"], answers, note=args.note)
    scr = store.screening(client["id"])
    if scr["active"] is None:
        print(f"{args.code}: not screened yet — pointdose clients screen {args.code} --set ITEM … --none "
              f"(items: {', '.join(SCREENING)})")
        return
    print(f"{args.code}: screened {scr['screened_at'][:10]}")
    for key, item in SCREENING.items():
        row = scr["answers"].get(key)
        state = "—  not asked" if row is None else ("YES" if row["present"] else "no")
        when = f"  ({row['recorded_at'][:10]}{'; ' + row['note'] if row and row['note'] else ''})" if row else ""
        print(f"  {key:<20} {state:<12} {item.label}{when}")


def _point_of(store, client_id: int, text: str) -> int:
    """A client's point from an id, ``location:side`` or a name; UserError saying how to list them."""
    from pointdose.errors import UserError

    text = (text or "").strip()
    if text.isdigit():
        rows = store.query("SELECT id FROM points WHERE id=? AND client_id=?", (int(text), client_id))
        found = rows[0]["id"] if rows else None
    else:
        found = store.find_point(client_id, text)
    if found is None:
        code = store.client(client_id)["code"]
        raise UserError(f"client {code} has no point {text!r}: `pointdose clients points {code}` lists their points")
    return found


def _clinical(store, args) -> None:
    """clients finding / reference / rename-point (records.clinical)."""
    from pointdose.records import clinical

    client = store.client(args.code)
    pid = _point_of(store, client["id"], args.point)
    if args.action == "finding":
        from pointdose.records.recording import visit_session

        session_id, how = visit_session(store, client["id"], args.visit)
        clinical.add_finding(store, pid, session_id, args.kind, taut_band=args.taut_band, local_twitch=args.twitch,
                             referred_text=args.referred, referred_region=args.region, note=args.note)
        print(f"{clinical.latest_finding(store, pid, session_id).short()} — saved in {how}")
    elif args.action == "reference":
        from pointdose.errors import UserError

        if args.clear == bool(args.ref):
            raise UserError("give --ref POINT (the comparison site) or --clear")
        clinical.set_reference(store, pid, None if args.clear else _point_of(store, client["id"], args.ref))
        print(f"reference site: {clinical.reference_line(store, pid) or 'none'}")
    else:
        row = clinical.rename_point(store, pid, args.name)
        print(f"point {pid} is now {row['label']} ({row['side']}); its history stays with it")
