"""A PDF report of one session (fpdf2): per point a table, a trace thumbnail, PPT before/after,
and the calibration used with its stated error.

Every number carries its unit; the dose is labelled descriptive; PPT changes carry their
measurement-error label (pointdose.pptchange, via records.history: the client's own MDC95). The body map shows which points were treated, coloured by
dose. Pressures are shown in kPa and, when asked, also in a second unit (``unit``). A closing
"Clinical record" section has the points' findings, PPT beside norms, reference sites, left/right
asymmetry and reliability with Bland–Altman plots (records.clinical, docs/clinical.md).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from pointdose import bodymap, metrics, pptchange, units
from pointdose.errors import UserError
from pointdose.files import private_dir, write_private
from pointdose.records import calib, clinical, history
from pointdose.records.guided import guided
from pointdose.records.store import Store

TRACE_RGB = (20, 90, 200)
BAND_RGB = (200, 235, 200)
THRESHOLD_RGB = (150, 150, 150)
GAP_RGB = (255, 205, 205)
POINT_RGB = (230, 120, 20)
FONT_NAMES = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf", "Arial.ttf")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"), "/Library/Fonts",
             "C:/Windows/Fonts")


def _find_font() -> str | None:
    for folder in FONT_DIRS:
        base = Path(folder)
        if not base.is_dir():
            continue
        for name in FONT_NAMES:
            for hit in base.rglob(name):
                return str(hit)
    return None


class _Pdf:
    """fpdf2 with a Unicode font when one is installed, else Helvetica with ASCII stand-ins."""

    def __init__(self):
        from fpdf import FPDF

        self.pdf = FPDF(format="A4", unit="mm")
        self.pdf.set_auto_page_break(True, margin=14)
        self.pdf.set_margins(14, 14, 14)
        font = _find_font()
        self.unicode = font is not None
        if font:
            self.pdf.add_font("body", "", font)
            bold = Path(font).with_name(Path(font).stem + "-Bold.ttf")
            self.pdf.add_font("body", "B", str(bold) if bold.is_file() else font)
            self.family = "body"
        else:
            self.family = "Helvetica"

    def t(self, text: str) -> str:
        if self.unicode:
            return text
        for a, b in (("→", "->"), ("–", "-"), ("—", "-"), ("−", "-"), ("∫", "integral of"), ("≥", ">="),
                     ("…", "..."), ("’", "'")):
            text = text.replace(a, b)
        return text.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False):
        self.pdf.set_font(self.family, "B" if bold else "", size)


def _trace_thumbnail(pdf, x, y, w, h, rows: np.ndarray, app: dict, m: dict) -> None:
    """Pressure against time in a w×h mm box, with the band and contact threshold, axes in kPa and s."""
    p = pdf.pdf
    p.set_draw_color(120, 120, 120)
    p.set_line_width(0.2)
    p.rect(x, y, w, h)
    if len(rows) < 2:
        pdf.font(7)
        p.set_xy(x, y + h / 2 - 2)
        p.cell(w, 4, pdf.t("no samples recorded"), align="C")
        return
    t = rows["t_s"] - rows["t_s"][0]
    kpa = rows["pressure_kpa"].astype(np.float64)
    t_max = max(float(t[-1]), 1e-6)
    top = max(float(kpa.max()), app.get("band_high_kpa") or 0.0, 1.0) * 1.1
    def sx(v):
        return x + w * (v / t_max)
    def sy(v):
        return y + h - h * (max(0.0, min(v, top)) / top)
    lo, hi = app.get("band_low_kpa"), app.get("band_high_kpa")
    if lo is not None and hi is not None:
        p.set_fill_color(*BAND_RGB)
        p.rect(x, sy(hi), w, sy(lo) - sy(hi), style="F")
    p.set_draw_color(*THRESHOLD_RGB)
    p.set_dash_pattern(dash=0.8, gap=0.8)
    p.line(x, sy(m["contact_kpa"]), x + w, sy(m["contact_kpa"]))
    p.set_dash_pattern()
    # one polyline per run of consecutive samples: a gap is shaded, never bridged
    spans = metrics.runs(rows["seq"], rows["segment"], len(rows), rows["t_s"])
    p.set_fill_color(*GAP_RGB)
    for (_, stop), (start, _) in zip(spans[:-1], spans[1:]):
        p.rect(sx(float(t[stop - 1])), y, max(0.3, sx(float(t[start])) - sx(float(t[stop - 1]))), h, style="F")
    cols = max(2, int(w / 0.4))  # min/max per ~0.4 mm column: small files, spikes survive
    p.set_draw_color(*TRACE_RGB)
    p.set_line_width(0.35)
    for a, b in spans:
        tt, kk = t[a:b], kpa[a:b]
        idx = np.minimum((tt / t_max * (cols - 1)).astype(int), cols - 1)
        pts = []
        for c in np.unique(idx):
            sel = np.flatnonzero(idx == c)
            lo_i, hi_i = sel[np.argmin(kk[sel])], sel[np.argmax(kk[sel])]
            for i in sorted({lo_i, hi_i}):
                pts.append((sx(float(tt[i])), sy(float(kk[i]))))
        if len(pts) >= 2:
            p.polyline(pts)
    p.set_line_width(0.2)
    pdf.font(6)
    p.set_text_color(90, 90, 90)
    p.set_xy(x - 12, y - 1)
    p.cell(11, 3, f"{top:.0f} kPa", align="R")
    p.set_xy(x - 12, y + h - 2)
    p.cell(11, 3, "0 kPa", align="R")
    p.set_xy(x, y + h + 0.3)
    p.cell(w / 2, 3, "0 s")
    p.set_xy(x + w / 2, y + h + 0.3)
    p.cell(w / 2, 3, f"{t_max:.0f} s", align="R")
    p.set_text_color(0, 0, 0)


def _body_map(pdf, x, y, height, treated: dict[tuple[str, str, str], float]) -> None:
    """Both views, outline plus the points treated in the session (bigger and darker with dose)."""
    p = pdf.pdf
    w = height / bodymap.ASPECT
    top = max(treated.values()) if treated else 1.0
    for k, view in enumerate(("front", "back")):
        ox = x + k * (w + 4)
        p.set_draw_color(110, 110, 110)
        p.set_line_width(0.25)
        p.polygon([(ox + bx * w, y + by * height) for bx, by in bodymap.BODY], style="D")
        hx, hy, hr = bodymap.HEAD
        p.ellipse(ox + (hx - hr / 2) * w, y + hy * height - hr / 2 * w, hr * w, hr * w, style="D")
        pdf.font(7)
        p.set_xy(ox, y + height + 0.5)
        p.cell(w, 3, pdf.t(f"{view}: patient's left {'→' if view == 'front' else '←'}"), align="C")
        for (loc_id, side, vw), dose in treated.items():
            if vw != view:
                continue
            px, py = _point_xy(loc_id, side, vw)
            if px is None:
                continue
            r = 0.7 + 1.0 * (dose / top if top > 0 else 0)
            p.set_fill_color(*POINT_RGB)
            p.ellipse(ox + px * w - r, y + py * height - r, 2 * r, 2 * r, style="F")


def _on_map(location: str):
    """The body-map location drawn for ``location``; None for custom, unplaced or unknown ids."""
    try:
        return bodymap.location(location)
    except ValueError:
        return None


def _point_xy(location: str, side: str, view: str):
    loc = _on_map(location)
    if loc is None:
        return None, None
    if side not in bodymap.SIDES:
        return loc.x, loc.y
    return loc.xy(side)


def report_name(code: str, session: dict) -> str:
    """The report's file name (``pointdose report`` and the app's Report button): a plain name from the
    records (a code may predate the code rules)."""
    from pointdose.files import safe_name

    return safe_name(f"pointdose-{code}-session{session['id']}-{str(session['started_at'])[:10]}", max_len=80) + ".pdf"


def session_report(store: Store, session_id: int, out: str | Path, *, include_name: bool = False,
                   unit: str = "kPa", progress: bool = False, on_progress=None) -> Path:
    """Write the PDF for ``session_id`` to ``out``; returns the path.

    ``on_progress(done, total)``, if given, is called after each application's page block (the app's
    Report button shows it)."""
    from tqdm import tqdm

    session = store.session(session_id)
    client = store.client(int(session["client_id"]))
    apps = store.applications(session_id=session_id)
    second = units.unit(unit)
    pdf = _Pdf()
    p = pdf.pdf
    p.set_title(f"pointdose session {session_id} - {client['code']}")
    p.set_creator("pointdose")
    p.add_page()
    pdf.font(16, bold=True)
    p.cell(0, 8, pdf.t("pointdose — session report"), new_x="LMARGIN", new_y="NEXT")
    pdf.font(9)
    who = client["code"] + (f" ({client['name']})" if include_name and client.get("name") else "")
    lines = [f"Client: {who}   role: {client['role']}",
             f"Session {session_id}: started {session['started_at']}" + (f", ended {session['ended_at']}" if session["ended_at"] else ""),
             f"Points treated: {len({a['point_id'] for a in apps})}   applications: {len(apps)}   "
             f"report made {datetime.now(timezone.utc).isoformat(timespec='seconds')}"]
    for line in lines:
        p.cell(0, 4.6, pdf.t(line), new_x="LMARGIN", new_y="NEXT")
    # calibrations used, with their stated error
    p.ln(1.5)
    pdf.font(10, bold=True)
    p.cell(0, 5, "Calibration used", new_x="LMARGIN", new_y="NEXT")
    pdf.font(8.5)
    cal_ids = sorted({a["calibration_id"] for a in apps}, key=lambda v: v or "")
    if not cal_ids:
        p.cell(0, 4.4, pdf.t("no applications in this session"), new_x="LMARGIN", new_y="NEXT")
    for cal_id in cal_ids:
        cal = store.calibration(cal_id)
        p.multi_cell(0, 4.2, pdf.t(f"{calib.describe(cal)}. Stated error: {calib.stated_error(cal)}."),
                     new_x="LMARGIN", new_y="NEXT")
    # body map with the session's doses
    treated: dict[tuple[str, str, str], float] = {}
    for a in apps:
        loc = _on_map(a["location"])
        if loc is None:  # custom / unplaced (free-text) points are listed below, not drawn
            continue
        key = (a["location"], a["side"], loc.view)
        treated[key] = treated.get(key, 0.0) + (a["metrics"] or {}).get("dose_kpa_s", 0.0)
    map_y = p.get_y() + 2
    _body_map(pdf, 14, map_y, 62, treated)
    pdf.font(8)
    p.set_xy(84, map_y)
    p.multi_cell(112, 4, pdf.t(
        "Orange dots: points treated this session; larger = more dose.\n"
        "Dose (descriptive) = ∫ pressure dt over contact time, kPa·s: how much pressure-time was given, "
        "not a measure of effect (docs/metrics.md). Contact begins at the threshold shown (dashed) and ends "
        f"below {metrics.CONTACT_RELEASE_RATIO:.0%} of it; "
        "green band = target band.\n"
        "PPT changes are judged against the MDC95 (1.96·√2·SEM) from this client's own repeated trials at the "
        "point; 'no error estimate' until there are enough."), new_x="LMARGIN", new_y="NEXT")
    p.set_y(map_y + 62 + 6)

    bar = tqdm(total=len(apps), desc="report", unit="point", disable=not progress, leave=False)
    try:
        for i, a in enumerate(apps):
            _application_block(pdf, store, a, second)
            bar.update(1)
            if on_progress is not None:
                on_progress(i + 1, len(apps))
    finally:
        bar.close()
    _clinical_section(pdf, store, client, session_id, apps)
    out = Path(out).expanduser()
    data = bytes(p.output())
    try:
        private_dir(out.parent)
        write_private(out, data)  # 0600 like every file pointdose writes
    except OSError as exc:
        raise UserError(f"cannot write the report {out} ({exc.strerror or exc}): choose another place with --out") from None
    return out


def _started_under(store: Store, a: dict) -> list[tuple[str, str]]:
    """Table rows: the cautions acknowledged, a confirmation above the PPT ceiling, the client's own
    PPT its %PPT targets used (docs/protocols.md, "Cautions and contraindications")."""
    out = []
    rows = store.application_cautions(a["id"])
    acks = [r["key"].replace("_", " ") for r in rows if r["action"] == "acknowledge" and r["acknowledged"]]
    if acks:
        out.append(("Cautions acknowledged", ", ".join(acks)))
    if any(r["action"] == "confirm" and r["acknowledged"] for r in rows):
        out.append(("Above the PPT ceiling", "confirmed before the start"))
    if a.get("ppt_id") is not None:
        ppt = store.query("SELECT kpa, measured_at, source FROM ppt WHERE id=?", (a["ppt_id"],))
        if ppt:
            how = "imported" if ppt[0]["source"] == "points-file" else "measured"
            out.append(("%PPT targets from", f"PPT {ppt[0]['kpa']:.0f} kPa, {how} {ppt[0]['measured_at'][:10]}, "
                                             "this client"))
    return out


def _application_block(pdf, store: Store, a: dict, second) -> None:
    p = pdf.pdf
    block_h = 50
    if p.get_y() + block_h > p.h - p.b_margin:
        p.add_page()
    m = a["metrics"] or store.metrics(a["id"])
    rows = store.samples(a["id"])
    y0 = p.get_y()
    pdf.font(10, bold=True)
    loc = _on_map(a["location"])
    title = f"{a['point_label']} ({a['side']})"
    p.cell(0, 5, pdf.t(title), new_x="LMARGIN", new_y="NEXT")
    pdf.font(7.5)
    sub = f"{a['protocol'] or 'free application'} · started {a['started_at']} · {a['end_reason'] or 'interrupted (app closed)'}"
    if loc and loc.cautions:
        sub += f" · caution: {', '.join(c.replace('_', ' ') for c in loc.cautions)}"
    p.cell(0, 3.8, pdf.t(sub), new_x="LMARGIN", new_y="NEXT")
    _trace_thumbnail(pdf, 26, y0 + 11, 62, 30, rows, a, m)

    def kp(v):
        if v is None:
            return "—"
        text = f"{v:.0f} kPa"
        if second.key != "kPa" and second.kind == "pressure":
            text += f" ({units.format_value(v * second.per_internal, second.key)} {second.symbol if pdf.unicode else second.key})"
        return text

    ppts = store.session_ppt(a["point_id"], a["session_id"])
    ppt_b = {"v": _mean([r["kpa"] for r in ppts["before"]]),
             "r": max((r["ramp_kpa_s"] for r in ppts["before"] if r["ramp_kpa_s"] is not None), default=None)}
    ppt_a = _mean([r["kpa"] for r in ppts["after"]])
    change = ""
    if ppt_b["v"] is not None and ppt_a is not None:
        conds = {history.Conditions(r["probe_area_cm2"], r["ramp_kpa_s"], None) for r in ppts["before"]}
        rel = history.point_reliability(store, a["point_id"], conds.pop()) if len(conds) == 1 else None
        change = pptchange.label_change(ppt_b["v"], ppt_a, rel).short()
    g = guided(store, a)
    band = g.band_text()
    if g.time_in_band_s is not None:  # the engine's count, each phase against its own band
        contact = m["contact_s"] or 0.0
        in_band = f"{g.time_in_band_s:.1f} s" + (f", {100 * g.time_in_band_s / contact:.0f} % of contact" if contact > 0 else "")
    elif band and m["in_band_s"] is not None:
        in_band = f"{m['in_band_s']:.1f} s, {m['in_band_pct']:.0f} % of contact"
    else:
        in_band = "no band set"
    cvs = [f"{c * 100:.1f} %" for c in m["hold_cv"] if c is not None]
    table = [
        ("Duration", f"{m['duration_s']:.1f} s"),
        ("Contact time", f"{m['contact_s']:.1f} s (from ≥ {m['contact_kpa']:.0f} kPa until "
                         f"< {m.get('contact_release_kpa') or metrics.release_level(m['contact_kpa']):.0f} kPa)"),
        ("Dose (descriptive)", f"{m['dose_kpa_s']:.0f} kPa·s" + (f" = {m['dose_n_s']:.0f} N·s" if m.get("dose_n_s") else "")),
        ("Mean over contact", kp(m["mean_contact_kpa"])),
        ("Peak", kp(m["peak_kpa"])),
        ("Target band", band or ("none: a PPT ramp" if a["protocol"] == "ppt" else "none set")),
        ("Time in band", in_band),
        ("Time above PPT", f"{m['above_ppt_s']:.1f} s" if m.get("above_ppt_s") is not None else "no PPT before"),
        ("Hold stability (CV)", ", ".join(cvs) if cvs else "—"),
        ("Cycles, cues", (str(m["cycles_completed"]) if m.get("cycles_completed") is not None else "—")
         + f" cycle(s); {g.cues} cue(s) given, {g.signals} signal(s)"),
        ("PPT before → after", f"{kp(ppt_b['v'])} → {kp(ppt_a)}"
         if ppt_b["v"] is not None or ppt_a is not None else "not measured"),
        ("PPT change", (change or "—") + (f" (ramp {ppt_b['r']:g} kPa/s)" if ppt_b["r"] else "")),
        ("Pain (0–10)", g.pain_text()),
        ("Probe, calibration", f"{a['probe_area_cm2']:g} cm²" + (f" ({a['probe']})" if a["probe"] and "cm" not in a["probe"] else "")
         + f", calibration {a['calibration_id'] or 'none'}"),
    ]
    if m["gaps"]:
        table.append(("Stream gaps", f"{len(m['gaps'])} ({m['gap_s']:.2f} s), not integrated"))
    table += _started_under(store, a)
    pdf.font(7)
    y = y0 + 9
    for label, value in table:
        p.set_xy(94, y)
        p.cell(30, 3.2, pdf.t(label))
        p.set_xy(124, y)
        p.cell(72, 3.2, pdf.t(value))
        y += 3.2
    p.set_y(max(y, y0 + 46) + 2)
    p.set_draw_color(200, 200, 200)
    p.line(14, p.get_y() - 1, 196, p.get_y() - 1)


def _heading(pdf, text: str, size: float = 10) -> None:
    p = pdf.pdf
    if p.get_y() + 14 > p.h - p.b_margin:
        p.add_page()
    pdf.font(size, bold=True)
    p.cell(0, 5.5, pdf.t(text), new_x="LMARGIN", new_y="NEXT")
    pdf.font(8)


def _para(pdf, text: str, h: float = 4.0) -> None:
    pdf.pdf.multi_cell(0, h, pdf.t(text), new_x="LMARGIN", new_y="NEXT")


def _clinical_section(pdf, store: Store, client: dict, session_id: int, apps: list[dict]) -> None:
    """The clinical record of the session's points: findings, PPT beside the norms, reference sites,
    left/right asymmetry, and reliability across sessions with Bland–Altman plots (docs/clinical.md)."""
    p = pdf.pdf
    p.ln(2)
    _heading(pdf, "Clinical record", 12)
    points: dict[int, dict] = {}  # each treated point once, in order
    for a in apps:
        points.setdefault(a["point_id"], a)
    for a in points.values():
        pdf.font(8.5, bold=True)
        p.cell(0, 4.6, pdf.t(f"{a['point_label']} ({a['side']})"), new_x="LMARGIN", new_y="NEXT")
        pdf.font(8)
        finding = clinical.latest_finding(store, a["point_id"], session_id)
        _para(pdf, "Trigger-point findings: " + (finding.short() if finding else "not recorded this session")
              + (f" · note: {finding.note}" if finding and finding.note else ""))
        _para(pdf, clinical.norm_line(store, a["point_id"], session_id))
        ref = clinical.reference_line(store, a["point_id"], session_id)
        if ref:
            _para(pdf, f"Reference site: {ref}")
    p.ln(1)
    _heading(pdf, "Left/right asymmetry (PPT this session)")
    rows = clinical.asymmetry(store, client["id"], session_id)
    if not rows:
        _para(pdf, "no bilateral site with a PPT on both sides in this session")
    for r in rows:
        _para(pdf, r.line())
    p.ln(1)
    _heading(pdf, "Reliability across sessions")
    _para(pdf, "ICC(2,1) (two-way random, absolute agreement, single measurement; Shrout & Fleiss 1979), "
               "SEM = SD·√(1 − ICC), MDC95 = 1.96·√2·SEM (Weir 2005); Bland–Altman bias and limits of agreement "
               "(bias ± 1.96 SD; Bland & Altman 1986). docs/clinical.md.")
    views = [(f"{a['point_label']} ({a['side']})", clinical.trial_reliability(store, pid))
             for pid, a in points.items()]
    views.append((client["code"], clinical.session_reliability(store, client["id"])))
    for name, v in views:
        pdf.font(8, bold=True)
        p.cell(0, 4.4, pdf.t(f"{v.title}: {name}"), new_x="LMARGIN", new_y="NEXT")
        pdf.font(8)
        _para(pdf, v.message)
        if v.ba is not None:
            if p.get_y() + 52 > p.h - p.b_margin:
                p.add_page()
            y = p.get_y() + 2
            bland_altman_plot(pdf, 30, y, 110, 42, v.ba, v.ba_label)
            p.set_y(y + 50)


BA_POINT_RGB = (20, 90, 200)
BA_BIAS_RGB = (200, 60, 40)
BA_LOA_RGB = (120, 120, 120)


def bland_altman_plot(pdf, x: float, y: float, w: float, h: float, ba, label: str) -> None:
    """Differences against means in a w×h mm box: a dot per pair, the bias (solid) and the limits of
    agreement (dashed), with their values; axes in kPa."""
    p = pdf.pdf
    xs, ds = list(ba.means), list(ba.diffs)
    x_lo, x_hi = min(xs), max(xs)
    pad = max(5.0, 0.08 * (x_hi - x_lo))
    x_lo, x_hi = x_lo - pad, x_hi + pad
    d_lo = min(min(ds), ba.loa_low, 0.0)
    d_hi = max(max(ds), ba.loa_high, 0.0)
    dpad = max(2.0, 0.12 * (d_hi - d_lo))
    d_lo, d_hi = d_lo - dpad, d_hi + dpad

    def sx(v):
        return x + w * (v - x_lo) / (x_hi - x_lo)

    def sy(v):
        return y + h - h * (v - d_lo) / (d_hi - d_lo)
    p.set_draw_color(120, 120, 120)
    p.set_line_width(0.2)
    p.rect(x, y, w, h)
    p.set_draw_color(200, 200, 200)
    p.line(x, sy(0.0), x + w, sy(0.0))
    pdf.font(6.5)
    lines = ((ba.loa_high, BA_LOA_RGB, True, "+1.96 SD"), (ba.bias, BA_BIAS_RGB, False, "bias"),
             (ba.loa_low, BA_LOA_RGB, True, "−1.96 SD"))
    label_y = []
    for value, *_ in lines:  # top to bottom, at least 3 mm apart so equal limits never print on each other
        yy = sy(value) - 1.5
        label_y.append(max(yy, label_y[-1] + 3.0) if label_y else yy)
    for (value, rgb, dashed, name), ly in zip(lines, label_y):
        p.set_draw_color(*rgb)
        p.set_line_width(0.35)
        if dashed:
            p.set_dash_pattern(dash=1.0, gap=0.8)
        p.line(x, sy(value), x + w, sy(value))
        p.set_dash_pattern()
        p.set_text_color(*rgb)
        p.set_xy(x + w + 1, ly)
        p.cell(30, 3, pdf.t(f"{name} {value:.0f} kPa"))
    p.set_text_color(0, 0, 0)
    p.set_fill_color(*BA_POINT_RGB)
    for m, d in zip(xs, ds):
        p.ellipse(sx(m) - 0.8, sy(d) - 0.8, 1.6, 1.6, style="F")
    p.set_line_width(0.2)
    p.set_text_color(90, 90, 90)
    p.set_xy(x - 16, y - 1)
    p.cell(15, 3, f"{d_hi:.0f}", align="R")
    p.set_xy(x - 16, y + h - 2)
    p.cell(15, 3, f"{d_lo:.0f}", align="R")
    p.set_xy(x, y + h + 0.3)
    p.cell(w / 2, 3, f"{x_lo:.0f}")
    p.set_xy(x + w / 2, y + h + 0.3)
    p.cell(w / 2, 3, f"{x_hi:.0f}", align="R")
    p.set_xy(x, y + h + 3)
    p.cell(w, 3, pdf.t(f"mean of the pair (kPa) · difference: {label} (kPa)"), align="C")
    p.set_text_color(0, 0, 0)


def _mean(values):
    return sum(values) / len(values) if values else None
