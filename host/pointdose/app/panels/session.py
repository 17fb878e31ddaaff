"""The Session tab: run a guided protocol with live cues; a demo with the virtual hand on the simulated device.

Shows the phase name large in the band's colour (harder = blue, in band = green, softer =
orange, alarm = red, always with the words too), the countdown, the cycle and its progress, the
live trace with the target band shaded (and, during PPT ramps, the rate guide with its tolerance
fan), buttons for "release felt", "pain now", a 0–10 pain rating and a large STOP.

Keys: R release felt · P pain now · 0–9 pain rating (T = 10) · Space or Esc STOP.

The logic is in :mod:`pointdose.protocols` (engine), :mod:`pointdose.session` (runner) and
:mod:`pointdose.cues` (sound); this module only shows their state and forwards the inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dearpygui.dearpygui as dpg
import numpy as np

from pointdose import units
from pointdose.app import view
from pointdose.app.model import run_summary_lines
from pointdose.app.panels.base import Panel, PanelContext

TRACE_S = 20.0
BLUE = (90, 160, 255)
ORANGE = (255, 150, 60)
BAND_COLOURS = {"below": BLUE, "in": view.GREEN, "above": ORANGE, "none": view.WHITE}
BAND_WORDS = {"below": "HARDER", "in": "IN BAND", "above": "SOFTER", "none": ""}
RATE_WORDS = {"below": "FASTER", "in": "RATE OK", "above": "SLOWER", "none": ""}
PREVIEW_S = 3.0  # the cautions and the PPT shown before Start are read again this often (screening may change)
SKILLS = ["novice", "intermediate", "expert"]
PINNED_H = 112  # the button row (44 px) and the rating row under the scrolling part, with spacing


@dataclass(frozen=True)
class SessionTags:
    tab: str = "pd.ses.tab"
    body: str = "pd.ses.body"
    summary: str = "pd.ses.summary"
    legend: str = "pd.ses.legend"
    settings: str = "pd.ses.settings"
    settings_rows: str = "pd.ses.settings.rows"
    settings_note: str = "pd.ses.settings.note"
    settings_reset: str = "pd.ses.settings.reset"
    protocol: str = "pd.ses.protocol"
    point: str = "pd.ses.point"
    self_massage: str = "pd.ses.self_massage"
    ack: str = "pd.ses.ack"
    refusal: str = "pd.ses.refusal"
    relative: str = "pd.ses.relative"
    confirm: str = "pd.ses.confirm"
    skill: str = "pd.ses.skill"
    start: str = "pd.ses.start"
    demo: str = "pd.ses.demo"
    caution: str = "pd.ses.caution"
    phase: str = "pd.ses.phase"
    countdown: str = "pd.ses.countdown"
    cycle: str = "pd.ses.cycle"
    progress: str = "pd.ses.progress"
    prompt: str = "pd.ses.prompt"
    band_text: str = "pd.ses.bandtext"
    rate_text: str = "pd.ses.ratetext"
    alarm: str = "pd.ses.alarm"
    plot: str = "pd.ses.plot"
    x_axis: str = "pd.ses.x"
    y_axis: str = "pd.ses.y"
    trace: str = "pd.ses.trace"
    band: str = "pd.ses.band"
    guide: str = "pd.ses.guide"
    guide_lo: str = "pd.ses.guide.lo"
    guide_hi: str = "pd.ses.guide.hi"
    release: str = "pd.ses.release"
    pain: str = "pd.ses.pain"
    rating: str = "pd.ses.rating"
    stop: str = "pd.ses.stop"
    mute: str = "pd.ses.mute"
    volume: str = "pd.ses.volume"
    audio: str = "pd.ses.audio"
    audio_tip: str = "pd.ses.audio.tip"
    audio_full: str = "pd.ses.audio.full"
    keys: str = "pd.ses.keys"
    theme_stop: str = "pd.ses.theme.stop"
    theme_band: str = "pd.ses.theme.band"
    theme_guide: str = "pd.ses.theme.guide"
    theme_trace: str = "pd.ses.theme.trace"


T = SessionTags()


class SessionPanel(Panel):
    title = "Session"
    # set by a demo/test script before the app starts: {"protocol": name, "params": {...}, "hand": skill}
    autostart: dict | None = None

    def __init__(self) -> None:
        self.recording = None  # where the running application is kept (pointdose.records)
        self.runner = None
        self.hand = None
        self.mixer = None
        self.player = None
        self.ctx: PanelContext | None = None
        self.message = ""
        self.shown: list[tuple[float, str, str]] = []  # (host time, phase, band) per frame, for tests
        self._pending_autostart = dict(self.autostart) if self.autostart else None
        from pointdose.app.panels.painprompt import PainPromptView

        self.pain = PainPromptView()  # "pain 0–10" before Start and after the end (records/pain.py)
        self._blinding = False  # this panel hid the readout for a blinded PPT
        self._tab = None
        self.prepared = None  # pointdose.session.precheck.Prepared for the protocol/point/client shown
        self.precheck_error = ""
        self._preview_key = None
        self._preview_at = -1e9
        from pointdose.app.protocol_settings import ProtocolSettings

        self.settings = ProtocolSettings()  # the chosen protocol's parameters as edited (pure, no dpg)
        self._settings_for = None  # the protocol whose fields are on screen

    # ------------------------------------------------------------------ build

    def build(self, ctx: PanelContext) -> None:
        from pointdose.protocols import BUILTINS

        self.ctx = ctx
        self._tab = view.current_tab()
        self._themes()
        with dpg.group(horizontal=True) as row:
            # widths fit the longest entry of each list at 1280 px; the skill combo takes what is left
            dpg.add_combo(list(BUILTINS), default_value="tppr", tag=T.protocol, width=128)
            dpg.add_input_text(tag=T.point, hint="point, or pick one on the Points tab", width=232)
            dpg.add_checkbox(label="self-massage", tag=T.self_massage)
        if view.is_narrow():  # below 1200 px the row would run off the window: Start/Demo on a row of their own
            row = dpg.add_group(horizontal=True)
        dpg.add_button(label="Start", tag=T.start, width=68, callback=lambda: self.start(ask_pain=True), parent=row)
        dpg.add_button(label="Demo", tag=T.demo, width=64, parent=row,
                       callback=lambda: self.start(hand=dpg.get_value(T.skill)))
        dpg.add_combo(SKILLS, default_value="intermediate", tag=T.skill, width=-1 if not view.is_narrow() else 160,
                      parent=row)
        self.pain.build()
        for tag, tip in ((T.protocol, "protocol"),
                         (T.point, "the point picked on the Points tab (with its client) is used; a name typed "
                                   "here is nobody's: no PPT, no screening"),
                         (T.self_massage, "self-massage mode: some regions (anterior neck) are refused"),
                         (T.skill, "the demo's virtual hand: how skilled it presses")):
            with dpg.tooltip(tag):
                dpg.add_text(tip, wrap=420)
        # everything but the action buttons scrolls; Release / Pain / STOP and the rating stay pinned
        # at the bottom, whatever the messages above them and the window's height (720 px and up)
        with dpg.child_window(tag=T.body, height=-PINNED_H, border=False):
            with dpg.collapsing_header(label="Protocol settings", tag=T.settings, default_open=False):
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Reset to defaults", tag=T.settings_reset, callback=lambda: self.reset_settings())
                    dpg.add_text("", tag=T.settings_note, color=view.GREY, wrap=0)
                dpg.add_group(tag=T.settings_rows)
            dpg.add_text("", tag=T.refusal, color=view.RED, wrap=0)
            dpg.add_text("", tag=T.caution, color=view.AMBER, wrap=0)
            with dpg.group(horizontal=True):
                dpg.add_checkbox(label="I have read these cautions (recorded)", tag=T.ack, show=False)
                dpg.add_checkbox(label="start above the PPT ceiling (recorded)", tag=T.confirm, show=False)
                dpg.add_checkbox(label="targets as % of the PPT", tag=T.relative, show=False)
            with dpg.group(horizontal=True, horizontal_spacing=24):
                dpg.add_text("READY", tag=T.phase, color=view.WHITE)
                with dpg.group():
                    dpg.add_text("", tag=T.countdown, color=view.WHITE)
                    dpg.add_text("", tag=T.cycle, color=view.GREY)
            dpg.add_progress_bar(tag=T.progress, default_value=0.0, width=-1, overlay="")
            dpg.add_text("Choose a protocol and press Start (Demo: a virtual hand follows on the simulated device)",
                         tag=T.prompt, color=view.WHITE, wrap=0)  # long prompts wrap at the window edge
            dpg.add_text("", tag=T.band_text, color=view.GREY)
            dpg.add_text("", tag=T.rate_text, color=view.CYAN)
            dpg.add_text("", tag=T.alarm, color=view.RED, wrap=0)
            dpg.add_text("", tag=T.summary, color=view.GREEN, wrap=0, show=False)  # after the run: its numbers
            with dpg.plot(tag=T.plot, width=-1, height=250, no_menus=True, no_box_select=True, no_mouse_pos=True,
                          anti_aliased=False):
                dpg.add_plot_axis(dpg.mvXAxis, label="time (s, 0 = now)", tag=T.x_axis)
                dpg.add_plot_axis(dpg.mvYAxis, label="pressure (kPa)", tag=T.y_axis)
                dpg.add_shade_series([], [], y2=[], parent=T.y_axis, tag=T.band, label="target band")
                dpg.add_line_series([], [], parent=T.y_axis, tag=T.guide, label="rate guide")
                dpg.add_line_series([], [], parent=T.y_axis, tag=T.guide_lo)
                dpg.add_line_series([], [], parent=T.y_axis, tag=T.guide_hi)
                dpg.add_line_series([], [], parent=T.y_axis, tag=T.trace, label="pressure")
            dpg.set_axis_limits(T.x_axis, -TRACE_S, 0.0)
            dpg.bind_item_theme(T.band, T.theme_band)
            for tag in (T.guide, T.guide_lo, T.guide_hi):
                dpg.bind_item_theme(tag, T.theme_guide)
            dpg.bind_item_theme(T.trace, T.theme_trace)
            with dpg.group(horizontal=True):
                dpg.add_text("R release · P pain · 0–9 rating (T = 10) · Space/Esc STOP", color=view.GREY)
                dpg.add_checkbox(label="Mute", tag=T.mute, callback=lambda s, a: self.mixer and self.mixer.set_muted(a))
                self.pain.build_checkbox()  # "ask pain" before Start / after the end
                dpg.add_slider_float(tag=T.volume, default_value=0.8, min_value=0.0, max_value=1.0, width=150,
                                     format="volume %.1f", callback=lambda s, a: self.mixer and self.mixer.set_volume(a))
            dpg.add_text("", tag=T.audio, color=view.GREY, wrap=0)
            with dpg.tooltip(T.audio, tag=T.audio_tip, show=False):
                dpg.add_text("", tag=T.audio_full, wrap=600)
            with dpg.collapsing_header(label="What the sounds mean", tag=T.legend, default_open=False):
                from pointdose.cues import legend

                dpg.add_text(view._text("\n".join(legend())), color=view.GREY, wrap=0)
        with dpg.group(horizontal=True):
            dpg.add_button(label="Release felt (R)", tag=T.release, width=170, height=44,
                           callback=lambda: self.signal("release"))
            dpg.add_button(label="Pain now (P)", tag=T.pain, width=150, height=44, callback=lambda: self.signal("pain"))
            dpg.add_button(label="STOP (Space)", tag=T.stop, width=220, height=44, callback=lambda: self.stop("STOP button"))
        dpg.bind_item_theme(T.stop, T.theme_stop)
        with dpg.group(horizontal=True, tag=T.rating):
            dpg.add_text("Pain 0–10:")
            for n in range(11):
                dpg.add_button(label=str(n), width=34, callback=lambda s, a, u: self.signal("rating", u), user_data=n)
        if dpg.does_item_exist(view.TAGS.font_medium):
            for tag in (T.countdown, T.prompt, T.alarm):
                dpg.bind_item_font(tag, view.TAGS.font_medium)
        if dpg.does_item_exist(view.TAGS.font_big_narrow):
            dpg.bind_item_font(T.phase, view.TAGS.font_big_narrow)
        with dpg.handler_registry(tag=T.keys):
            dpg.add_key_press_handler(dpg.mvKey_R, callback=lambda: self._key(lambda: self.signal("release")))
            dpg.add_key_press_handler(dpg.mvKey_P, callback=lambda: self._key(lambda: self.signal("pain")))
            dpg.add_key_press_handler(dpg.mvKey_T, callback=lambda: self._key(lambda: self.signal("rating", 10)))
            dpg.add_key_press_handler(dpg.mvKey_Spacebar, callback=lambda: self._key(lambda: self.stop("STOP key")))
            dpg.add_key_press_handler(dpg.mvKey_Escape, callback=lambda: self.stop("STOP key (Esc)"))
            for n in range(10):
                dpg.add_key_press_handler(getattr(dpg, f"mvKey_{n}"),
                                          callback=lambda s, a, u: self._key(lambda: self.signal("rating", u)),
                                          user_data=n)

    def _themes(self) -> None:
        with dpg.theme(tag=T.theme_stop):
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, (190, 40, 40, 255))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (220, 60, 60, 255))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonActive, (240, 80, 80, 255))
        with dpg.theme(tag=T.theme_band):
            with dpg.theme_component(dpg.mvShadeSeries):
                dpg.add_theme_color(dpg.mvPlotCol_Fill, (*view.GREEN, 70), category=dpg.mvThemeCat_Plots)
                dpg.add_theme_color(dpg.mvPlotCol_Line, (*view.GREEN, 160), category=dpg.mvThemeCat_Plots)
        with dpg.theme(tag=T.theme_guide):
            with dpg.theme_component(dpg.mvLineSeries):
                dpg.add_theme_color(dpg.mvPlotCol_Line, (*view.AMBER, 220), category=dpg.mvThemeCat_Plots)
        with dpg.theme(tag=T.theme_trace):
            with dpg.theme_component(dpg.mvLineSeries):
                dpg.add_theme_color(dpg.mvPlotCol_Line, (*view.CYAN, 255), category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 2.0, category=dpg.mvThemeCat_Plots)

    def _show_audio(self, message: str) -> None:
        """One short line under the buttons; the whole message (what to install, the error) as a tooltip."""
        short = message
        if message.startswith("audio unavailable"):
            short = "no sound cues: audio unavailable (hover for how to fix)"
            if "libportaudio2" in message:
                short = "no sound cues: install libportaudio2 (hover for details)"
        dpg.set_value(T.audio, view._text(short))
        dpg.set_value(T.audio_full, view._text(message))
        dpg.configure_item(T.audio_tip, show=short != message)

    def _key(self, action) -> None:
        if _typing():  # a digit typed into a box (a point name, a setting, a folder, a note) is not a rating
            return
        action()

    # ------------------------------------------------------------------ protocol settings (pointdose.app.protocol_settings)

    def show_settings(self, name: str) -> None:
        """One row per parameter of ``name``: entry, allowed range, what it is and its source, the error."""
        self._settings_for = name
        dpg.delete_item(T.settings_rows, children_only=True)
        if not self.settings.editable(name):
            dpg.add_text("a protocol file: edit the file itself", parent=T.settings_rows, color=view.GREY)
            self._settings_note(name)
            return
        with dpg.table(parent=T.settings_rows, header_row=True, policy=dpg.mvTable_SizingFixedFit,
                       borders_innerH=True, borders_outerH=True):
            dpg.add_table_column(label="setting", width_fixed=True, init_width_or_weight=150)
            dpg.add_table_column(label="value", width_fixed=True, init_width_or_weight=110)
            dpg.add_table_column(label="allowed · what it is · source", width_stretch=True)
            for f in self.settings.fields(name):
                with dpg.table_row():
                    dpg.add_text(f.key, tag=_setting_tag(name, f.key, "key"), color=view.CYAN if f.changed else view.WHITE)
                    if f.kind == "bool":
                        dpg.add_checkbox(tag=_setting_tag(name, f.key), default_value=f.text == "yes",
                                         callback=self._on_setting, user_data=(name, f.key))
                    else:
                        dpg.add_input_text(tag=_setting_tag(name, f.key), default_value=f.text, width=-1,
                                           callback=self._on_setting, user_data=(name, f.key))
                    with dpg.group():
                        dpg.add_text(view._text(f.error), tag=_setting_tag(name, f.key, "error"), color=view.RED,
                                     wrap=0, show=bool(f.error))
                        dpg.add_text(view._text(f"{f.range} · {f.about} (default {f.default})"), color=view.GREY,
                                     wrap=0)
        self._settings_note(name)

    def _settings_note(self, name: str) -> None:
        summary = self.settings.summary(name)
        dpg.configure_item(T.settings, label=view._text(f"Protocol settings — {name}: {summary}"))
        dpg.set_value(T.settings_note, "applies at the next Start; every entry is checked against its range")

    def _on_setting(self, sender=None, app_data=None, user_data=None) -> None:
        name, key = user_data
        self.enter_setting(name, key, app_data)

    def enter_setting(self, name: str, key: str, value) -> str:
        """Check one entry (pointdose.protocols.values through the built-in) and show its error inline."""
        error = self.settings.enter(name, key, value)
        if dpg.does_item_exist(_setting_tag(name, key, "error")):
            dpg.set_value(_setting_tag(name, key, "error"), view._text(error))
            dpg.configure_item(_setting_tag(name, key, "error"), show=bool(error))
            changed = self.settings.field(name, key).changed
            dpg.configure_item(_setting_tag(name, key, "key"), color=view.CYAN if changed else view.WHITE)
        if dpg.does_item_exist(_setting_tag(name, key)) and not isinstance(value, bool) \
                and dpg.get_value(_setting_tag(name, key)) != str(value):
            dpg.set_value(_setting_tag(name, key), str(value))
        self._settings_note(name)
        self._preview_key = None  # the preview (cautions, refusals) is read again with the new value
        return error

    def reset_settings(self) -> None:
        name = dpg.get_value(T.protocol)
        self.settings.reset(name)
        self.show_settings(name)
        self._preview_key = None

    # ------------------------------------------------------------------ inputs

    def start(self, hand: str | None = None, protocol: str | None = None, params: dict | None = None,
              ask_pain: bool = False) -> None:
        """``ask_pain`` (the Start button): ask "pain 0–10" first when the box is ticked; the start waits."""
        from pointdose.cues import CueMixer, SoundPlayer
        from pointdose.errors import UserError
        from pointdose.protocols import BUILTINS, resolve

        ctx = self.ctx
        link = ctx.controller.link if ctx else None
        if link is None:
            self.message = "No device yet: wait for the connection"
            return
        if self.runner is not None and not self.runner.done.is_set():
            self.message = "A session is running: STOP it first"
            return
        self.pain.settle()  # an unanswered "pain after" goes unrated before its recording closes
        self._close_session()
        status = ctx.controller.status()
        if hand and not getattr(status, "simulated", False):
            self.message = "The demo's virtual hand drives the simulated device only"
            return
        if ask_pain and self.pain.wanted():
            self.pain.ask_before(lambda: self.start(hand, protocol, params))
            return
        name = protocol or dpg.get_value(T.protocol)
        area = ctx.model.settings.probe_area_cm2
        point_name = dpg.get_value(T.point).strip()
        try:
            if params is None:  # the Start button: the settings as edited (refused while an entry is wrong)
                proto = self.settings.protocol(name)
                rebuild = lambda offers: self.settings.protocol(name, **offers)  # noqa: E731
            else:  # a demo/test script's own parameters
                proto = resolve(name, **params)
                rebuild = lambda offers: resolve(name, **{**params, **offers})  # noqa: E731
            pre = self._precheck(proto, point_name, area, rebuild=rebuild)
            from pointdose.app.workflow import check_start, open_application  # the workflow, no dpg

            acknowledged, confirmed = check_start(pre, acknowledged=dpg.get_value(T.ack),
                                                  confirmed=dpg.get_value(T.confirm))
            self.mixer = CueMixer(volume=dpg.get_value(T.volume), muted=dpg.get_value(T.mute))
            app = open_application(ctx.controller, ctx.model, pre, acknowledged=acknowledged, confirmed=confirmed,
                                   mixer=self.mixer, pain_before=self.pain.take_before().get("pain_before"))
            self.recording, self.runner = app.recording, app.runner
        except UserError as exc:
            self._close_recording()
            self.message = str(exc)
            return
        ctx.controller.stop_sim_demo()  # the app's demo presses would fight the session
        self.player = SoundPlayer(self.mixer)
        self._show_audio("sound on" if self.player.available else self.player.message)
        # while it runs: one short line (the STOP button must stay on screen), the full text is in the records
        summary = pre.summary()
        lines = ([summary] if summary else []) + ([self.recording.where] if self.recording else [])
        dpg.set_value(T.caution, view._text("\n".join(lines)))
        _text(T.refusal, "")
        for tag in (T.ack, T.confirm, T.relative):
            dpg.set_value(tag, False)
            dpg.configure_item(tag, show=False)
        self.message = ""
        if dpg.get_value(T.protocol) != proto.name and proto.name in BUILTINS:
            dpg.set_value(T.protocol, proto.name)
        self.runner.start()
        self.pain.arm(self.runner, self.recording)  # asks after the end only when it asked before the start
        if hand:
            self.hand = app.start_hand(hand, probe_area_cm2=area)

    # ------------------------------------------------------------------ start checks (pointdose.session.precheck)

    def _precheck(self, proto, point_name: str, area: float, rebuild=None):
        """The one start decision (the same as ``pointdose session``'s): the client's own PPT, the picked
        location's cautions, the client's screening."""
        from pointdose.records import selection
        from pointdose.session.precheck import prepare_for_selection

        return prepare_for_selection(proto, selection.current(), point_name=point_name, probe_area_cm2=area,
                                     self_massage=bool(dpg.get_value(T.self_massage)),
                                     relative_defaults=bool(dpg.get_value(T.relative)), rebuild=rebuild)

    def _preview(self, ctx: PanelContext) -> None:
        """Before Start: show what applies (cautions, PPT, refusals) and the boxes it needs."""
        from pointdose.errors import UserError
        from pointdose.records import selection

        sel = selection.current()
        key = (dpg.get_value(T.protocol), dpg.get_value(T.point).strip(), sel.client_id, sel.point_id, sel.session_id,
               ctx.model.settings.probe_area_cm2, dpg.get_value(T.self_massage), dpg.get_value(T.relative))
        if key == self._preview_key and ctx.now_s - self._preview_at < PREVIEW_S:
            return
        if key[:6] != (self._preview_key or ())[:6]:  # another point or protocol: earlier boxes lapse
            for tag in (T.ack, T.confirm, T.relative):
                dpg.set_value(tag, False)
            key = key[:6] + (key[6], False)
        self._preview_key, self._preview_at = key, ctx.now_s
        refusals, lines = [], []
        try:
            proto = self.settings.protocol(key[0])  # as edited in the protocol settings
            self.prepared = self._precheck(proto, key[1], key[5],
                                           rebuild=lambda offers: self.settings.protocol(key[0], **offers))
            self.precheck_error = ""
            d = self.prepared.decision
            refusals = [f"REFUSED — {f.text}" for f in d.refusals]
            lines = [ln for ln in self.prepared.lines(how_to_accept="(tick 'targets as % of the PPT')")
                     if not ln.startswith("REFUSED")]
        except UserError as exc:
            self.prepared, self.precheck_error = None, str(exc)
            refusals = [f"NOT POSSIBLE — {exc}"]
        who = (f"client {sel.client_code}, {sel.point_label}" if sel.ready else
               "no client chosen (pick a point on the Points tab): no PPT and no screening are known")
        _text(T.refusal, view._text("\n".join(refusals)))
        dpg.set_value(T.caution, view._text("\n".join([who] + lines)))
        pre = self.prepared
        ok = pre is not None and not refusals
        dpg.configure_item(T.ack, show=bool(ok and pre.needs_ack))
        dpg.configure_item(T.confirm, show=bool(ok and pre.needs_confirm))
        dpg.configure_item(T.relative, show=bool(pre is not None and (pre.offers or dpg.get_value(T.relative))))

    def signal(self, kind: str, value=None) -> None:
        if self.runner is not None and not self.runner.ended.is_set():
            self.runner.signal(kind, value, source="app")

    def stop(self, reason: str) -> None:
        if self.runner is not None and not self.runner.ended.is_set():
            self.runner.stop(reason, source="app")
        if self.hand is not None:
            self.hand.stop()
            self.hand = None

    # ------------------------------------------------------------------ per frame

    def update(self, ctx: PanelContext) -> None:
        self.ctx = ctx
        self.pain.update()
        if dpg.get_value(T.protocol) != self._settings_for:
            self.show_settings(dpg.get_value(T.protocol))
        if self._pending_autostart and ctx.controller.link is not None and ctx.frame is not None \
                and getattr(ctx.frame, "streaming", True):
            spec, self._pending_autostart = self._pending_autostart, None
            if self._tab is not None:
                dpg.set_value(view.TAGS.tabs, self._tab)
            self.start(hand=spec.get("hand"), protocol=spec.get("protocol"), params=spec.get("params"))
        runner = self.runner
        running = runner is not None and not runner.ended.is_set()
        view.show_session_stop((lambda: self.stop("STOP button (left column)")) if running else None)
        if runner is None or runner.done.is_set():
            self._preview(ctx)
        _text(T.caution, dpg.get_value(T.caution))
        if runner is None:
            _text(T.alarm, self.message)
            return
        cue = runner.cue
        self.shown.append((ctx.now_s, cue.phase, cue.band))
        unit = ctx.model.settings.unit
        area = runner.point.probe_area_cm2
        sym = units.unit(unit).symbol

        def disp(kpa):
            return units.convert(kpa, "kPa", unit, area)

        # a blinded PPT: no pressure number anywhere until it ends (the rate guide and trace shape stay)
        blind = bool(getattr(cue, "blinded", False)) and not cue.finished and not runner.done.is_set()
        if blind or self._blinding:
            ctx.model.hidden_note = "blinded PPT"
            ctx.model.feedback_visible = not blind
            self._blinding = blind

        def fmt(kpa):
            if blind and kpa is not None:
                return "(blinded)"
            return "—" if kpa is None else f"{units.format_value(disp(kpa), unit)} {sym}"

        alarm = cue.phase == "alarm" or bool(cue.alarm)
        colour = view.RED if alarm else BAND_COLOURS.get(cue.band, view.WHITE)
        if cue.phase in ("done", "stopped"):
            colour = view.GREY
        title = {"done": "DONE", "stopped": "STOPPED", "alarm": "ALARM"}.get(cue.phase, (cue.label or cue.phase).upper())
        dpg.set_value(T.phase, title)
        dpg.configure_item(T.phase, color=colour)
        if cue.time_left_s is not None and not cue.finished:
            left = math.ceil(cue.time_left_s)
            dpg.set_value(T.countdown, f"up to {left:.0f} s more" if cue.time_left_is_max else f"{left:.0f} s left")
        else:
            dpg.set_value(T.countdown, "")
        step = f" · step {cue.step}/{cue.steps}" if cue.steps else ""
        dpg.set_value(T.cycle, f"{runner.protocol.title}\ncycle {cue.cycle} of {cue.cycles} · phase {cue.phase_index} "
                               f"of {cue.phases_in_cycle}{step}" if cue.cycle else runner.protocol.title)
        dpg.set_value(T.progress, cue.progress)
        dpg.configure_item(T.progress, overlay=f"{cue.progress * 100:.0f} % of the protocol")
        words = RATE_WORDS if cue.waiting_for == "pain" else BAND_WORDS
        state = words.get(cue.band, "") if not cue.finished else ""
        dpg.set_value(T.prompt, f"{state + ' — ' if state else ''}{cue.prompt}")
        dpg.configure_item(T.prompt, color=colour)
        if cue.band_lo_kpa is not None and not cue.finished:
            dev = f" · {'below' if cue.deviation_kpa < 0 else 'above'} by {fmt(abs(cue.deviation_kpa))}" \
                if cue.band in ("below", "above") else ""
            dpg.set_value(T.band_text, f"target band {fmt(cue.band_lo_kpa)} – {fmt(cue.band_hi_kpa)} · "
                                       f"now {fmt(cue.pressure_kpa)}{dev}")
        else:
            dpg.set_value(T.band_text, f"now {fmt(cue.pressure_kpa)}" if cue.pressure_kpa is not None else "")
        if cue.rate_target_kpa_s is not None and not cue.finished:
            est = "—" if cue.rate_kpa_s is None else f"{cue.rate_kpa_s:.0f}"
            _text(T.rate_text, f"rate {est} kPa/s · guide {cue.rate_target_kpa_s:.0f} kPa/s "
                                       f"(band {cue.rate_lo_kpa_s:.0f} – {cue.rate_hi_kpa_s:.0f} kPa/s)")
        else:
            _text(T.rate_text, "")
        extra = [cue.alarm or (runner.end_reason if alarm else ""), self.message]
        if runner.ppt_saved is not None:
            p = runner.ppt_saved
            sd = f" ± {fmt(p.sd_kpa)}" if p.sd_kpa is not None else ""
            extra.append(f"PPT {fmt(p.kpa)}{sd} (n={p.n}) saved for {runner.point.name!r}, valid with a {area:g} cm² probe")
        elif runner.summary.get("ppt") and runner.summary["ppt"].get("mean_kpa") is not None:
            p = runner.summary["ppt"]
            what = "tolerance" if p.get("measure") == "tolerance" else "PPT"
            why = ("a tolerance is not saved as a PPT" if what == "tolerance" else
                   "a trial was censored" if p.get("censored") else "incomplete or no point name")
            extra.append(f"{what} mean {fmt(p['mean_kpa'])} over {p['n']}/{p['planned']} trials (not saved: {why})")
        ppt = runner.summary.get("ppt") if runner.done.is_set() else None
        if ppt and ppt.get("all_trials"):  # each trial's measured rate, and why any was not counted
            rates = ", ".join("—" if t.get("rate_kpa_s") is None else f"{t['rate_kpa_s']:.0f}" for t in ppt["all_trials"])
            notes = [f"{ppt['invalid']} off the rate band (not counted)"] if ppt.get("invalid") else []
            if ppt.get("censored"):
                notes.append(f"censored: above {fmt(ppt.get('ceiling_kpa'))}")
            extra.append(f"· measured rates {rates} kPa/s" + (f"; {'; '.join(notes)}" if notes else ""))
        _text(T.alarm, "  ".join(x for x in extra if x))
        dpg.configure_item(T.alarm, color=view.RED if alarm else view.AMBER)
        done = runner.done.is_set()
        _text(T.summary, view._text("\n".join(run_summary_lines(runner.summary, runner.end_reason))) if done else "")
        self._plot(ctx, runner, cue, disp, unit, sym)

    def _plot(self, ctx, runner, cue, disp, unit, sym) -> None:
        rows = runner.link.ring.window(TRACE_S)
        if len(rows) == 0:
            return
        now = rows["t_dev_s"][-1]
        step = max(1, len(rows) // 1500)
        rows = rows[::step]
        x = rows["t_dev_s"] - now
        kpa = units.pressure_kpa(runner.conv.force_n(rows["raw"]), runner.point.probe_area_cm2)
        y = disp(kpa)
        dpg.set_value(T.trace, [x.tolist(), np.asarray(y).tolist()])
        top = float(np.max(y)) if len(y) else 0.0
        if cue.band_lo_kpa is not None and not cue.finished:
            lo, hi = disp(cue.band_lo_kpa), disp(cue.band_hi_kpa)
            dpg.set_value(T.band, [[-TRACE_S, 0.0], [hi, hi], [lo, lo], [], []])
            top = max(top, hi)
        else:
            dpg.set_value(T.band, [[], [], [], [], []])
        if cue.guide_t0_s is not None and cue.rate_target_kpa_s is not None and not cue.finished:
            t0 = cue.guide_t0_s - now
            gx = [max(t0, -TRACE_S), 0.0]
            lines = ((T.guide, cue.rate_target_kpa_s), (T.guide_lo, cue.rate_lo_kpa_s), (T.guide_hi, cue.rate_hi_kpa_s))
            for tag, rate in lines:
                gy = [disp(max(0.0, cue.guide_p0_kpa + rate * (xx - t0))) for xx in gx]
                dpg.set_value(tag, [gx, gy])
                top = max(top, gy[-1])
        else:
            for tag in (T.guide, T.guide_lo, T.guide_hi):
                dpg.set_value(tag, [[], []])
        dpg.set_axis_limits(T.y_axis, min(0.0, float(np.min(y))), max(top * 1.15, disp(50.0)))
        blind = bool(getattr(cue, "blinded", False)) and not cue.finished
        dpg.configure_item(T.y_axis, label="pressure (blinded)" if blind else f"pressure ({sym})", no_tick_labels=blind)

    # ------------------------------------------------------------------ end

    def _close_session(self) -> None:
        if self.hand is not None:
            self.hand.stop()
            self.hand = None
        if self.runner is not None:
            self.runner.close()
        if self.player is not None:
            self.player.close()
            self.player = None
        self._close_recording()

    def _close_recording(self) -> None:
        recording, self.recording = self.recording, None
        if recording is not None:
            recording.close()

    def close(self) -> None:
        self._close_session()


_TYPED_INTO = ("mvInputText", "mvInputFloat", "mvInputInt", "mvInputDouble")


def _typing() -> bool:
    """True while any text or number box of any tab has the keyboard (read only when a key is pressed)."""
    return any(dpg.get_item_type(item).endswith(_TYPED_INTO) and dpg.is_item_active(item)
               for item in dpg.get_all_items())


def _setting_tag(protocol: str, key: str, part: str = "entry") -> str:
    return f"pd.ses.set.{protocol}.{key}.{part}"


def _text(tag: str, value: str) -> None:
    """Set a text and hide it while empty, so empty lines take no room."""
    dpg.set_value(tag, value)
    dpg.configure_item(tag, show=bool(value))
