"""The Points tab (body map) and the History tab: view code over :mod:`pointdose.records`.

Points: the client and session in use, both views of the body with every common trigger-point
location (:mod:`pointdose.bodymap`); a click picks the nearest location, or, in "place a new point"
mode, places a named point there. Points treated in the session are coloured by their dose
(:mod:`pointdose.metrics`, cached per application); the pick is published through
:mod:`pointdose.records.selection` for the session runner, with the location's caution.

History: per client and point, PPT before/after per session (with the noise labels and the
like-with-like rule of :mod:`pointdose.records.history`), dose and duration, as plots and a table.

The store is opened on the render thread. The body map's data (points and doses,
:func:`pointdose.records.history.points_view`, and the automatic visit) and a point's history
(:func:`pointdose.records.history.point_history`, which may recompute PPTs under a later
calibration) are read on workers (:class:`pointdose.app.background.Latest`), every few seconds and
when a choice changes; the panels draw the newest result. Choices (a client, a session, a click)
still read a few rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import dearpygui.dearpygui as dpg

from pointdose import bodymap
from pointdose.app import view
from pointdose.app.background import Latest
from pointdose.app.model import HISTORY_COLUMNS, history_cells, treated_lines
from pointdose.app.panels.base import Panel, PanelContext
from pointdose.records import history, selection
from pointdose.records.store import Store, StoreError, db_exists, default_db_path

FIG_H = 560
FIG_W = int(FIG_H / bodymap.ASPECT)
FIG_GAP = 24
MAP_W = 2 * FIG_W + FIG_GAP
REFRESH_S = 2.0
NEW_CLIENT = "+ new client…"
NEW_SESSION = "+ new session"
AUTO_VISIT = "automatic: "  # the first entry of the session list: the visit the terminal would choose

# dose colour ramp (low → high), all readable on the dark background
RAMP = ((70, 200, 255), (110, 220, 120), (255, 190, 40), (255, 110, 100))
UNTREATED = (120, 120, 120)
OUTLINE = (150, 150, 150)
PPT_BEFORE = (70, 200, 255)
PPT_AFTER = (110, 220, 120)
DOSE_BAR = (255, 190, 40)
DURATION = (200, 160, 255)


def series_theme(tag: str, colour, kinds) -> None:
    """A plot series theme in ``colour`` for the series ``kinds`` ("line", "scatter", "bar"): lines
    2 px, scatter points as 5 px filled circles, bars filled."""
    comps = {"line": dpg.mvLineSeries, "scatter": dpg.mvScatterSeries, "bar": dpg.mvBarSeries}
    with dpg.theme(tag=tag):
        for kind in kinds:
            with dpg.theme_component(comps[kind]):
                dpg.add_theme_color(dpg.mvPlotCol_Line, (*colour, 255), category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 2.0, category=dpg.mvThemeCat_Plots)
                if kind == "bar":
                    dpg.add_theme_color(dpg.mvPlotCol_Fill, (*colour, 255), category=dpg.mvThemeCat_Plots)
                if kind == "scatter":
                    for col in (dpg.mvPlotCol_MarkerFill, dpg.mvPlotCol_MarkerOutline):
                        dpg.add_theme_color(col, (*colour, 255), category=dpg.mvThemeCat_Plots)
                    dpg.add_theme_style(dpg.mvPlotStyleVar_Marker, dpg.mvPlotMarker_Circle,
                                        category=dpg.mvThemeCat_Plots)
                    dpg.add_theme_style(dpg.mvPlotStyleVar_MarkerSize, 5, category=dpg.mvThemeCat_Plots)

def _t(text: str) -> str:
    """view._text, and ASCII arrows when DearPyGui's built-in font (no arrows) is in use."""
    text = view._text(text)
    return text if view._have_ttf else text.replace("→", "->").replace("←", "<-").replace("−", "-")


def dose_colour(fraction: float) -> tuple[int, int, int]:
    """Colour for a dose as a fraction of the session's largest (0..1), along RAMP."""
    f = min(1.0, max(0.0, fraction)) * (len(RAMP) - 1)
    i = min(int(f), len(RAMP) - 2)
    a, b, u = RAMP[i], RAMP[i + 1], f - i
    return tuple(int(round(a[k] + (b[k] - a[k]) * u)) for k in range(3))


@dataclass(frozen=True)
class RecTags:
    client: str = "pd.rec.client"
    new_code: str = "pd.rec.new_code"
    add_client: str = "pd.rec.add_client"
    session: str = "pd.rec.session"
    map: str = "pd.rec.map"
    layer: str = "pd.rec.map.points"
    handler: str = "pd.rec.map.handler"
    place: str = "pd.rec.place"
    place_name: str = "pd.rec.place_name"
    picked: str = "pd.rec.picked"
    caution: str = "pd.rec.caution"
    ppt: str = "pd.rec.ppt"
    screened: str = "pd.rec.screened"
    screen_save: str = "pd.rec.screen_save"
    legend: str = "pd.rec.legend"
    treated: str = "pd.rec.treated"
    message: str = "pd.rec.message"
    h_client: str = "pd.hist.client"
    h_point: str = "pd.hist.point"
    h_title: str = "pd.hist.title"
    h_ppt_x: str = "pd.hist.ppt.x"
    h_ppt_y: str = "pd.hist.ppt.y"
    h_before: str = "pd.hist.ppt.before"
    h_after: str = "pd.hist.ppt.after"
    h_before_pts: str = "pd.hist.ppt.before.pts"
    h_after_pts: str = "pd.hist.ppt.after.pts"
    h_dose_x: str = "pd.hist.dose.x"
    h_dose_y: str = "pd.hist.dose.y"
    h_dose: str = "pd.hist.dose.series"
    h_dur_y: str = "pd.hist.dur.y"
    h_dur: str = "pd.hist.dur.series"
    h_contact: str = "pd.hist.contact.series"
    h_table: str = "pd.hist.table"
    h_message: str = "pd.hist.message"
    h_report: str = "pd.hist.report"
    h_session: str = "pd.hist.session"
    h_export: str = "pd.hist.export"
    h_folder: str = "pd.hist.folder"
    h_progress: str = "pd.hist.progress"
    h_result: str = "pd.hist.result"
    theme_before: str = "pd.hist.theme.before"
    theme_after: str = "pd.hist.theme.after"
    theme_dose: str = "pd.hist.theme.dose"
    theme_dur: str = "pd.hist.theme.dur"
    theme_contact: str = "pd.hist.theme.contact"


TAGS = RecTags()


class _StoreUser:
    """Opens the records store once; shows what went wrong instead of failing the app."""

    store: Store | None = None
    store_error: str | None = None

    def open_store(self, create: bool = False) -> Store | None:
        """The store; None with ``store_error`` set when it cannot be used. Opening the app creates
        no file: the database appears with the first client (or the first recording)."""
        if self.store is None:
            path = default_db_path()
            if not create and not db_exists(path):
                self.store_error = (f"No records yet. Add a client to start; the records will be kept in {path}.")
                return None
            try:
                self.store = Store(path)
                self.store_error = None
            except StoreError as exc:
                self.store_error = str(exc)
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


def screen_tag(key: str) -> str:
    return f"pd.rec.screen.{key}"


def _client_labels(store: Store) -> list[str]:
    return [c["code"] for c in store.clients()]


def _session_label(s: dict) -> str:
    return f"#{s['id']}  {s['started_at'][:16].replace('T', ' ')}"


class BodyMapPanel(_StoreUser, Panel):
    title = "Points"
    open_on_start = False  # tests and demos: show this tab first

    def __init__(self) -> None:
        self.tab = None
        self.client_id: int | None = None
        self.session_id: int | None = None  # the visit shown: chosen, or the open one (None: a new one is made)
        self.visit: int | None = None  # the session the user chose; None = automatic (records.recording.visit_session)
        self.picked: tuple[str, str, int | None] | None = None  # (location, side, point id)
        self._sessions: list[dict] = []
        self._next_refresh = 0.0
        self._first = True
        self._clicks: list[tuple[float, float]] = []
        self.area = 1.0  # the probe in use (cm²): a PPT is shown for this probe
        self._map_data = Latest("points")  # the body map's points and doses, read off the render thread
        self._contact: dict[int, float] = {}  # point id -> seconds under pressure this session (as drawn)

    # ------------------------------------------------------------------ build

    def build(self, ctx: PanelContext) -> None:
        self.tab = view.current_tab()
        with dpg.group(horizontal=True) as row:
            dpg.add_text("Client")
            dpg.add_combo([], tag=TAGS.client, width=170, callback=self._on_client)
            dpg.add_input_text(tag=TAGS.new_code, hint="new code, e.g. C-0042", width=170, on_enter=True,
                               callback=self._on_add_client)
            dpg.add_button(label="Add", tag=TAGS.add_client, callback=self._on_add_client)
        if view.is_narrow():  # below 1200 px the session list gets a row of its own (it read "#4 20…")
            row = dpg.add_group(horizontal=True)
        dpg.add_text("Session", parent=row)
        dpg.add_combo([], tag=TAGS.session, width=-1, callback=self._on_session, parent=row)
        dpg.add_text("", tag=TAGS.message, color=view.AMBER, wrap=MAP_W + 200)
        # below 1200 px the point's details go under the map (the tab scrolls) instead of beside it
        with dpg.group(horizontal=not view.is_narrow()):
            with dpg.drawlist(width=MAP_W, height=FIG_H + 44, tag=TAGS.map):
                self._draw_figures()
                dpg.add_draw_layer(tag=TAGS.layer)
                dpg.add_draw_layer(tag=TAGS.legend)
            with dpg.group(width=-1):
                dpg.add_text(_t("Point"), color=view.GREY)
                dpg.add_text(_t("— click a point on the figure"), tag=TAGS.picked, color=view.WHITE,
                             wrap=190)
                dpg.add_text("", tag=TAGS.caution, color=view.AMBER, wrap=190)
                dpg.add_text("", tag=TAGS.ppt, color=view.CYAN, wrap=190)
                dpg.add_checkbox(label="place a new point", tag=TAGS.place)
                dpg.add_input_text(tag=TAGS.place_name, hint="its name", width=-1)
                dpg.add_spacer(height=6)
                dpg.add_text(_t("Treated this session (dose, descriptive; time under pressure)"), color=view.GREY,
                             wrap=190)
                dpg.add_text("", tag=TAGS.treated, color=view.WHITE, wrap=190)
                dpg.add_spacer(height=6)
                dpg.add_text(_t("Client screening (dated; ticked = present)"), color=view.GREY, wrap=190)
                dpg.add_text("", tag=TAGS.screened, color=view.WHITE, wrap=190)
                from pointdose.protocols.cautions import SCREENING

                for key, item in SCREENING.items():
                    dpg.add_checkbox(label=key.replace("_", " "), tag=screen_tag(key))
                    with dpg.tooltip(screen_tag(key)):
                        dpg.add_text(_t(f"{item.label}: {item.warning}"), wrap=360)
                dpg.add_button(label="Save screening", tag=TAGS.screen_save, callback=self._on_save_screening)
        with dpg.item_handler_registry(tag=TAGS.handler):
            dpg.add_item_clicked_handler(callback=self._on_map_click)
        dpg.bind_item_handler_registry(TAGS.map, TAGS.handler)

    def _draw_figures(self) -> None:
        for k, name in enumerate(("front", "back")):
            ox = k * (FIG_W + FIG_GAP)
            pts = [(ox + x * FIG_W, y * FIG_H) for x, y in bodymap.BODY]
            dpg.draw_polyline(pts + [pts[0]], color=(*OUTLINE, 255), thickness=1.5)
            hx, hy, hr = bodymap.HEAD
            dpg.draw_circle((ox + hx * FIG_W, hy * FIG_H), hr * FIG_W / 2, color=(*OUTLINE, 255), thickness=1.5)
            side = "patient's left →" if name == "front" else "← patient's left"
            dpg.draw_text((ox + 4, FIG_H + 2), _t(f"{name}   {side}"), size=15, color=(*view.GREY, 255))

    # ------------------------------------------------------------------ per frame

    def update(self, ctx: PanelContext) -> None:
        self.area = ctx.model.settings.probe_area_cm2
        if self._first:
            self._first = False
            if self.open_on_start and self.tab is not None:
                dpg.set_value(view.TAGS.tabs, self.tab)
            if self.open_store() is None:
                dpg.set_value(TAGS.message, _t(self.store_error or ""))
            else:
                self._load_clients(select_latest=True)
        while self._clicks:
            self._handle_click(*self._clicks.pop(0))
        got = self._map_data.take()
        if got is not None:
            self._show_map(got)
        if ctx.now_s >= self._next_refresh:
            self._next_refresh = ctx.now_s + REFRESH_S
            if self.store is None:  # a recording may have created the file meanwhile
                if self.open_store() is not None:
                    dpg.set_value(TAGS.message, "")
                    self._load_clients(select_latest=True)
            else:
                self._request_map(follow=True)

    # ------------------------------------------------------------------ data

    def _load_clients(self, select_latest: bool = False, code: str | None = None) -> None:
        store = self.store
        labels = _client_labels(store)
        dpg.configure_item(TAGS.client, items=labels)
        if code is None and select_latest and labels:
            latest = store.query("SELECT c.code FROM sessions s JOIN clients c ON s.client_id=c.id "
                                 "ORDER BY s.started_at DESC, s.id DESC LIMIT 1")
            code = latest[0]["code"] if latest else labels[0]
        if code:
            dpg.set_value(TAGS.client, code)
            self._select_client(code)
        elif not labels:
            dpg.set_value(TAGS.message, "No clients yet: type a code and press Add (a pseudonym; the name is optional).")

    def _select_client(self, code: str, visit: int | None = None) -> None:
        client = self.store.client(code)
        self.client_id = client["id"]
        self.visit = visit
        self.picked = None
        self._show_sessions()
        self._publish()
        self._draw_points()

    def _auto_label(self) -> str:
        return AUTO_VISIT + (f"visit #{self.session_id} (continued)" if self.session_id is not None
                             else "a new visit at the first recording")

    def _show_sessions(self) -> None:
        """The session list: "automatic" first (the client's open visit, else a new one: the same rule
        as ``pointdose session``), then every session; the one in use is selected."""
        from pointdose.records.recording import selection_visit
        from pointdose.records.selection import Selection

        self._sessions = self.store.sessions(self.client_id)
        self.session_id = selection_visit(self.store, Selection(client_id=self.client_id, visit=self.visit))[0]
        items = [self._auto_label()] + [_session_label(s) for s in reversed(self._sessions)] + [NEW_SESSION]
        dpg.configure_item(TAGS.session, items=items)
        chosen = next((_session_label(s) for s in self._sessions if s["id"] == self.visit), None)
        dpg.set_value(TAGS.session, chosen or items[0])

    def _publish(self) -> None:
        client = self.store.client(self.client_id) if self.client_id else None
        point_id = self.picked[2] if self.picked else None
        label, caution, ppt_line = None, None, ""
        if self.picked:
            loc_id, side, _ = self.picked
            if loc_id != "custom":
                loc = bodymap.location(loc_id)
                label, caution = f"{loc.label} ({side})", loc.caution_text()
            else:
                label = self.store.point_row(point_id)["label"] if point_id else None
                caution = "placed by hand: no region caution is known for it — check the place yourself"
            if point_id is not None:
                from pointdose.records.ppt import lookup

                found = lookup(self.store, point_id, self.area)
                ppt_line = found.line() if found else "no PPT of this client here yet (Session tab: ppt)"
        screening = self._show_screening(client)
        if screening and self.picked:
            caution = " ".join(x for x in (caution, f"This client: {screening}.") if x)
        selection.update(db_path=str(getattr(self.store, "url", self.store.path)), client_id=self.client_id,
                         client_code=client["code"] if client else None, session_id=self.session_id,
                         visit=self.visit, point_id=point_id, point_label=label, caution=caution)
        dpg.set_value(TAGS.picked, _t(label or "— click a point on the figure"))
        dpg.set_value(TAGS.caution, _t(f"Caution: {caution}") if caution else "")
        dpg.set_value(TAGS.ppt, _t(ppt_line))

    def _show_screening(self, client) -> str:
        """Fill the screening boxes from the client's record; the active items as words ('' for none)."""
        from pointdose.protocols.cautions import SCREENING

        scr = self.store.screening(client["id"]) if client else {"active": None, "answers": {}, "screened_at": None}
        for key in SCREENING:
            row = scr["answers"].get(key)
            dpg.set_value(screen_tag(key), bool(row and row["present"]))
        if client is None:
            dpg.set_value(TAGS.screened, "")
            return ""
        if scr["active"] is None:
            dpg.set_value(TAGS.screened, _t("not screened yet: tick what applies and save"))
            return "not screened yet"
        active = ", ".join(SCREENING[k].label for k in scr["active"])
        dpg.set_value(TAGS.screened, _t(f"screened {scr['screened_at'][:10]}"))
        return active

    def _on_save_screening(self, sender=None, app_data=None, user_data=None) -> None:
        from pointdose.protocols.cautions import SCREENING

        if not self.store or self.client_id is None:
            dpg.set_value(TAGS.message, "Choose or add a client first.")
            return

        def save():
            self.store.add_screening(self.client_id, {k: bool(dpg.get_value(screen_tag(k))) for k in SCREENING})
            dpg.set_value(TAGS.message, "")
            self._publish()
        self._guarded(save)

    def _draw_points(self) -> None:
        """Ask for the map's data (read off the render thread); it is drawn when it arrives."""
        self._request_map(follow=False)

    def _request_map(self, follow: bool) -> None:
        """``follow``: in automatic mode, find the visit a recording would use now (a recording may
        have started a new one, or the open one may have lapsed)."""
        store, client_id, session_id = self.store, self.client_id, self.session_id
        if store is None:
            return
        follow_sel = selection.current() if follow and client_id is not None and self.visit is None else None

        def load() -> history.PointsView:  # on the worker
            sid = session_id
            if follow_sel is not None:
                from pointdose.records.recording import selection_visit

                sid = selection_visit(store, follow_sel)[0]
            return history.points_view(store, client_id, sid)

        self._map_data.request(load)

    def _show_map(self, got) -> None:
        if got.error:
            dpg.set_value(TAGS.message, _t(got.error))
            return
        data = got.value
        if data.client_id != self.client_id:
            return  # asked for another client: the newer request is on its way
        if data.session_id != self.session_id:
            if self.visit is not None:
                return  # a session was chosen since
            self._guarded(self._show_sessions)  # automatic: the visit moved on
            self._guarded(self._publish)
            if data.session_id != self.session_id:
                self._draw_points()
                return
        self._render_map(data)

    def _render_map(self, data: history.PointsView) -> None:
        dpg.delete_item(TAGS.layer, children_only=True)
        points, doses, self._contact = data.points, data.doses, data.contact
        by_key = {(p["location"], p["side"], p["label"] if p["location"] == "custom" else None): p for p in points}
        top = max(doses.values()) if doses else 0.0
        for k, name in enumerate(("front", "back")):
            ox = k * (FIG_W + FIG_GAP)
            for loc, side, x, y in bodymap.placed(name):
                p = by_key.get((loc.id, side, None))
                self._dot(ox + x * FIG_W, y * FIG_H, p, doses, top, (loc.id, side))
            for p in points:
                if p["location"] == "custom" and p["view"] == name:
                    self._dot(ox + p["x"] * FIG_W, p["y"] * FIG_H, p, doses, top, ("custom", p["side"]))
        self._draw_legend(top)
        lines = treated_lines([(f"{p['label']} ({p['side']})", doses[p["id"]], self._contact.get(p["id"], 0.0))
                               for p in points if p["id"] in doses])
        dpg.set_value(TAGS.treated, _t("\n".join(lines) if lines else "nothing recorded in this session yet"))

    def _dot(self, x, y, point, doses, top, key) -> None:
        picked = self.picked is not None and (self.picked[0], self.picked[1]) == key and (
            key[0] != "custom" or (point and self.picked[2] == point["id"]))
        if point is not None and point["id"] in doses:
            colour = dose_colour(doses[point["id"]] / top if top > 0 else 0.0)
            dpg.draw_circle((x, y), 7, color=(*colour, 255), fill=(*colour, 255), parent=TAGS.layer)
            # its time under pressure this session, beside the dot (the dose is its colour), on a dark label
            label = f"{self._contact.get(point['id'], 0.0):.0f} s"
            w = 7 * len(label) + 4
            dpg.draw_rectangle((x + 8, y - 8), (x + 8 + w, y + 7), color=(20, 20, 22, 220), fill=(20, 20, 22, 220),
                               parent=TAGS.layer)
            dpg.draw_text((x + 10, y - 8), label, size=13, color=(*view.WHITE, 255), parent=TAGS.layer)
        else:
            dpg.draw_circle((x, y), 3.5, color=(*UNTREATED, 255), fill=(*UNTREATED, 160), parent=TAGS.layer)
        if picked:
            dpg.draw_circle((x, y), 11, color=(*view.WHITE, 255), thickness=2, parent=TAGS.layer)

    def _draw_legend(self, top: float) -> None:
        dpg.delete_item(TAGS.legend, children_only=True)
        # under the figures: "dose this session  0 [ramp] max kPa·s"
        y0, x0, steps = FIG_H + 24, 230, 40
        dpg.draw_text((4, y0 - 2), _t("dose this session (descriptive):"), size=15,
                      color=(*view.GREY, 255), parent=TAGS.legend)
        dpg.draw_text((x0 - 14, y0 - 2), "0", size=15, color=(*view.GREY, 255), parent=TAGS.legend)
        for i in range(steps):
            c = dose_colour(i / (steps - 1))
            dpg.draw_rectangle((x0 + i * 4, y0), (x0 + i * 4 + 4, y0 + 12), color=(*c, 255), fill=(*c, 255),
                               parent=TAGS.legend)
        label = f"{top:,.0f} kPa·s" if top > 0 else "nothing yet"
        dpg.draw_text((x0 + steps * 4 + 6, y0 - 2), _t(label), size=15, color=(*view.GREY, 255),
                      parent=TAGS.legend)

    # ------------------------------------------------------------------ callbacks (render thread)

    def _on_client(self, sender=None, app_data=None, user_data=None) -> None:
        if self.store and app_data:
            self._guarded(self._select_client, str(app_data))

    def _on_add_client(self, sender=None, app_data=None, user_data=None) -> None:
        code = dpg.get_value(TAGS.new_code).strip()
        if self.open_store(create=bool(code)) is None:
            dpg.set_value(TAGS.message, _t(self.store_error or "Type a code for the client first."))
            return

        def add():
            self.store.add_client(code)
            dpg.set_value(TAGS.new_code, "")
            dpg.set_value(TAGS.message, "")
            self._load_clients(code=code)
        self._guarded(add)

    def _on_session(self, sender=None, app_data=None, user_data=None) -> None:
        if not self.store or self.client_id is None:
            return
        if app_data == NEW_SESSION:
            def new():
                picked = self.picked
                self.visit = self.store.start_session(self.client_id)
                self._show_sessions()
                self.picked = picked
                self._publish()
                self._draw_points()
            self._guarded(new)
            return
        self.visit = None  # "automatic: …"
        for s in self._sessions:
            if _session_label(s) == app_data:
                self.visit = s["id"]
        self._show_sessions()
        self._publish()
        self._draw_points()

    def _on_map_click(self, sender=None, app_data=None, user_data=None) -> None:
        mx, my = dpg.get_mouse_pos(local=False)
        rx, ry = dpg.get_item_rect_min(TAGS.map)
        self._clicks.append((mx - rx, my - ry))

    def _handle_click(self, px: float, py: float) -> None:
        if self.store is None or self.client_id is None:
            dpg.set_value(TAGS.message, "Choose or add a client first.")
            return
        view_name = "front" if px < FIG_W + FIG_GAP / 2 else "back"
        ox = 0 if view_name == "front" else FIG_W + FIG_GAP
        x, y = (px - ox) / FIG_W, py / FIG_H
        if not (0 <= x <= 1 and 0 <= y <= 1):
            return
        self._guarded(self.pick_at, view_name, x, y)

    def pick_at(self, view_name: str, x: float, y: float) -> None:
        """Pick the location near (x, y) of ``view_name``, or place a new point there, or move the
        free-text point the Clinical tab asked to place (app/pointedit.py)."""
        from pointdose.app.pointedit import EDITOR

        if EDITOR.pending(self.client_id) is not None:
            row = EDITOR.place(self.store, view_name, x, y)  # StoreError: shown, the request waits
            self.picked = ("custom", row["side"], row["id"])
            dpg.set_value(TAGS.message, _t(EDITOR.message))
            self._publish()
            self._draw_points()
            return
        if dpg.get_value(TAGS.place):
            name = dpg.get_value(TAGS.place_name).strip()
            if not name:
                dpg.set_value(TAGS.message, "Type a name for the new point, then click where it is.")
                return
            side = bodymap.side_of(view_name, x)
            pid = self.store.point(self.client_id, "custom", side, label=name, view=view_name, x=x, y=y)
            self.picked = ("custom", side, pid)
            dpg.set_value(TAGS.place, False)
            dpg.set_value(TAGS.place_name, "")
        else:
            found = bodymap.nearest(view_name, x, y, radius=0.04)
            if found is None:
                custom = [p for p in self.store.points(self.client_id) if p["location"] == "custom"
                          and p["view"] == view_name and abs(p["x"] - x) < 0.04 and abs(p["y"] - y) * bodymap.ASPECT < 0.04]
                if not custom:
                    dpg.set_value(TAGS.message, "No point there: click a dot, or tick 'place a new point'.")
                    return
                self.picked = ("custom", custom[0]["side"], custom[0]["id"])
            else:
                loc, side = found
                pid = self.store.point(self.client_id, loc.id, side)
                self.picked = (loc.id, side, pid)
        dpg.set_value(TAGS.message, "")
        self._publish()
        self._draw_points()

    def _guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except (StoreError, ValueError) as exc:
            dpg.set_value(TAGS.message, _t(str(exc)))

    def close(self) -> None:
        self._map_data.close()  # the worker's read ends before its store closes
        super().close()


class HistoryPanel(_StoreUser, Panel):
    title = "History"
    open_on_start = False

    def __init__(self) -> None:
        self.tab = None
        self._first = True
        self._points: list[dict] = []
        self._labels: list[str] = []
        self.point_id: int | None = None
        self._next_refresh = 0.0
        self.job = None  # the running or last Report/Export (pointdose.app.jobs.Job)
        self._sessions: list[dict] = []
        self._history_data = Latest("history")  # the point's history, computed off the render thread

    def build(self, ctx: PanelContext) -> None:
        from pointdose.app.jobs import default_folder

        self.tab = view.current_tab()
        self._themes()
        with dpg.group(horizontal=True):
            dpg.add_text("Client")
            dpg.add_combo([], tag=TAGS.h_client, width=170, callback=self._on_client)
            dpg.add_text("Point")
            dpg.add_combo([], tag=TAGS.h_point, width=-1, callback=self._on_point)
        # a PDF of one session, a CSV export of the client: written off the render thread (pointdose.app.jobs)
        with dpg.group(horizontal=True) as row:
            dpg.add_button(label="Report PDF", tag=TAGS.h_report, callback=lambda: self.report())
            dpg.add_combo([], tag=TAGS.h_session, width=215)
            dpg.add_button(label="Export CSV", tag=TAGS.h_export, callback=lambda: self.export())
        if view.is_narrow():
            row = dpg.add_group(horizontal=True)
        dpg.add_text("into", parent=row)
        dpg.add_input_text(tag=TAGS.h_folder, default_value=str(default_folder()), width=-1, parent=row)
        for tag, tip in ((TAGS.h_report, "a PDF of the session chosen beside it (as 'pointdose report --session ID')"),
                         (TAGS.h_export, "the client's points.csv and samples/*.csv (as 'pointdose export "
                                         "--format csv'), in a folder named after the client"),
                         (TAGS.h_folder, "the folder the report and the export are written into")):
            with dpg.tooltip(tag):
                dpg.add_text(tip, wrap=420)
        for tag in (TAGS.h_report, TAGS.h_export):
            dpg.bind_item_theme(tag, view.TAGS.theme_disabled)
        with dpg.group(horizontal=True):
            dpg.add_progress_bar(tag=TAGS.h_progress, default_value=0.0, width=160, show=False)
            dpg.add_text("", tag=TAGS.h_result, color=view.GREY, wrap=0, show=False)
        dpg.add_text("", tag=TAGS.h_message, color=view.AMBER, wrap=800)
        dpg.add_text("", tag=TAGS.h_title, color=view.WHITE)
        with dpg.plot(height=200, width=-1, no_menus=True, no_box_select=True, no_mouse_pos=True):
            dpg.add_plot_legend(location=dpg.mvPlot_Location_NorthWest)
            dpg.add_plot_axis(dpg.mvXAxis, label="days since the first session", tag=TAGS.h_ppt_x)
            with dpg.plot_axis(dpg.mvYAxis, label="PPT (kPa)", tag=TAGS.h_ppt_y):
                dpg.add_line_series([], [], label="PPT before", tag=TAGS.h_before)
                dpg.add_scatter_series([], [], tag=TAGS.h_before_pts)
                dpg.add_line_series([], [], label="PPT after", tag=TAGS.h_after)
                dpg.add_scatter_series([], [], tag=TAGS.h_after_pts)
        with dpg.plot(height=195, width=-1, no_menus=True, no_box_select=True, no_mouse_pos=True):
            # top centre, in a row above the plotting area (outside it: it covers no bar and no line), and
            # clear of the window's centre where a resting pointer would hover an entry (ImPlot then tints
            # that series' axis)
            dpg.add_plot_legend(location=dpg.mvPlot_Location_North, horizontal=True, outside=True)
            dpg.add_plot_axis(dpg.mvXAxis, label="days since the first session", tag=TAGS.h_dose_x)
            with dpg.plot_axis(dpg.mvYAxis, label=_t("dose (kPa·s)"), tag=TAGS.h_dose_y):
                dpg.add_bar_series([], [], label=_t("dose (descriptive, kPa·s)"), weight=1.6, tag=TAGS.h_dose)
            with dpg.plot_axis(dpg.mvYAxis2, label="time (s)", tag=TAGS.h_dur_y, opposite=True):
                dpg.add_line_series([], [], label="duration (s)", tag=TAGS.h_dur)
                dpg.add_line_series([], [], label="contact (s)", tag=TAGS.h_contact)
        with dpg.table(tag=TAGS.h_table, header_row=True, borders_innerH=False, borders_outerH=True,
                       policy=dpg.mvTable_SizingFixedFit, scrollY=True, height=-1):
            # headers short enough to show whole at 1024 px: two values per cell, units in the cells
            for label, width in HISTORY_COLUMNS:
                if width is None:
                    dpg.add_table_column(label=_t(label), width_stretch=True)
                else:
                    dpg.add_table_column(label=_t(label), width_fixed=True, init_width_or_weight=width)
        with dpg.tooltip(TAGS.h_table):
            dpg.add_text(_t("protocol: the one applied · duration: the whole application · contact: time under "
                            "pressure · dose (descriptive) · PPT: pressure-pain threshold before → after the "
                            "application"), wrap=420)
        for tag, theme in ((TAGS.h_before, TAGS.theme_before), (TAGS.h_before_pts, TAGS.theme_before),
                           (TAGS.h_after, TAGS.theme_after), (TAGS.h_after_pts, TAGS.theme_after),
                           (TAGS.h_dose, TAGS.theme_dose), (TAGS.h_dur, TAGS.theme_dur),
                           (TAGS.h_contact, TAGS.theme_contact)):
            dpg.bind_item_theme(tag, theme)

    def _themes(self) -> None:
        for tag, colour, kind in ((TAGS.theme_before, PPT_BEFORE, "line"), (TAGS.theme_after, PPT_AFTER, "line"),
                                  (TAGS.theme_dose, DOSE_BAR, "bar"), (TAGS.theme_dur, DURATION, "line"),
                                  (TAGS.theme_contact, view.WHITE, "line")):
            series_theme(tag, colour, ("line", "scatter") if kind == "line" else ("bar",))

    def update(self, ctx: PanelContext) -> None:
        if self._first:
            self._first = False
            if self.open_on_start and self.tab is not None:
                dpg.set_value(view.TAGS.tabs, self.tab)
        self._show_job()
        _show(TAGS.h_message, bool(dpg.get_value(TAGS.h_message)))  # an empty line takes no room
        got = self._history_data.take()
        if got is not None:
            if got.error:
                dpg.set_value(TAGS.h_message, _t(got.error))
            elif got.value.point_id == self.point_id:  # else: another point was chosen since
                self._render_history(got.value)
        if ctx.now_s >= self._next_refresh:  # new clients, new recordings: a few small queries
            self._next_refresh = ctx.now_s + REFRESH_S
            self._refresh()
        # follow the point picked on the body map
        sel = selection.current()
        if self.store is not None and sel.point_id is not None and sel.point_id != self.point_id and \
                sel.client_code == dpg.get_value(TAGS.h_client):
            self._select_client(sel.client_code, point_id=sel.point_id)

    def _refresh(self) -> None:
        if self.open_store() is None:
            dpg.set_value(TAGS.h_message, _t(self.store_error or ""))
            return
        labels = _client_labels(self.store)
        if labels != self._labels:
            self._labels = labels
            dpg.configure_item(TAGS.h_client, items=labels)
        if not labels:
            dpg.set_value(TAGS.h_message, "No clients yet: add one in the Points tab.")
            return
        code = dpg.get_value(TAGS.h_client)
        if code not in labels:
            latest = self.store.query("SELECT c.code FROM sessions s JOIN clients c ON s.client_id=c.id "
                                      "ORDER BY s.started_at DESC, s.id DESC LIMIT 1")
            code = latest[0]["code"] if latest else labels[0]
            dpg.set_value(TAGS.h_client, code)
            self._select_client(code)
        elif self.point_id is not None:
            self.show_point(self.point_id)  # picks up applications recorded since
        else:
            self._select_client(code)

    def _select_client(self, code: str, point_id: int | None = None) -> None:
        try:
            client = self.store.client(code)
        except StoreError as exc:
            dpg.set_value(TAGS.h_message, _t(str(exc)))
            return
        self._fill_sessions(client["id"])
        self._points = self.store.points(client["id"])
        labels = [f"{p['label']} ({p['side']})" for p in self._points]
        dpg.configure_item(TAGS.h_point, items=labels)
        if not self._points:
            dpg.set_value(TAGS.h_message, f"{code} has no points recorded yet.")
            return
        if point_id is None:  # the point with the most sessions
            counts = self.store.query("SELECT a.point_id, COUNT(DISTINCT a.session_id) AS n FROM applications a "
                                      "JOIN points p ON a.point_id=p.id WHERE p.client_id=? GROUP BY a.point_id "
                                      "ORDER BY n DESC, a.point_id LIMIT 1", (client["id"],))
            point_id = counts[0]["point_id"] if counts else self._points[0]["id"]
        self.show_point(point_id)

    def show_point(self, point_id: int) -> None:
        self.point_id = point_id
        p = next((p for p in self._points if p["id"] == point_id), None)
        if p is None:
            return
        dpg.set_value(TAGS.h_point, f"{p['label']} ({p['side']})")
        store = self.store
        self._history_data.request(lambda: history.point_history(store, point_id))  # drawn when it arrives

    def close(self) -> None:
        self._history_data.close()  # the worker's read ends before its store closes
        super().close()

    def _render_history(self, ph: history.PointHistory) -> None:
        entries = ph.entries
        dpg.set_value(TAGS.h_message, "")
        if not entries:
            dpg.set_value(TAGS.h_title, _t(f"{ph.name}: nothing recorded yet"))
            for tag in (TAGS.h_before, TAGS.h_after, TAGS.h_before_pts, TAGS.h_after_pts, TAGS.h_dose, TAGS.h_dur,
                        TAGS.h_contact):
                dpg.set_value(tag, [[], []])
            dpg.delete_item(TAGS.h_table, children_only=True, slot=1)
            return
        t0 = _day(entries[0].date)
        days = [_day(e.date) - t0 for e in entries]
        before = [(d, e.ppt_before_kpa) for d, e in zip(days, entries) if e.ppt_before_kpa is not None]
        after = [(d, e.ppt_after_kpa) for d, e in zip(days, entries) if e.ppt_after_kpa is not None]
        for line, pts, data in ((TAGS.h_before, TAGS.h_before_pts, before), (TAGS.h_after, TAGS.h_after_pts, after)):
            xs, ys = [float(d) for d, _ in data], [float(v) for _, v in data]
            dpg.set_value(line, [xs, ys])
            dpg.set_value(pts, [xs, ys])
        # several applications on a day: dose adds up, duration adds up
        per_day: dict[float, list] = {}
        for d, e in zip(days, entries):
            acc = per_day.setdefault(float(d), [0.0, 0.0, 0.0])
            acc[0] += e.dose_kpa_s
            acc[1] += e.duration_s
            acc[2] += e.contact_s
        xs = sorted(per_day)
        dpg.set_value(TAGS.h_dose, [xs, [per_day[x][0] for x in xs]])
        dpg.set_value(TAGS.h_dur, [xs, [per_day[x][1] for x in xs]])
        dpg.set_value(TAGS.h_contact, [xs, [per_day[x][2] for x in xs]])
        span = max(xs[-1], 1.0)
        for axis in (TAGS.h_ppt_x, TAGS.h_dose_x):
            dpg.set_axis_limits(axis, -0.08 * span - 1, span * 1.08 + 1)
        values = [v for _, v in before + after]
        if values:
            lo, hi = min(values), max(values)
            pad = max(20.0, 0.15 * (hi - lo))
            dpg.set_axis_limits(TAGS.h_ppt_y, max(0.0, lo - pad), hi + pad)
        dpg.set_axis_limits(TAGS.h_dose_y, 0.0, max(per_day[x][0] for x in xs) * 1.15 + 1)
        dpg.set_axis_limits(TAGS.h_dur_y, 0.0, max(per_day[x][1] for x in xs) * 1.15 + 1)
        dpg.set_value(TAGS.h_title, _t(f"{ph.name} — {len(entries)} applications in "
                                               f"{len({e.session_id for e in entries})} sessions"))
        self._fill_table(entries)

    def _fill_table(self, entries: list[history.Entry]) -> None:
        dpg.delete_item(TAGS.h_table, children_only=True, slot=1)  # rows only, keep the columns
        for e in entries:
            with dpg.table_row(parent=TAGS.h_table):
                for cell in history_cells(e):
                    dpg.add_text(_t(cell))
                dpg.add_text(_t(e.change_notes()), wrap=0, color=view.GREY)  # wraps at the window edge

    def _on_client(self, sender=None, app_data=None, user_data=None) -> None:
        if self.store and app_data:
            self._select_client(str(app_data))

    # ------------------------------------------------------------------ Report PDF / Export CSV

    def _fill_sessions(self, client_id: int) -> None:
        """The client's sessions for the Report combo, newest first; the one picked on the Points tab
        (or the newest) chosen, unless the user chose another of this client's."""
        sessions = self.store.sessions(client_id)
        labels = [_session_label(s) for s in reversed(sessions)]
        chosen = dpg.get_value(TAGS.h_session)
        same_client = bool(self._sessions) and self._sessions[0]["client_id"] == client_id
        self._sessions = sessions
        dpg.configure_item(TAGS.h_session, items=labels)
        if same_client and chosen in labels:
            return
        sel = selection.current()
        picked = next((_session_label(s) for s in sessions if s["id"] == sel.session_id), None)
        dpg.set_value(TAGS.h_session, picked or (labels[0] if labels else ""))

    def _chosen_session(self) -> int | None:
        label = dpg.get_value(TAGS.h_session)
        return next((s["id"] for s in self._sessions if _session_label(s) == label), None)

    def _start_job(self, what: str, work) -> None:
        from pointdose.app.jobs import Job

        if self.job is not None and self.job.status().running:
            return  # the buttons are off meanwhile; a key or a script may still ask
        self.job = Job(what, work).start()
        self._show_job()

    def _refuse(self, text: str) -> None:
        self.job = None
        dpg.configure_item(TAGS.h_progress, show=False)
        dpg.set_value(TAGS.h_result, _t(text))
        dpg.configure_item(TAGS.h_result, color=view.RED, show=True)

    def report(self) -> None:
        """Write the chosen session's PDF into the folder, off the render thread."""
        from pointdose.app.jobs import write_report

        if self.store is None:
            return self._refuse(self.store_error or "No records yet.")
        session_id = self._chosen_session()
        if session_id is None:
            return self._refuse("Choose a client with a session first.")
        db, folder = _location(self.store), dpg.get_value(TAGS.h_folder).strip()
        if not folder:
            return self._refuse("Type the folder to write into.")
        self._start_job("Report", lambda progress: write_report(db, session_id, folder, progress))

    def export(self) -> None:
        """Write the client's CSV export into the folder, off the render thread."""
        from pointdose.app.jobs import write_export

        code = dpg.get_value(TAGS.h_client)
        if self.store is None or not code:
            return self._refuse(self.store_error or "Choose a client first.")
        db, folder = _location(self.store), dpg.get_value(TAGS.h_folder).strip()
        if not folder:
            return self._refuse("Type the folder to write into.")
        self._start_job("Export", lambda progress: write_export(db, code, folder, progress))

    def _show_job(self) -> None:
        job = self.job
        running = job is not None and job.status().running
        for tag in (TAGS.h_report, TAGS.h_export):
            _enable(tag, not running)
        if job is None:
            return
        st = job.status()
        dpg.configure_item(TAGS.h_progress, show=True, overlay=f"{st.fraction * 100:.0f} %")
        dpg.set_value(TAGS.h_progress, st.fraction)
        dpg.set_value(TAGS.h_result, _t(st.line))
        colour = view.GREY if st.running else (view.GREEN if st.ok else view.RED)
        dpg.configure_item(TAGS.h_result, color=colour, show=True)

    def _on_point(self, sender=None, app_data=None, user_data=None) -> None:
        for p in self._points:
            if f"{p['label']} ({p['side']})" == app_data:
                self.show_point(p["id"])


def _location(store: Store):
    """What a job opens its own connection to: the file, or the server's URL (``path`` is redacted)."""
    return getattr(store, "url", None) or store.path


_enabled: dict[str, bool] = {}
_shown: dict[str, bool] = {}


def _show(tag: str, on: bool) -> None:
    if _shown.get(tag) != on:
        _shown[tag] = on
        dpg.configure_item(tag, show=on)


def _enable(tag: str, on: bool) -> None:
    if _enabled.get(tag) != on:
        _enabled[tag] = on
        (dpg.enable_item if on else dpg.disable_item)(tag)


def _day(date: str) -> float:
    return datetime.fromisoformat(date).toordinal()
