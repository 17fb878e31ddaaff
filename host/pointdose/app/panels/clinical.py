"""The Clinical tab: one point's clinical record, view code over :mod:`pointdose.records.clinical`.

It follows the client and point picked on the Points tab (or chosen here): the PPT beside the
published norms for its site, trigger-point findings (saved into the visit), the reference site,
renaming and placing a free-text point (:mod:`pointdose.app.pointedit`), the client's left/right
asymmetry, and reliability across sessions (ICC(2,1), SEM, MDC95) with a Bland–Altman plot.
Everything is computed in ``records`` (:func:`pointdose.records.clinical.point_record_view`) on a
worker (:class:`pointdose.app.background.Latest`), asked for on a change or every few seconds, and
drawn when it arrives: a slow database never stalls the window. Saving a finding, a reference or a
name is one small write on the user's click.
"""

from __future__ import annotations

from dataclasses import dataclass

import dearpygui.dearpygui as dpg

from pointdose import bodymap
from pointdose.app import view
from pointdose.app.background import Latest
from pointdose.app.panels.base import Panel, PanelContext
from pointdose.app.panels.records import _client_labels, _StoreUser, _t, series_theme
from pointdose.records import clinical, selection
from pointdose.records.store import StoreError

REFRESH_S = 3.0
YES_NO = ("not examined", "yes", "no")
NO_REGION = "(no region)"
NO_REFERENCE = "(none)"
MODES = ("trials at this point", "between two sessions (all points)", "training trials (a student)")
MODE_KEYS = dict(zip(MODES, clinical.RELIABILITY_MODES))
BA_POINTS = (70, 200, 255)
BA_BIAS = (255, 110, 100)
BA_LOA = (150, 150, 150)


@dataclass(frozen=True)
class ClinTags:
    client: str = "pd.clin.client"
    point: str = "pd.clin.point"
    message: str = "pd.clin.message"
    norm: str = "pd.clin.norm"
    rename: str = "pd.clin.rename"
    rename_btn: str = "pd.clin.rename_btn"
    move_btn: str = "pd.clin.move_btn"
    kind: str = "pd.clin.kind"
    taut: str = "pd.clin.taut"
    twitch: str = "pd.clin.twitch"
    referred: str = "pd.clin.referred"
    region: str = "pd.clin.region"
    note: str = "pd.clin.note"
    save_finding: str = "pd.clin.save_finding"
    last_finding: str = "pd.clin.last_finding"
    reference: str = "pd.clin.reference"
    reference_line: str = "pd.clin.reference_line"
    asym: str = "pd.clin.asym"
    mode: str = "pd.clin.mode"
    rel_text: str = "pd.clin.rel_text"
    ba_x: str = "pd.clin.ba.x"
    ba_y: str = "pd.clin.ba.y"
    ba_points: str = "pd.clin.ba.points"
    ba_bias: str = "pd.clin.ba.bias"
    ba_hi: str = "pd.clin.ba.hi"
    ba_lo: str = "pd.clin.ba.lo"
    theme_points: str = "pd.clin.theme.points"
    theme_bias: str = "pd.clin.theme.bias"
    theme_loa: str = "pd.clin.theme.loa"


CT = ClinTags()


def region_choices() -> list[str]:
    """What a referred-pain region can be: a body part, or a body-map location and side."""
    out = [NO_REGION] + list(bodymap.PARTS)
    for loc in bodymap.LOCATIONS:
        out += [f"{loc.id}:L", f"{loc.id}:R"]
    return out


class ClinicalPanel(_StoreUser, Panel):
    title = "Clinical"
    open_on_start = False

    def __init__(self) -> None:
        self.tab = None
        self._first = True
        self._next_refresh = 0.0
        self.client_id: int | None = None
        self.point_id: int | None = None
        self._points: list[dict] = []
        self._followed: tuple | None = None  # the Points tab's (client, point) last followed
        self._editor_message = ""
        self._data = Latest("clinical")  # the point's record, read off the render thread
        self.shown: clinical.PointRecordView | None = None  # the last view drawn

    # ------------------------------------------------------------------ build

    def build(self, ctx: PanelContext) -> None:
        self.tab = view.current_tab()
        self._themes()
        with dpg.group(horizontal=True):
            dpg.add_text("Client")
            dpg.add_combo([], tag=CT.client, width=150, callback=self._on_client)
            dpg.add_text("Point")
            dpg.add_combo([], tag=CT.point, width=-1, callback=self._on_point)
        dpg.add_text("", tag=CT.message, color=view.AMBER, wrap=900)
        col = 400 if not view.is_narrow() else 320  # the form scrolls in its column; the plot keeps the rest
        wrap = col - 14
        with dpg.group(horizontal=True):
            with dpg.child_window(width=col, height=-1, border=False):
                dpg.add_text(_t("PPT beside published norms"), color=view.GREY)
                dpg.add_text("", tag=CT.norm, color=view.CYAN, wrap=wrap)
                dpg.add_spacer(height=4)
                dpg.add_text(_t("Trigger-point findings (this visit)"), color=view.GREY)
                dpg.add_radio_button(["active", "latent", "none"], tag=CT.kind, horizontal=True, default_value="active")
                with dpg.group(horizontal=True):
                    dpg.add_text("taut band   ")
                    dpg.add_combo(YES_NO, tag=CT.taut, default_value=YES_NO[0], width=-1)
                with dpg.group(horizontal=True):
                    dpg.add_text("local twitch")
                    dpg.add_combo(YES_NO, tag=CT.twitch, default_value=YES_NO[0], width=-1)
                dpg.add_input_text(tag=CT.referred, hint="referred pain pattern, in words", width=-1)
                dpg.add_combo(region_choices(), tag=CT.region, default_value=NO_REGION, width=-1)
                dpg.add_input_text(tag=CT.note, hint="note (optional)", width=-1)
                dpg.add_button(label="Save finding", tag=CT.save_finding, callback=self._on_save_finding)
                dpg.add_text("", tag=CT.last_finding, color=view.WHITE, wrap=wrap)
                dpg.add_spacer(height=4)
                dpg.add_text(_t("Reference site (comparison point)"), color=view.GREY)
                dpg.add_combo([NO_REFERENCE], tag=CT.reference, default_value=NO_REFERENCE, width=-1,
                              callback=self._on_reference)
                dpg.add_text("", tag=CT.reference_line, color=view.WHITE, wrap=wrap)
                dpg.add_spacer(height=4)
                dpg.add_text(_t("A point named by hand"), color=view.GREY)
                with dpg.group(horizontal=True):
                    dpg.add_input_text(tag=CT.rename, hint="new name, e.g. upper trap lateral L", width=col - 100,
                                       on_enter=True, callback=self._on_rename)
                    dpg.add_button(label="Rename", tag=CT.rename_btn, callback=self._on_rename)
                dpg.add_button(label="Place / move on the body map", tag=CT.move_btn, callback=self._on_move)
            with dpg.group():
                dpg.add_text(_t("L/R asymmetry (newest PPT per side)"), color=view.GREY)
                dpg.add_text("", tag=CT.asym, color=view.WHITE, wrap=0)
                dpg.add_spacer(height=4)
                dpg.add_text(_t("Reliability across sessions"), color=view.GREY)
                dpg.add_radio_button(MODES, tag=CT.mode, horizontal=False, default_value=MODES[0],
                                     callback=lambda *a: self.show_reliability())
                dpg.add_text("", tag=CT.rel_text, color=view.WHITE, wrap=0)
                with dpg.plot(height=-1, width=-1, no_menus=True, no_box_select=True, no_mouse_pos=True):
                    dpg.add_plot_legend(location=dpg.mvPlot_Location_North, horizontal=True, outside=True)
                    dpg.add_plot_axis(dpg.mvXAxis, label="mean of the pair (kPa)", tag=CT.ba_x)
                    with dpg.plot_axis(dpg.mvYAxis, label="difference (kPa)", tag=CT.ba_y):
                        dpg.add_scatter_series([], [], label="pairs", tag=CT.ba_points)
                        dpg.add_line_series([], [], label="bias", tag=CT.ba_bias)
                        dpg.add_line_series([], [], label=_t("bias ± 1.96 SD"), tag=CT.ba_hi)
                        dpg.add_line_series([], [], tag=CT.ba_lo)
        for tag, theme in ((CT.ba_points, CT.theme_points), (CT.ba_bias, CT.theme_bias), (CT.ba_hi, CT.theme_loa),
                           (CT.ba_lo, CT.theme_loa)):
            dpg.bind_item_theme(tag, theme)

    def _themes(self) -> None:
        for tag, colour, kind in ((CT.theme_points, BA_POINTS, "scatter"), (CT.theme_bias, BA_BIAS, "line"),
                                  (CT.theme_loa, BA_LOA, "line")):
            series_theme(tag, colour, (kind,))

    # ------------------------------------------------------------------ per frame

    def update(self, ctx: PanelContext) -> None:
        if self._first:
            self._first = False
            if self.open_on_start and self.tab is not None:
                dpg.set_value(view.TAGS.tabs, self.tab)
        from pointdose.app.pointedit import EDITOR

        if EDITOR.message != self._editor_message:  # a move asked here may be done on the Points tab
            self._editor_message = EDITOR.message
            dpg.set_value(CT.message, _t(EDITOR.message))
        got = self._data.take()
        if got is not None:
            if got.error:
                dpg.set_value(CT.message, _t(got.error))
            else:
                self._render(got.value)
        sel = selection.current()
        followed = (sel.client_code, sel.point_id)
        if self.store is not None and sel.client_code and followed != self._followed:  # opened at the refresh
            self._followed = followed
            self.select(sel.client_code, sel.point_id)
        elif ctx.now_s >= self._next_refresh:
            self._next_refresh = ctx.now_s + REFRESH_S
            self._refresh()

    def _refresh(self) -> None:
        if self.open_store() is None:
            dpg.set_value(CT.message, _t(self.store_error or ""))
            return
        if not self._data.busy():  # new recordings, findings, clients: asked again every few seconds
            self.select(dpg.get_value(CT.client) or None, self.point_id)

    # ------------------------------------------------------------------ data

    def select(self, code: str | None, point_id: int | None = None) -> None:
        """Ask for the client's record (and this point's; None: the client's most measured); drawn when
        it arrives. ``code`` None: the newest session's client."""
        store, mode = self.store, MODE_KEYS.get(dpg.get_value(CT.mode), "trials")
        if code:
            dpg.set_value(CT.client, code)
        self._data.request(lambda: clinical.point_record_view(store, code, point_id, mode))

    def show_point(self, point_id: int) -> None:
        self.point_id = point_id
        self.select(dpg.get_value(CT.client), point_id)

    def show_reliability(self) -> None:
        if self.store is not None:
            self.select(dpg.get_value(CT.client) or None, self.point_id)

    def _render(self, v: clinical.PointRecordView) -> None:
        self.shown = v
        self.client_id = v.client_id
        self._points = v.points
        dpg.configure_item(CT.client, items=v.clients)
        dpg.set_value(CT.client, v.code)
        labels = [self._label(p) for p in v.points]
        dpg.configure_item(CT.point, items=labels)
        dpg.configure_item(CT.reference, items=[NO_REFERENCE] + labels)
        dpg.set_value(CT.asym, _t("\n".join(v.asymmetry) if v.asymmetry else
                                  "no bilateral site with a PPT on both sides yet"))
        p = v.point
        self.point_id = p["id"] if p else None
        if p is None:
            dpg.set_value(CT.point, "")
            dpg.set_value(CT.message, f"{v.code} has no points yet: pick one on the Points tab.")
            for tag in (CT.norm, CT.last_finding, CT.reference_line):
                dpg.set_value(tag, "")
        else:
            dpg.set_value(CT.point, self._label(p))
            dpg.set_value(CT.norm, _t(v.norm))
            dpg.set_value(CT.last_finding, _t(v.finding))
            dpg.set_value(CT.reference, self._label(v.reference) if v.reference else NO_REFERENCE)
            dpg.set_value(CT.reference_line, _t(v.reference_line))
            free = p["location"] in clinical.FREE_TEXT
            for tag in (CT.rename, CT.rename_btn, CT.move_btn):
                dpg.configure_item(tag, enabled=free)
            dpg.configure_item(CT.move_btn, label="Move on the body map" if p["location"] == "custom"
                               else "Place on the body map")
        r = v.reliability
        if r is None:
            dpg.set_value(CT.rel_text, "")
            self.plot(None)
        else:
            dpg.set_value(CT.rel_text, _t(r.message if r.ok else f"{r.title}: {r.message}"))
            self.plot(r.ba)

    @staticmethod
    def _label(p: dict) -> str:
        where = {"unplaced": ", not on the map", "custom": ", placed by hand"}.get(p["location"], "")
        return f"{p['label']} ({p['side']}{where}) #{p['id']}"

    def plot(self, ba) -> None:
        """The Bland–Altman plot: a dot per pair, the bias and its limits as lines across the data."""
        if ba is None:
            for tag in (CT.ba_points, CT.ba_bias, CT.ba_hi, CT.ba_lo):
                dpg.set_value(tag, [[], []])
            return
        xs, ds = [float(v) for v in ba.means], [float(v) for v in ba.diffs]
        pad = max(5.0, 0.08 * (max(xs) - min(xs)))
        x0, x1 = min(xs) - pad, max(xs) + pad
        dpg.set_value(CT.ba_points, [xs, ds])
        for tag, value in ((CT.ba_bias, ba.bias), (CT.ba_hi, ba.loa_high), (CT.ba_lo, ba.loa_low)):
            dpg.set_value(tag, [[x0, x1], [float(value), float(value)]])
        lo, hi = min(ds + [ba.loa_low, 0.0]), max(ds + [ba.loa_high, 0.0])
        dpad = max(2.0, 0.15 * (hi - lo))
        dpg.set_axis_limits(CT.ba_x, x0, x1)
        dpg.set_axis_limits(CT.ba_y, lo - dpad, hi + dpad)

    def close(self) -> None:
        self._data.close()  # the worker's read ends before its store closes
        super().close()

    # ------------------------------------------------------------------ callbacks

    def _guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except (StoreError, ValueError) as exc:
            dpg.set_value(CT.message, _t(str(exc)))

    def _on_client(self, sender=None, app_data=None, user_data=None) -> None:
        if self.store and app_data:
            self._guarded(self.select, str(app_data))

    def _on_point(self, sender=None, app_data=None, user_data=None) -> None:
        for p in self._points:
            if self._label(p) == app_data:
                self._guarded(self.show_point, p["id"])

    def save_finding(self) -> int:
        """Save the form as a finding at the point in the visit picked on the Points tab."""
        if self.point_id is None:
            raise StoreError("choose a point first")
        sel = selection.current()
        session_id = sel.session_id if sel.client_id == self.client_id else None
        if session_id is None:  # the visit a recording would join now (the terminal's rule), started if none is open
            from pointdose.records.recording import visit_session

            visit = sel.visit if sel.client_id == self.client_id else None
            session_id, _ = visit_session(self.store, self.client_id, visit)
        region = dpg.get_value(CT.region)
        fid = clinical.add_finding(
            self.store, self.point_id, session_id, dpg.get_value(CT.kind),
            taut_band=dpg.get_value(CT.taut), local_twitch=dpg.get_value(CT.twitch),
            referred_text=dpg.get_value(CT.referred), referred_region=None if region == NO_REGION else region,
            note=dpg.get_value(CT.note))
        dpg.set_value(CT.message, "")
        self.show_point(self.point_id)
        return fid

    def _on_save_finding(self, sender=None, app_data=None, user_data=None) -> None:
        self._guarded(self.save_finding)

    def _on_reference(self, sender=None, app_data=None, user_data=None) -> None:
        if self.point_id is None:
            return
        ref = next((p["id"] for p in self._points if self._label(p) == app_data), None)

        def save():
            clinical.set_reference(self.store, self.point_id, ref)
            dpg.set_value(CT.message, "")
            self.show_point(self.point_id)
        self._guarded(save)

    def _on_rename(self, sender=None, app_data=None, user_data=None) -> None:
        from pointdose.app.pointedit import EDITOR

        def rename():
            EDITOR.rename(self.store, self.point_id, dpg.get_value(CT.rename))
            dpg.set_value(CT.rename, "")
            dpg.set_value(CT.message, _t(EDITOR.message))
            self.select(dpg.get_value(CT.client), self.point_id)
        if self.point_id is not None:
            self._guarded(rename)

    def _on_move(self, sender=None, app_data=None, user_data=None) -> None:
        from pointdose.app.pointedit import EDITOR

        def move():
            EDITOR.request_move(self.store, self.point_id)
            dpg.set_value(CT.message, _t(EDITOR.message))
        if self.point_id is not None:
            self._guarded(move)
