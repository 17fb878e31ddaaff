"""A client's own PPT at a point, with where it came from; importing the old points file.

PPTs belong to one client's point (table ``ppt`` → ``points`` → ``clients``). A %PPT target uses
only that client's own PPT at that point, measured with the same probe area, and says so::

    found = lookup(store, client_id, point_id, probe_area_cm2=1.0)
    found.line()   # "PPT 258 kPa, measured 2026-11-29, this client (1 cm² probe, 50 kPa/s, 3 trials)"

The old ``points.json`` (PPTs by point name for nobody in particular) is read only to tell the user
about it and to import it when asked (:func:`import_points_file`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pointdose.protocols.model import PPTRecord
from pointdose.protocols.points import LegacyPointsFile
from pointdose.records.store import Store, StoreError

UNASSIGNED = "unassigned"  # the listener's client for recordings nobody filed


@dataclass(frozen=True)
class ClientPPT:
    record: PPTRecord
    ppt_id: int
    provenance: str  # "measured 2026-11-29, this client (1 cm² probe, 50 kPa/s, 3 trials)"

    def line(self) -> str:
        return f"PPT {self.record.kpa:.0f} kPa, {self.provenance}"


def provenance(row: dict) -> str:
    when = str(row.get("measured_at") or "")[:10] or "date unknown"
    how = {"measured": "measured", "entered": "entered by hand", "points-file": "imported from the old points file"}
    parts = [f"{row['probe_area_cm2']:g} cm² probe"]
    if row.get("ramp_kpa_s"):
        parts.append(f"{row['ramp_kpa_s']:g} kPa/s")
    if row.get("n"):
        parts.append(f"{row['n']} trial{'s' if row['n'] != 1 else ''}")
    return f"{how.get(row.get('source') or 'measured', row.get('source'))} {when}, this client ({', '.join(parts)})"


def lookup(store: Store, point_id: int, probe_area_cm2: float | None = None) -> ClientPPT | None:
    row = store.client_ppt(point_id, probe_area_cm2)
    if row is None:
        return None
    rec = PPTRecord(kpa=float(row["kpa"]), probe_area_cm2=float(row["probe_area_cm2"]), rate_kpa_s=row["ramp_kpa_s"],
                    sd_kpa=row.get("sd_kpa"), n=int(row.get("n") or 1), measured=str(row["measured_at"]))
    return ClientPPT(rec, int(row["id"]), provenance(row))


def import_points_file(store: Store, path: str | Path | None = None, client_code: str | None = None) -> tuple[str, int]:
    """Copy every PPT of the old points file into ``client_code``'s points (else "unassigned"), each
    marked ``source='points-file'`` with its own date; returns (client code, PPTs imported).

    The file never said whose PPT it was: import it into a real client only when you know."""
    legacy = LegacyPointsFile(path)
    if not legacy.exists():
        raise StoreError(f"there is no old points file at {legacy.path}: nothing to import")
    entries = legacy.entries()
    code = client_code or UNASSIGNED
    try:
        client_id = store.client(code)["id"]
    except StoreError:
        if client_code is not None:
            raise
        client_id = store.add_client(UNASSIGNED, notes="recordings made before a client was chosen: move or erase them")
    session_id = store.start_session(client_id, operator=f"import of {legacy.path}")
    count = 0
    with store.transaction("importing the old points file") as conn:
        for name, recs in entries.items():
            point_id = _point(store, conn, client_id, name)
            for r in recs:
                try:
                    kpa, area = float(r["kpa"]), float(r["probe_area_cm2"])
                except (KeyError, TypeError, ValueError):
                    continue
                store.add_ppt(point_id, session_id, kpa, probe_area_cm2=area, ramp_kpa_s=r.get("rate_kpa_s"),
                              sd_kpa=r.get("sd_kpa"), n=r.get("n"), source="points-file", conn=conn,
                              measured_at=str(r.get("measured") or "") or None,
                              note=f"imported from {legacy.path}: the file did not say whose PPT it was; "
                                   f"point name {name!r}")
                count += 1
    store.end_session(session_id)
    return code, count


def _point(store: Store, conn, client_id: int, name: str) -> int:
    """The client's point for an old name (the listener's rule: ``location:side`` or an unplaced label)."""
    from pointdose import bodymap

    location, _, side = name.partition(":")
    try:
        bodymap.location(location)
        loc, side, label = location, side or "mid", bodymap.location(location).label
    except ValueError:
        label, side = bodymap.split_side(name)
        loc = "unplaced"
    row = conn.execute("SELECT id FROM points WHERE client_id=? AND location=? AND side=? AND label=?",
                       (client_id, loc, side, label)).fetchone()
    if row:
        return row[0]
    from pointdose.records.store import now_iso

    return conn.execute("INSERT INTO points (client_id, location, side, label, created_at) VALUES (?,?,?,?,?)",
                        (client_id, loc, side, label, now_iso())).lastrowid


def legacy_note(name: str, path: str | Path | None = None) -> str | None:
    """One line when the old points file holds a PPT for ``name``: it is not used, and how to import it."""
    legacy = LegacyPointsFile(path)
    rec = legacy.ppt(name) if name and legacy.exists() else None
    if rec is None:
        return None
    return (f"note: the old points file {legacy.path} has a PPT of {rec.get('kpa')} kPa for {name!r}, kept for no "
            f"particular client; it is not used. If it was this client's: pointdose clients import-points "
            f"{legacy.path} --client CODE")


__all__ = ["ClientPPT", "UNASSIGNED", "import_points_file", "legacy_note", "lookup", "provenance"]
