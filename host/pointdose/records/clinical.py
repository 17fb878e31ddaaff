"""The clinical record of a point: trigger-point findings, a reference site, renaming and moving.

Findings follow the clinical criteria of Simons, Travell & Simons (1999, *Myofascial Pain and
Dysfunction: The Trigger Point Manual*, vol. 1, 2nd ed., ch. 2): a trigger point is **active** when
it reproduces the client's own complaint, **latent** when it is tender but not spontaneously
painful; a **taut band** and a **local twitch response** are recorded as found (1), not found (0)
or not examined (None); the **referred pain pattern** is words and/or a place (a body-map
``location:side`` or a body part from :data:`pointdose.bodymap.PARTS`). One row per examination:
several in a session are kept, the newest counts.

A point's **reference site** is another point of the same client used as the comparison site
(e.g. a pain-free site, or the same muscle on the other side): its PPT is shown beside the point's.

A free-text point (``unplaced``, from ``session --point "upper trapezius L"``, or ``custom``, placed
by hand) can be **renamed** and **moved** (placed on the figure). Its id stays, so its history,
PPTs and applications follow; what it was before is kept in ``point_changes``. Body-map locations
keep their manual's name and place.

Only :class:`Store` methods ``query`` and ``transaction`` are used, so this works on any store that
offers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pointdose import bodymap
from pointdose.records.store import Store, StoreError, now_iso, shown

FINDING_KINDS = ("active", "latent", "none")
FREE_TEXT = ("unplaced", "custom")
MAX_TEXT = 500


@dataclass(frozen=True)
class Finding:
    id: int
    point_id: int
    session_id: int
    application_id: int | None
    kind: str
    taut_band: bool | None
    local_twitch: bool | None
    referred_text: str | None
    referred_region: str | None
    note: str | None
    recorded_at: str

    def short(self) -> str:
        """One line: "active TrP · taut band yes · twitch not examined · refers: temple (head)"."""
        def yn(v):
            return "not examined" if v is None else ("yes" if v else "no")
        kind = {"active": "active TrP", "latent": "latent TrP", "none": "no TrP found"}[self.kind]
        parts = [kind, f"taut band {yn(self.taut_band)}", f"local twitch {yn(self.local_twitch)}"]
        where = [w for w in (self.referred_text, region_text(self.referred_region)) if w]
        parts.append("refers: " + ", ".join(where) if where else "no referred pain recorded")
        return " · ".join(parts)


def _flag(value, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("", "?", "not examined", "n/a", "na"):
            return None
        if low in ("y", "yes", "1", "true", "present"):
            return 1
        if low in ("n", "no", "0", "false", "absent"):
            return 0
        raise StoreError(f"{what} is yes, no or not examined, not {shown(value)}")
    return 1 if bool(value) else 0


def _text(value, what: str) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise StoreError(f"{what} is {len(text)} characters long: keep it under {MAX_TEXT}")
    return text


def check_region(region: str | None) -> str | None:
    """A referred-pain region as stored: ``location:side`` of the body map, or a body part; None
    for none. StoreError saying what is accepted otherwise."""
    if region is None or not str(region).strip():
        return None
    text = str(region).strip()
    if text in bodymap.PARTS:
        return text
    loc_id, _, side = text.partition(":")
    try:
        bodymap.location(loc_id)
    except ValueError:
        raise StoreError(f"referred pain region {shown(text)} is neither a body-map location ('location:side', "
                         f"`pointdose clients points` lists them) nor a body part ({', '.join(bodymap.PARTS)})") from None
    side = side or "mid"
    if side not in ("L", "R", "mid"):
        raise StoreError(f"referred pain region {shown(text)}: the side is L, R or mid, not {shown(side)}")
    return f"{loc_id}:{side}"


def region_text(region: str | None) -> str:
    """How a stored region reads: "Upper trapezius TrP1 (L)", "head" ('' for none)."""
    if not region:
        return ""
    if region in bodymap.PARTS:
        return region.replace("_", " ")
    loc_id, _, side = region.partition(":")
    try:
        return f"{bodymap.location(loc_id).label} ({side or 'mid'})"
    except ValueError:
        return region


def _point(store: Store, point_id: int) -> dict:
    rows = store.query("SELECT * FROM points WHERE id=?", (point_id,))
    if not rows:
        raise StoreError(f"there is no point {point_id} in the records")
    return rows[0]


def _session_of(store: Store, session_id: int) -> dict:
    rows = store.query("SELECT * FROM sessions WHERE id=?", (session_id,))
    if not rows:
        raise StoreError(f"there is no session {session_id} in the records")
    return rows[0]


# --------------------------------------------------------------------------- findings


def add_finding(store: Store, point_id: int, session_id: int, kind: str, *, taut_band=None, local_twitch=None,
                referred_text: str | None = None, referred_region: str | None = None,
                application_id: int | None = None, note: str | None = None) -> int:
    """Record what was palpated at the point in this session; returns the row id."""
    kind = str(kind or "").strip().lower()
    if kind not in FINDING_KINDS:
        raise StoreError(f"a trigger-point finding is {', '.join(FINDING_KINDS)}, not {shown(kind)}")
    point = _point(store, point_id)
    session = _session_of(store, session_id)
    if point["client_id"] != session["client_id"]:
        raise StoreError(f"point {point_id} and session {session_id} belong to different clients")
    if application_id is not None:
        app = store.query("SELECT point_id, session_id FROM applications WHERE id=?", (application_id,))
        if not app or app[0]["point_id"] != point_id or app[0]["session_id"] != session_id:
            raise StoreError(f"application {application_id} is not at point {point_id} in session {session_id}")
    values = (point_id, session_id, application_id, kind, _flag(taut_band, "taut band"),
              _flag(local_twitch, "local twitch response"), _text(referred_text, "the referred pain pattern"),
              check_region(referred_region), _text(note, "the note"), now_iso())
    with store.transaction("saving a trigger-point finding") as conn:
        return conn.execute("INSERT INTO findings (point_id, session_id, application_id, kind, taut_band, local_twitch, "
                            "referred_text, referred_region, note, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                            values).lastrowid


def _finding(row: dict) -> Finding:
    return Finding(id=row["id"], point_id=row["point_id"], session_id=row["session_id"],
                   application_id=row["application_id"], kind=row["kind"],
                   taut_band=None if row["taut_band"] is None else bool(row["taut_band"]),
                   local_twitch=None if row["local_twitch"] is None else bool(row["local_twitch"]),
                   referred_text=row["referred_text"], referred_region=row["referred_region"], note=row["note"],
                   recorded_at=row["recorded_at"])


def findings(store: Store, *, point_id: int | None = None, session_id: int | None = None) -> list[Finding]:
    """Findings at a point and/or in a session, oldest first."""
    where, params = [], []
    for col, val in (("point_id", point_id), ("session_id", session_id)):
        if val is not None:
            where.append(f"{col}=?")
            params.append(val)
    sql = "SELECT * FROM findings" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY recorded_at, id"
    return [_finding(r) for r in store.query(sql, tuple(params))]


def latest_finding(store: Store, point_id: int, session_id: int | None = None) -> Finding | None:
    """The newest finding at the point (in ``session_id`` when given)."""
    rows = findings(store, point_id=point_id, session_id=session_id)
    return rows[-1] if rows else None


# --------------------------------------------------------------------------- reference site


def set_reference(store: Store, point_id: int, reference_point_id: int | None) -> None:
    """Use ``reference_point_id`` (a point of the same client) as this point's comparison site; None clears it."""
    point = _point(store, point_id)
    if reference_point_id is not None:
        if reference_point_id == point_id:
            raise StoreError("a point cannot be its own reference site: choose another point")
        ref = _point(store, reference_point_id)
        if ref["client_id"] != point["client_id"]:
            raise StoreError(f"point {reference_point_id} belongs to another client: a reference site is one of "
                             "this client's own points")
    with store.transaction("saving a reference site") as conn:
        conn.execute("UPDATE points SET reference_point_id=? WHERE id=?", (reference_point_id, point_id))


def reference(store: Store, point_id: int) -> dict | None:
    """The point's reference site (a points row), None without one."""
    ref = _point(store, point_id).get("reference_point_id")
    return _point(store, ref) if ref is not None else None


# --------------------------------------------------------------------------- renaming and moving


def check_free_text(point: dict, doing: str) -> None:
    if point["location"] not in FREE_TEXT:
        raise StoreError(f"{shown(point['label'])} is a body-map location (its name and place come from the manual): "
                         f"only points named by hand can be {doing}; place a new point instead")


def _keep_old(conn, point: dict) -> None:
    conn.execute("INSERT INTO point_changes (point_id, old_location, old_side, old_label, old_view, old_x, old_y, "
                 "changed_at) VALUES (?,?,?,?,?,?,?,?)",
                 (point["id"], point["location"], point["side"], point["label"], point["view"], point["x"],
                  point["y"], now_iso()))


def _check_free(store: Store, point: dict, location: str, side: str, label: str) -> None:
    """No other point of the client answers to this name: a name typed by hand finds an unplaced and
    a placed (custom) point alike (``Store.find_point``), so both count."""
    places = FREE_TEXT if location in FREE_TEXT else (location,)
    clash = store.query(f"SELECT id FROM points WHERE client_id=? AND location IN ({', '.join('?' * len(places))}) "
                        "AND side=? AND label=? AND id<>?", (point["client_id"], *places, side, label, point["id"]))
    if clash:
        raise StoreError(f"this client already has a point {shown(label)} ({side}) there (point {clash[0]['id']}): "
                         "choose another name")


def rename_point(store: Store, point_id: int, name: str) -> dict:
    """Give a free-text point a new name; a side word in it (L/R, left/right, lt/rt) sets the side,
    else the side stays. Returns the updated row."""
    point = _point(store, point_id)
    check_free_text(point, "renamed")
    label, side = bodymap.split_side(name or "")
    if not label:
        raise StoreError("a point needs a name: type one")
    if len(label) > 120:
        raise StoreError(f"a point's name is at most 120 characters, this one has {len(label)}")
    if side == "mid":
        side = point["side"]
    if point["location"] == "custom" and side != point["side"] and point["side"] != "mid":
        raise StoreError(f"{shown(point['label'])} is placed on the {_side_word(point['side'])} side of the figure: "
                         f"move it to the {_side_word(side)} side first, or name it without a side")
    if (label, side) == (point["label"], point["side"]):
        return point
    _check_free(store, point, point["location"], side, label)
    with store.transaction("renaming a point") as conn:
        _keep_old(conn, point)
        conn.execute("UPDATE points SET label=?, side=? WHERE id=?", (label, side, point_id))
    return _point(store, point_id)


def move_point(store: Store, point_id: int, view: str, x: float, y: float) -> dict:
    """Place (or move) a free-text point on the figure at (x, y) of ``view``. The side follows the
    place; a point whose name gave it a side is refused on the other half (say which). Returns the row."""
    point = _point(store, point_id)
    check_free_text(point, "moved")
    if view not in ("front", "back"):
        raise StoreError(f"a point is placed on the 'front' or 'back' view, not {shown(view)}")
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise StoreError(f"a place on the figure is two numbers from 0 to 1, got {shown(x)}, {shown(y)}") from None
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise StoreError(f"a place on the figure is x, y from 0 to 1, got {x:g}, {y:g}")
    side = bodymap.side_of(view, x)
    if point["side"] in bodymap.SIDES and side != point["side"]:
        if side == "mid":
            side = point["side"]
        else:
            raise StoreError(f"{shown(point['label'])} is on the client's {_side_word(point['side'])} side; that place "
                             f"is on their {_side_word(side)} side: click its own side, or rename the point first")
    _check_free(store, point, "custom", side, point["label"])
    with store.transaction("moving a point") as conn:
        _keep_old(conn, point)
        conn.execute("UPDATE points SET location='custom', side=?, view=?, x=?, y=? WHERE id=?",
                     (side, view, x, y, point_id))
    return _point(store, point_id)


def find_free_point(store: Store, client_id: int, name: str) -> int | None:
    """The client's free-text point called ``name``: by its current name, else by a name it had
    before a rename (:meth:`Store.free_point`). None: no such point."""
    return store.free_point(client_id, name)


def point_changes(store: Store, point_id: int) -> list[dict]:
    return store.query("SELECT * FROM point_changes WHERE point_id=? ORDER BY id", (point_id,))


def _side_word(side: str) -> str:
    return {"L": "left", "R": "right"}.get(side, "midline")


# --------------------------------------------------------------------------- PPT per point: asymmetry, norms, reliability


def signed(value: float) -> str:
    """+12 / −12 (a real minus sign, as the rest of the reports write it)."""
    text = f"{value:+.0f}"
    return "0" if text in ("+0", "-0") else text.replace("-", "−")


def _alike(a: dict, b: dict) -> bool:
    """Same probe area and ramp rate (within 2 %): PPTs comparable (domain notes)."""
    from pointdose.records.history import Conditions

    ca = Conditions(a["probe_area_cm2"], a["ramp_kpa_s"], None)
    return not ca.differences(Conditions(b["probe_area_cm2"], b["ramp_kpa_s"], None), calibration=False)


def _ppt_rows(store: Store, point_id: int, session_id: int | None = None) -> list[dict]:
    """Usable PPT rows at a point (complete, not censored), oldest first, trials decoded."""
    import json

    sql = ("SELECT p.*, s.started_at AS session_started FROM ppt p JOIN sessions s ON p.session_id=s.id "
           "WHERE p.point_id=? AND p.censored=0 AND (p.planned IS NULL OR p.n IS NULL OR p.n >= p.planned)")
    params: tuple = (point_id,)
    if session_id is not None:
        sql += " AND p.session_id=?"
        params += (session_id,)
    rows = store.query(sql + " ORDER BY s.started_at, p.measured_at, p.id", params)
    for r in rows:
        try:
            trials = json.loads(r["repeats"]) if r["repeats"] else []
            r["trials"] = [float(v) for v in trials if v is not None]
        except (TypeError, ValueError):
            r["trials"] = []
    return rows


def session_ppt_value(store: Store, point_id: int, session_id: int) -> dict | None:
    """The point's PPT in the session: the mean of its 'before' PPTs (else of any there), with the
    conditions of the first; None when none was measured."""
    rows = _ppt_rows(store, point_id, session_id)
    if not rows:
        return None
    before = [r for r in rows if r["stage"] in (None, "before")] or rows
    first = before[0]
    same = [r for r in before if _alike(r, first)]
    return {"kpa": sum(r["kpa"] for r in same) / len(same), "probe_area_cm2": first["probe_area_cm2"],
            "ramp_kpa_s": first["ramp_kpa_s"], "trials": first["trials"], "session_id": session_id,
            "date": first["session_started"][:10]}


def _latest_ppt(store: Store, point_id: int) -> dict | None:
    rows = _ppt_rows(store, point_id)
    if not rows:
        return None
    return session_ppt_value(store, point_id, rows[-1]["session_id"])


@dataclass(frozen=True)
class Asymmetry:
    """PPT on the left and right of one bilateral site."""

    site: str
    left_point_id: int
    right_point_id: int
    left_kpa: float | None
    right_kpa: float | None
    note: str = ""  # why there is no comparison

    @property
    def diff_kpa(self) -> float | None:
        """Left − right (kPa)."""
        return None if self.left_kpa is None or self.right_kpa is None or self.note else self.left_kpa - self.right_kpa

    @property
    def ratio(self) -> float | None:
        """Left / right."""
        d = self.diff_kpa
        return None if d is None or not self.right_kpa else self.left_kpa / self.right_kpa

    def line(self) -> str:
        def v(x):
            return "—" if x is None else f"{x:.0f} kPa"
        text = f"{self.site}: L {v(self.left_kpa)}, R {v(self.right_kpa)}"
        if self.diff_kpa is not None:
            lower = "left" if self.diff_kpa < 0 else "right" if self.diff_kpa > 0 else ""
            text += (f"; L − R {signed(self.diff_kpa)} kPa, L/R {self.ratio:.2f}"
                     + (f" (lower on the {lower})" if lower else ""))
        elif self.note:
            text += f"; {self.note}"
        return text


def asymmetry(store: Store, client_id: int, session_id: int | None = None) -> list[Asymmetry]:
    """Every bilateral site of the client with a PPT on both sides (in ``session_id``, else each
    side's newest): left and right, their difference and ratio. Sites pair by body-map location, and
    free-text points by their name."""
    points = store.query("SELECT * FROM points WHERE client_id=? AND side IN ('L', 'R') ORDER BY id", (client_id,))
    sites: dict[tuple[str, str], dict[str, dict]] = {}
    for p in points:
        key = (p["location"], p["label"]) if p["location"] in FREE_TEXT else (p["location"], "")
        sites.setdefault(key, {}).setdefault(p["side"], p)
    out = []
    for (location, label), sides in sites.items():
        if "L" not in sides or "R" not in sides:
            continue
        values = {}
        for side in ("L", "R"):
            pid = sides[side]["id"]
            values[side] = (session_ppt_value(store, pid, session_id) if session_id is not None
                            else _latest_ppt(store, pid))
        if values["L"] is None or values["R"] is None:
            continue
        name = label or bodymap.location(location).label
        note = ""
        if not _alike(values["L"], values["R"]):
            note = (f"not compared: probe {values['L']['probe_area_cm2']:g} vs {values['R']['probe_area_cm2']:g} cm², "
                    f"ramp {values['L']['ramp_kpa_s']} vs {values['R']['ramp_kpa_s']} kPa/s")
        out.append(Asymmetry(name, sides["L"]["id"], sides["R"]["id"], values["L"]["kpa"], values["R"]["kpa"], note))
    return out


def norm_line(store: Store, point_id: int, session_id: int | None = None) -> str:
    """The point's PPT (in the session, else its newest) beside the published norms for its site."""
    from pointdose.records import norms

    p = _point(store, point_id)
    v = session_ppt_value(store, point_id, session_id) if session_id is not None else _latest_ppt(store, point_id)
    return norms.norm_line(p["location"], p["label"], v["kpa"] if v else None)


def reference_line(store: Store, point_id: int, session_id: int | None = None) -> str | None:
    """"Reference site: <name> (side): PPT x kPa; this point − reference ±d kPa", None without one."""
    ref = reference(store, point_id)
    if ref is None:
        return None
    mine = session_ppt_value(store, point_id, session_id) if session_id is not None else _latest_ppt(store, point_id)
    theirs = (session_ppt_value(store, ref["id"], session_id) if session_id is not None else None) \
        or _latest_ppt(store, ref["id"])
    text = f"{ref['label']} ({ref['side']})"
    if theirs is None:
        return text + ": no PPT there yet"
    text += f": PPT {theirs['kpa']:.0f} kPa ({theirs['date']})"
    if mine is not None:
        if _alike(mine, theirs):
            text += f"; this point − reference {signed(mine['kpa'] - theirs['kpa'])} kPa"
        else:
            text += "; not compared (other probe or ramp rate)"
    return text


# --------------------------------------------------------------------------- reliability across sessions

NEED_SESSIONS = "needs ≥ 2 sessions with PPT at this point"
NEED_TRIALS = "needs ≥ 2 sessions whose PPT at this point kept ≥ 2 single trials (same probe and ramp rate)"
NEED_POINTS = "needs ≥ 2 points with a PPT in both sessions (same probe and ramp rate)"


@dataclass(frozen=True)
class ReliabilityView:
    """What the app and the report show: the statistics, or why there are none."""

    title: str
    message: str  # the statistics in words, or what is missing
    stats: object | None = None  # reliability.Reliability
    ba: object | None = None  # reliability.BlandAltman
    ba_label: str = ""  # what was compared: "trial 2 − trial 1", "session 5 − session 3"
    rows: tuple = ()  # the table the statistics came from (labels, values)

    @property
    def ok(self) -> bool:
        return self.stats is not None


def trial_reliability(store: Store, point_id: int) -> ReliabilityView:
    """Reliability of a single PPT trial at a point, from its repeated trials across sessions:
    rows = sessions (each session's first PPT there with ≥ 2 trials, measured like the newest),
    columns = trial 1..k (k: the fewest trials any of them kept). ICC(2,1), SEM, MDC95 of one trial;
    Bland–Altman trial 2 against trial 1."""
    from pointdose.records import reliability as rel

    title = "Trial-to-trial reliability at this point"
    rows = _ppt_rows(store, point_id)
    if len({r["session_id"] for r in rows}) < 2:
        return ReliabilityView(title, NEED_SESSIONS)
    with_trials = [r for r in rows if len(r["trials"]) >= 2]
    if not with_trials:
        return ReliabilityView(title, NEED_TRIALS)
    ref = with_trials[-1]
    per_session: dict[int, dict] = {}
    for r in with_trials:
        if _alike(r, ref) and r["session_id"] not in per_session:
            per_session[r["session_id"]] = r
    table = list(per_session.values())
    if len(table) < 2:
        return ReliabilityView(title, NEED_TRIALS)
    k = min(len(r["trials"]) for r in table)
    matrix = [r["trials"][:k] for r in table]
    try:
        stats = rel.reliability(matrix)
        ba = rel.bland_altman([m[0] for m in matrix], [m[1] for m in matrix])
    except rel.TooFewData as exc:
        return ReliabilityView(title, str(exc))
    labels = tuple((r["session_started"][:10], tuple(r["trials"][:k])) for r in table)
    msg = (f"{stats.describe()} (sessions × trials; one trial). Trial 2 − trial 1: {ba.describe()}")
    return ReliabilityView(title, msg, stats, ba, "trial 2 − trial 1", labels)


def session_pair(store: Store, client_id: int) -> tuple[int, int] | None:
    """The two newest sessions of the client that share ≥ 2 points measured alike; None if none do."""
    sessions = [s["id"] for s in store.query("SELECT id FROM sessions WHERE client_id=? ORDER BY started_at, id",
                                             (client_id,))]
    measured = {sid: _session_points(store, client_id, sid) for sid in sessions}
    for j in range(len(sessions) - 1, 0, -1):
        for i in range(j - 1, -1, -1):
            a, b = measured[sessions[i]], measured[sessions[j]]
            if sum(1 for p in a if p in b and _alike(a[p], b[p])) >= 2:
                return sessions[i], sessions[j]
    return None


def _session_points(store: Store, client_id: int, session_id: int) -> dict[int, dict]:
    out = {}
    for (pid,) in [(r["point_id"],) for r in store.query(
            "SELECT DISTINCT p.point_id FROM ppt p JOIN points pt ON p.point_id=pt.id WHERE pt.client_id=? "
            "AND p.session_id=? ORDER BY p.point_id", (client_id, session_id))]:
        v = session_ppt_value(store, pid, session_id)
        if v is not None:
            out[pid] = v
    return out


def session_reliability(store: Store, client_id: int, session_a: int | None = None,
                        session_b: int | None = None) -> ReliabilityView:
    """Session-to-session reliability of a PPT for one client: rows = the points measured alike in
    both sessions, columns = the two sessions' PPTs (each the mean of its trials). ICC(2,1), SEM,
    MDC95 of one PPT; Bland–Altman session b against session a. Default sessions: the newest pair
    sharing ≥ 2 points."""
    from pointdose.records import reliability as rel

    title = "Session-to-session reliability (this client's points)"
    if session_a is None or session_b is None:
        pair = session_pair(store, client_id)
        if pair is None:
            return ReliabilityView(title, NEED_POINTS)
        session_a, session_b = pair
    a, b = _session_points(store, client_id, session_a), _session_points(store, client_id, session_b)
    common = [p for p in a if p in b and _alike(a[p], b[p])]
    if len(common) < 2:
        return ReliabilityView(title, NEED_POINTS)
    matrix = [[a[p]["kpa"], b[p]["kpa"]] for p in common]
    try:
        stats = rel.reliability(matrix)
        ba = rel.bland_altman([m[0] for m in matrix], [m[1] for m in matrix])
    except rel.TooFewData as exc:
        return ReliabilityView(title, str(exc))
    names = {r["id"]: f"{r['label']} ({r['side']})" for r in store.query(
        "SELECT id, label, side FROM points WHERE client_id=?", (client_id,))}
    labels = tuple((names[p], (a[p]["kpa"], b[p]["kpa"])) for p in common)
    da, db = a[common[0]]["date"], b[common[0]]["date"]
    label = f"session {session_b} ({db}) − session {session_a} ({da})"
    msg = (f"{stats.describe()} (points × 2 sessions; one PPT). Treatment between the sessions is in this "
           f"error too. {label}: {ba.describe()}")
    return ReliabilityView(title, msg, stats, ba, label, labels)


NEED_BLOCKS = "needs ≥ 2 training blocks at the same target, in ≥ 2 sessions, with ≥ 2 scored trials each"


def student_reliability(store: Store, client_id: int) -> ReliabilityView:
    """A student's consistency across training sessions: rows = their training blocks at one target
    (the target practised in the most blocks), columns = trial 1..k of each block (the trials' outcomes,
    k: the fewest any block scored). ICC(2,1), SEM and MDC95 of one trial's outcome; Bland–Altman trial 2
    against trial 1 (docs/training.md has the scores, docs/clinical.md the formulas)."""
    from pointdose.records import reliability as rel

    title = "Trial-to-trial reliability of the student's pressing"
    rows = store.query(
        "SELECT b.uid, b.quantity, b.target, s.uid AS session_uid, s.started_at, t.number, t.outcome "
        "FROM training_blocks b JOIN training_sessions s ON b.session_uid=s.uid "
        "JOIN training_trials t ON t.block_uid=b.uid WHERE s.client_id=? AND t.outcome IS NOT NULL "
        "ORDER BY s.started_at, b.position, t.number", (client_id,))
    groups: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        key = (r["quantity"], round(float(r["target"]), 6))
        block = groups.setdefault(key, {}).setdefault(r["uid"], {"session": r["session_uid"],
                                                                  "date": r["started_at"][:10], "outcomes": []})
        block["outcomes"].append(float(r["outcome"]))
    usable = {k: [b for b in v.values() if len(b["outcomes"]) >= 2] for k, v in groups.items()}
    usable = {k: v for k, v in usable.items() if len(v) >= 2 and len({b["session"] for b in v}) >= 2}
    if not usable:
        return ReliabilityView(title, NEED_BLOCKS)
    (quantity, target), blocks = max(usable.items(), key=lambda kv: len(kv[1]))
    unit = "kPa" if quantity == "pressure" else "N"
    k = min(len(b["outcomes"]) for b in blocks)
    matrix = [b["outcomes"][:k] for b in blocks]
    stats = rel.reliability(matrix)
    ba = rel.bland_altman([m[0] for m in matrix], [m[1] for m in matrix])
    msg = (f"target {target:g} {unit}: {stats.describe(unit)} (blocks × trials; one trial). "
           f"Trial 2 − trial 1: {ba.describe(unit)}")
    labels = tuple((b["date"], tuple(b["outcomes"][:k])) for b in blocks)
    return ReliabilityView(title, msg, stats, ba, "trial 2 − trial 1", labels)


# --------------------------------------------------------------------------- one view for the app

RELIABILITY_MODES = ("trials", "sessions", "student")


@dataclass
class PointRecordView:
    """Everything the app's Clinical tab shows for a client and point, read in one go (off the render
    thread: the tab asks pointdose.app.background.Latest for it)."""

    code: str
    client_id: int
    clients: list[str]
    points: list[dict]
    point: dict | None
    norm: str = ""
    finding: str = ""
    reference: dict | None = None
    reference_line: str = ""
    asymmetry: list[str] | None = None
    reliability: ReliabilityView | None = None


def point_record_view(store: Store, code: str | None, point_id: int | None = None,
                      mode: str = "trials") -> PointRecordView:
    """The client's points, and for ``point_id`` (default, or when it is not this client's: the point
    with the most PPTs) its norm line, newest finding, reference site, the client's asymmetry and the
    reliability chosen by ``mode``. ``code`` None: the client of the newest session, else the first."""
    if mode not in RELIABILITY_MODES:
        raise ValueError(f"unknown reliability view {mode!r}: one of {', '.join(RELIABILITY_MODES)}")
    if code is None:
        latest = store.query("SELECT c.code FROM sessions s JOIN clients c ON s.client_id=c.id "
                             "ORDER BY s.started_at DESC, s.id DESC LIMIT 1") or \
            store.query("SELECT code FROM clients ORDER BY code LIMIT 1")
        if not latest:
            raise StoreError("No clients yet: add one in the Points tab.")
        code = latest[0]["code"]
    client = store.client(code)
    cid = client["id"]
    points = store.points(cid)
    if point_id not in {p["id"] for p in points}:
        point_id = None
    if point_id is None and points:
        counts = store.query("SELECT point_id, COUNT(*) AS n FROM ppt WHERE point_id IN "
                             "(SELECT id FROM points WHERE client_id=?) GROUP BY point_id "
                             "ORDER BY n DESC, point_id LIMIT 1", (cid,))
        point_id = counts[0]["point_id"] if counts else points[0]["id"]
    point = next((p for p in points if p["id"] == point_id), None)
    view = PointRecordView(code=client["code"], client_id=cid, clients=[c["code"] for c in store.clients()],
                           points=points, point=point)
    view.asymmetry = [a.line() for a in asymmetry(store, cid)]
    if mode == "sessions":
        view.reliability = session_reliability(store, cid)
    elif mode == "student":
        view.reliability = student_reliability(store, cid)
    if point is None:
        return view
    view.norm = norm_line(store, point["id"])
    f = latest_finding(store, point["id"])
    view.finding = f"last: {f.short()} ({f.recorded_at[:10]})" if f else "no findings yet"
    view.reference = reference(store, point["id"])
    view.reference_line = reference_line(store, point["id"]) or ""
    if mode == "trials":
        view.reliability = trial_reliability(store, point["id"])
    return view
