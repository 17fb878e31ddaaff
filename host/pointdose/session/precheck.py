"""Before an application starts: the client's own PPT, the point's cautions, the client's screening.

The one place ``pointdose session`` and the app's Session tab turn "this client, this point, this
protocol" into what the runner gets, by :func:`pointdose.protocols.cautions.decide`::

    pre = prepare(protocol, store=store, client_id=3, point_name="upper_trapezius.1:L", probe_area_cm2=1.0)
    pre.lines()                          # PPT provenance, refusals, cautions, offers — for the user
    pre.check(acknowledged=..., confirmed=...)   # ProtocolError (one line) when it may not start
    pre.protocol, pre.point              # limits lowered; the client's own PPT; the region keys
    pre.info_extra(acknowledged, confirmed)      # kept with the application (ppt_id, cautions)

A %PPT target uses only the client's own PPT at that point (never another client's, never the
old points file): without one the protocol is refused with the command that measures it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pointdose import bodymap
from pointdose.protocols import PointContext, PPTRecord, Protocol, ProtocolError
from pointdose.protocols.cautions import Decision, Finding, decide, region_keys, relative_offers


def uses_ppt(protocol: Protocol) -> bool:
    return any(t is not None and t.unit == "%PPT" for ph in protocol.phases for t in (ph.target, ph.step))


def location_of(point_name: str, store=None, point_id: int | None = None):
    """The body-map location of a point (its id ``location:side``, or a stored point's location)."""
    loc_id = None
    if point_id is not None and store is not None:
        loc_id = store.point_row(point_id)["location"]
    elif point_name:
        loc_id = point_name.partition(":")[0]
    try:
        return bodymap.location(loc_id) if loc_id else None
    except ValueError:
        return None


@dataclass
class Prepared:
    protocol: Protocol
    point: PointContext
    decision: Decision
    ppt_id: int | None = None
    ppt_line: str = ""
    offers: dict[str, str] = field(default_factory=dict)
    extra_lines: list[str] = field(default_factory=list)

    @property
    def needs_ack(self) -> bool:
        return self.decision.needs_ack

    @property
    def needs_confirm(self) -> bool:
        return self.decision.needs_confirm

    def lines(self, how_to_accept: str = "(--relative-defaults, or --set KEY=\"N %PPT\")") -> list[str]:
        out = [self.ppt_line] if self.ppt_line else []
        out += self.decision.lines() + self.extra_lines
        if self.offers:
            ppt = self.point.ppt.kpa
            said = ", ".join(f"{k}={v} ({float(v.split()[0]) / 100 * ppt:.0f} kPa)" for k, v in self.offers.items())
            out.append(f"offer: this client has a PPT — targets relative to it: {said} {how_to_accept}".rstrip())
        return out

    def summary(self) -> str:
        """One line for while the application runs: what was acknowledged, the limits, the PPT used."""
        parts = []
        acks = [f.key.replace("_", " ") for f in self.decision.acknowledgements]
        if acks:
            parts.append("cautions acknowledged: " + ", ".join(acks))
        if self.decision.confirmations:
            parts.append("confirmed above the PPT ceiling")
        if self.decision.max_kpa is not None:
            parts.append(f"max {self.decision.max_kpa:.0f} kPa")
        if self.ppt_line:
            parts.append(self.ppt_line)
        return " · ".join(parts)

    def check(self, *, acknowledged: bool, confirmed: bool, ack_hint: str = "--accept-caution",
              confirm_hint: str = "--confirm-above-ppt") -> None:
        self.decision.check(acknowledged=acknowledged, confirmed=confirmed, ack_hint=ack_hint,
                            confirm_hint=confirm_hint)

    def info_extra(self, acknowledged: bool, confirmed: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"cautions": self.decision.record(acknowledged=acknowledged, confirmed=confirmed)}
        if self.ppt_id is not None and uses_ppt(self.protocol):
            out["ppt_id"] = self.ppt_id
        return out


def prepare(protocol: Protocol, *, store=None, client_id: int | None = None, point_name: str = "",
            point_id: int | None = None, probe_area_cm2: float = 1.0, regions: str | None = None,
            self_massage: bool = False, explicit_ppt_kpa: float | None = None, relative_defaults: bool = False,
            rebuild=None, legacy_points_path=None, given: list[str] | None = None,
            client_code: str | None = None, session_id: int | None = None) -> Prepared:
    """Everything the start needs; ProtocolError for a %PPT protocol without the client's own PPT.

    ``store``: an open records Store (None: no records, so no PPT and no screening are known);
    ``client_id``: the client (None or the "unassigned" client: nobody known); ``point_id``: the
    stored point when the body map picked it, else ``point_name`` is looked up for that client;
    ``rebuild(overrides) -> Protocol``: builds the protocol again with %PPT defaults
    (``relative_defaults``); ``legacy_points_path``: the old points file to mention.
    """
    from pointdose.records.ppt import UNASSIGNED, legacy_note, lookup

    client = None
    if store is not None and client_id is not None:
        client = store.client(client_id)
        if client["code"] == UNASSIGNED:
            client = None
    if client is not None and point_id is None and point_name:
        point_id = store.find_point(client["id"], point_name)
    location = location_of(point_name, store, point_id)
    keys = region_keys(regions)
    region = ",".join(list(dict.fromkeys(list(location.cautions if location else ()) + list(keys)))) or None
    name = point_name
    if point_id is not None and not name:
        row = store.point_row(point_id)
        name = row["label"] if row["location"] in ("custom", "unplaced") else f"{row['location']}:{row['side']}"
    found, ppt, ppt_line, extra = None, None, "", []
    if explicit_ppt_kpa is not None:
        ppt = PPTRecord(kpa=float(explicit_ppt_kpa), probe_area_cm2=probe_area_cm2, n=1)
        ppt_line = f"PPT {explicit_ppt_kpa:.0f} kPa, given on the command line (--ppt), not from the records"
    elif client is not None and point_id is not None:
        found = lookup(store, point_id, probe_area_cm2)
        if found is not None:
            ppt = found.record
            ppt_line = found.line()
    point = PointContext(name=name, probe_area_cm2=probe_area_cm2, ppt=ppt, region=region,
                         contact_s_before=point_contact_s(store, session_id, point_id))
    code = client["code"] if client else (client_code if client_code and client_code != UNASSIGNED else None)
    who = f"client {code}" if code else None
    if uses_ppt(protocol) and ppt is None:
        where = f" at {name!r}" if name else ""
        if who is None:
            raise ProtocolError(f"a %PPT target uses the client's own PPT{where}: choose the client (--client CODE, or "
                                "the Points tab) — PPTs are never shared between clients")
        note = legacy_note(name, legacy_points_path) if name else None
        raise ProtocolError(f"{who} has no PPT{where} yet: measure it first (pointdose session --protocol ppt "
                            f"--client {code} --point {name or 'POINT'}, or the Session tab with the ppt "
                            "protocol), or give the targets in kPa" + (f" ({note})" if note else ""))
    if uses_ppt(protocol) and ppt is not None:
        point.valid_ppt()  # measured with another probe: refused here, before any device is opened
    if ppt is None and name and code is not None:
        note = legacy_note(name, legacy_points_path)
        if note:
            extra.append(note)
    given = protocol_given(protocol) if given is None else given
    offers = relative_offers(protocol.name, given, point) if protocol.source == "built-in" else {}
    if relative_defaults and offers and rebuild is not None:
        protocol = rebuild(offers)
        offers = {}
    screening, screened_at = None, None
    if client is not None:
        scr = store.screening(client["id"])
        screening, screened_at = scr["active"], scr["screened_at"]
        self_massage = self_massage or client["role"] == "self"
    decision = decide(protocol, location=location, regions=keys, screening=screening, screened_at=screened_at,
                      self_massage=self_massage, point=point,
                      ppt_source=found.provenance if found else ("given with --ppt" if explicit_ppt_kpa else ""))
    try:
        applied = decision.apply(protocol)
    except ProtocolError as exc:  # the targets do not fit under the limits the cautions lowered
        keys = ", ".join(f.key.replace("_", " ") for f in decision.acknowledgements if f.max_kpa is not None)
        what = str(exc).split(": lower")[0]
        decision = Decision(decision.findings + (Finding(
            "targets_above_caution_limit", "caution", "refuse",
            f"{what}, lowered by the cautions here ({keys}): lower the target"),), decision.ppt_line)
        applied = protocol
    return Prepared(applied, point, decision, found.ppt_id if found else None, ppt_line, offers, extra)


def point_contact_s(store, session_id: int | None, point_id: int | None) -> float:
    """Seconds of pressure this point already had in this session (its ended applications' contact
    time), counted against the per-point cap (``Limits.point_cap_s``, docs/protocols.md)."""
    if store is None or session_id is None or point_id is None:
        return 0.0
    rows = store.query("SELECT COALESCE(SUM(m.contact_s), 0) AS s FROM applications a JOIN application_metrics m "
                       "ON m.application_id = a.id WHERE a.session_id = ? AND a.point_id = ?", (session_id, point_id))
    return float(rows[0]["s"] or 0.0) if rows else 0.0


def prepare_for_selection(protocol: Protocol, selection, *, point_name: str = "", probe_area_cm2: float = 1.0,
                          self_massage: bool = False, relative_defaults: bool = False, rebuild=None,
                          db_path=None) -> Prepared:
    """:func:`prepare` for the app: the client and point picked on the body map
    (:mod:`pointdose.records.selection`) when one is ready — the recording goes there too — else
    the typed point name and no client (nothing of anyone's is borrowed)."""
    from pointdose.records.store import Store, db_exists, db_location

    path = db_location(selection.db_path or db_path)
    ready = bool(getattr(selection, "ready", False))
    store = Store(path) if ready and db_exists(path) else None
    try:
        session_id = None
        if store is not None:  # the visit the recording will join (the terminal's rule), not made yet
            from pointdose.records.recording import selection_visit

            session_id = selection_visit(store, selection)[0]
        return prepare(protocol, store=store, client_id=selection.client_id if store else None,
                       point_id=selection.point_id if store else None, point_name="" if store else point_name,
                       session_id=session_id,
                       probe_area_cm2=probe_area_cm2, self_massage=self_massage,
                       relative_defaults=relative_defaults, rebuild=rebuild)
    finally:
        if store is not None:
            store.close()


def protocol_given(protocol: Protocol) -> list[str]:
    """The built-in's parameters that differ from its defaults (those the user set)."""
    from pointdose.protocols.builtin import BUILTINS

    b = BUILTINS.get(protocol.name)
    if b is None:
        return list(protocol.params)
    defaults = {p.key: p.default for p in b.params}
    return [k for k, v in protocol.params.items() if k in defaults and str(v) != str(defaults[k])]


__all__ = ["Prepared", "location_of", "prepare", "prepare_for_selection", "protocol_given", "uses_ppt"]
