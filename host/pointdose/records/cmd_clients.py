"""``pointdose clients add|list|points|note|erase|export|import|demo``: the people in the records."""

from __future__ import annotations

import argparse

from pointdose.records.cliutil import add_db_argument


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
    from pointdose.records.cliutil import open_store

    readonly = args.action in ("list", "points", "export")
    if args.action == "points" and not args.code:
        from pointdose import bodymap

        for loc in bodymap.LOCATIONS:
            caution = f"  [caution: {loc.caution}]" if loc.caution else ""
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
