"""The only module that imports DearPyGui: builds the window and shows FrameViews.

Everything here runs on the main (render) thread. ``setup`` builds the window; the render loop
in :mod:`pointdose.app.main` calls ``show_frame`` then ``render`` once per frame. Button and
widget callbacks (``on_*``) only forward to the :class:`Callbacks` they were given; they never
do I/O themselves.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import dearpygui.dearpygui as dpg

from pointdose import units
from pointdose.app.model import FrameView, fit_width
from pointdose.errors import UserError


@dataclass(frozen=True)
class Tags:
    tabs: str = "pd.tabs"
    window: str = "pd.window"
    sim_panel: str = "pd.sim.panel"
    sim_text: str = "pd.sim.text"
    readout: str = "pd.readout"
    readout_caption: str = "pd.readout.caption"
    readout_unit: str = "pd.readout.unit"
    readout_unit_spacer: str = "pd.readout.unit.spacer"
    readout_note: str = "pd.readout.note"
    tare_button: str = "pd.btn.tare"
    start_button: str = "pd.btn.start"
    stop_button: str = "pd.btn.stop"
    session_stop: str = "pd.btn.session_stop"
    unit_combo: str = "pd.unit"
    area_input: str = "pd.area"
    state_text: str = "pd.state"
    status_table: str = "pd.status"
    status_labels: str = "pd.status.labels"
    status_values: str = "pd.status.values"
    plot: str = "pd.plot"
    x_axis: str = "pd.plot.x"
    y_axis: str = "pd.plot.y"
    series: str = "pd.plot.series"
    font_default: str = "pd.font.default"
    font_medium: str = "pd.font.medium"
    font_big: str = "pd.font.big"
    font_big_narrow: str = "pd.font.big.narrow"
    theme_trace: str = "pd.theme.trace"
    theme_sim: str = "pd.theme.sim"
    theme_disabled: str = "pd.theme.disabled"
    theme_stop: str = "pd.theme.stop"


TAGS = Tags()

# Colours on DearPyGui's dark background (~#252526); all pass WCAG AA contrast for large text.
WHITE = (240, 240, 240)
GREY = (150, 150, 150)
GREEN = (110, 220, 120)
AMBER = (255, 190, 40)
RED = (255, 110, 100)
CYAN = (70, 200, 255)
LEVEL_COLOURS = {"ok": GREEN, "busy": AMBER, "warn": AMBER, "error": RED,
                 "live": WHITE, "stale": GREY, "none": GREY}

FONT_SIZE = 18
FONT_MEDIUM = 30
FONT_BIG = 104
FONT_BIG_NARROW = 72  # for readouts longer than BIG_MAX_CHARS (raw counts reach 7 digits and a sign)
BIG_MAX_CHARS = 6
LEFT_WIDTH = 430
LEFT_WIDTH_NARROW = 360  # windows narrower than NARROW_BELOW: the tabs keep >= 640 px
NARROW_BELOW = 1200
_left_width = LEFT_WIDTH
_narrow = False
_window_size = (1280, 800)

FONT_CANDIDATES = (
    "DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf",
    "segoeui.ttf", "Helvetica.ttc",
)
FONT_DIRS = (
    "/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"),
    "/Library/Fonts", "/System/Library/Fonts", "C:/Windows/Fonts",
)


@dataclass
class Callbacks:
    on_unit: Callable[[str], None]
    on_area: Callable[[float], None]
    on_tare: Callable[[], None]
    on_start: Callable[[], None]
    on_stop: Callable[[], None]


_callbacks: Callbacks | None = None
_session_stop: Callable[[], None] | None = None  # what the left column's STOP does while a session runs
_building_tab: int | str | None = None  # the tab whose panel is being built (see current_tab)
_shown: dict[str, object] = {}  # last value given to each item: skip set_value when unchanged
_have_ttf = False


# ----------------------------------------------------------------------------- set-up


def check_display() -> None:
    """Raise UserError when there is no display to open a window on."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display: run under xvfb-run (e.g. xvfb-run -a pointdose app) or set DISPLAY")


def find_font() -> str | None:
    """A TTF with Latin-1 glyphs (for ² and ·): one shipped with dearpygui, else a system font."""
    search = [Path(dpg.__file__).parent]
    search += [Path(d) for d in FONT_DIRS]
    for folder in search:
        if not folder.is_dir():
            continue
        for name in FONT_CANDIDATES:
            direct = folder / name
            if direct.is_file():
                return str(direct)
            for hit in folder.rglob(name):
                return str(hit)
    return None


def _load_fonts() -> None:
    global _have_ttf
    path = find_font()
    if path is None:
        # DearPyGui's built-in font is small and ASCII only: scale it up and keep labels ASCII
        dpg.set_global_font_scale(1.25)
        return
    try:
        with dpg.font_registry():
            dpg.add_font(path, FONT_SIZE, tag=TAGS.font_default)
            dpg.add_font(path, FONT_MEDIUM, tag=TAGS.font_medium)
            dpg.add_font(path, FONT_BIG, tag=TAGS.font_big)
            dpg.add_font(path, FONT_BIG_NARROW, tag=TAGS.font_big_narrow)
        dpg.bind_font(TAGS.font_default)
        _have_ttf = True
    except Exception:  # a broken font file must not stop the app
        _have_ttf = False
        dpg.set_global_font_scale(1.25)


def _unit_drop(font_px: int) -> int:
    """Spacer above the unit so it sits on the readout's baseline (groups align their tops)."""
    return int(font_px * 0.76) - FONT_MEDIUM + 4 if _have_ttf else 0


def _symbol(key: str) -> str:
    u = units.unit(key)
    return u.symbol if _have_ttf else u.key


def _text(text: str) -> str:
    return text if _have_ttf else text.replace("—", "-").replace("…", "...").replace("·", "|").replace("²", "2")


def _themes() -> None:
    with dpg.theme(tag=TAGS.theme_trace):
        with dpg.theme_component(dpg.mvLineSeries):
            dpg.add_theme_color(dpg.mvPlotCol_Line, (*CYAN, 255), category=dpg.mvThemeCat_Plots)
            dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 2.0, category=dpg.mvThemeCat_Plots)
    with dpg.theme(tag=TAGS.theme_sim):
        with dpg.theme_component(dpg.mvChildWindow):
            dpg.add_theme_color(dpg.mvThemeCol_ChildBg, (90, 60, 0, 255))
            dpg.add_theme_color(dpg.mvThemeCol_Border, (*AMBER, 255))
            dpg.add_theme_style(dpg.mvStyleVar_ChildBorderSize, 2)
    with dpg.theme(tag=TAGS.theme_stop):
        with dpg.theme_component(dpg.mvButton):
            dpg.add_theme_color(dpg.mvThemeCol_Button, (190, 40, 40, 255))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (220, 60, 60, 255))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonActive, (240, 80, 80, 255))
    with dpg.theme(tag=TAGS.theme_disabled):
        with dpg.theme_component(dpg.mvButton, enabled_state=False):
            dpg.add_theme_color(dpg.mvThemeCol_Text, (110, 110, 110, 255))
            dpg.add_theme_color(dpg.mvThemeCol_Button, (45, 45, 48, 255))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (45, 45, 48, 255))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonActive, (45, 45, 48, 255))
        with dpg.theme_component(dpg.mvCombo, enabled_state=False):
            dpg.add_theme_color(dpg.mvThemeCol_Text, (110, 110, 110, 255))
    with dpg.theme() as global_theme:
        with dpg.theme_component(dpg.mvAll):
            dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 4)
            dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 8, 6)
            dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, 8, 8)
    dpg.bind_theme(global_theme)


def _build_left(unit: str, probe_area_cm2: float) -> None:
    # scrolls when the window is short (768 px and less): the readout and Tare/Start/Stop stay on top
    lw = _left_width
    button_w = (lw - 28) // 3
    with dpg.child_window(width=lw, border=False):
        with dpg.child_window(tag=TAGS.sim_panel, height=84 if not _narrow else 108, show=False, no_scrollbar=True):
            title = dpg.add_text(_text("SIMULATED DEVICE"), color=AMBER)
            dpg.add_text("", tag=TAGS.sim_text, color=WHITE, wrap=lw - 30)
            if _have_ttf:
                dpg.bind_item_font(title, TAGS.font_medium)
        dpg.bind_item_theme(TAGS.sim_panel, TAGS.theme_sim)

        dpg.add_text("Pressure now", tag=TAGS.readout_caption, color=GREY)
        with dpg.group(horizontal=True, horizontal_spacing=14):
            if _have_ttf:
                dpg.add_text("—", tag=TAGS.readout, color=WHITE)
            else:  # the built-in font is 13 px: draw_text scales it to readout size
                with dpg.drawlist(width=300, height=FONT_BIG_NARROW):
                    dpg.draw_text((0, 0), "-", size=FONT_BIG_NARROW, color=WHITE, tag=TAGS.readout)
            with dpg.group():
                # push the unit down to the number's baseline (groups align their tops)
                dpg.add_spacer(tag=TAGS.readout_unit_spacer, height=_unit_drop(FONT_BIG))
                dpg.add_text("", tag=TAGS.readout_unit, color=WHITE)
        dpg.add_text("", tag=TAGS.readout_note, color=AMBER)
        # while a session runs, its STOP here too: on screen whatever tab is open (the column's top part)
        dpg.add_button(label="STOP session (Space)", tag=TAGS.session_stop, width=-1, height=44, show=False,
                       callback=on_session_stop)
        dpg.bind_item_theme(TAGS.session_stop, TAGS.theme_stop)
        if _have_ttf:
            dpg.bind_item_font(TAGS.readout, TAGS.font_big)
            dpg.bind_item_font(TAGS.readout_unit, TAGS.font_medium)
            dpg.bind_item_font(TAGS.readout_note, TAGS.font_medium)

        with dpg.group(horizontal=True):
            dpg.add_button(label="Tare", tag=TAGS.tare_button, width=button_w, height=44, callback=on_tare)
            dpg.add_button(label="Start", tag=TAGS.start_button, width=button_w, height=44, callback=on_start)
            dpg.add_button(label="Stop", tag=TAGS.stop_button, width=button_w, height=44, callback=on_stop)
        for tag in (TAGS.tare_button, TAGS.start_button, TAGS.stop_button):
            dpg.bind_item_theme(tag, TAGS.theme_disabled)
            dpg.disable_item(tag)
        with dpg.group(horizontal=True):
            dpg.add_text("Unit")
            dpg.add_combo([_symbol(k) for k in units.UNITS], default_value=_symbol(unit),
                          tag=TAGS.unit_combo, width=130, callback=on_unit)
            dpg.bind_item_theme(TAGS.unit_combo, TAGS.theme_disabled)
            dpg.add_text(_text("Probe (cm²)"))
            dpg.add_input_float(tag=TAGS.area_input, default_value=probe_area_cm2, width=-1,
                                min_value=0.05, min_clamped=True, step=0, format="%.2f",
                                on_enter=True, callback=on_area)
        dpg.add_separator()
        dpg.add_text("", tag=TAGS.state_text, color=AMBER, wrap=lw - 20)
        if _have_ttf:
            dpg.bind_item_font(TAGS.state_text, TAGS.font_medium)
        # two multi-line texts side by side: compact, and two set_value calls per frame at most
        with dpg.group(tag=TAGS.status_table, horizontal=True, horizontal_spacing=16):
            dpg.add_text("", tag=TAGS.status_labels, color=GREY)
            dpg.add_text("", tag=TAGS.status_values, color=WHITE)


def _build_plot() -> None:
    with dpg.plot(tag=TAGS.plot, width=-1, height=-1, no_menus=True, no_box_select=True, no_mouse_pos=True,
                  anti_aliased=False):
        dpg.add_plot_axis(dpg.mvXAxis, label="time (s, 0 = now)", tag=TAGS.x_axis)
        dpg.add_plot_axis(dpg.mvYAxis, label="", tag=TAGS.y_axis)
        dpg.add_line_series([], [], parent=TAGS.y_axis, tag=TAGS.series)
    dpg.bind_item_theme(TAGS.series, TAGS.theme_trace)
    dpg.set_axis_limits(TAGS.x_axis, -30.0, 0.0)


def setup(callbacks: Callbacks, *, title: str = "pointdose — live pressure", width: int = 1280, height: int = 800,
          vsync: bool = True, unit: str = units.DEFAULT_UNIT,
          probe_area_cm2: float = units.DEFAULT_PROBE_AREA_CM2, panels=(), panel_context=None) -> None:
    """Create the context, fonts, themes, window and viewport; raises UserError without a display."""
    global _callbacks, _building_tab, _left_width, _narrow, _window_size
    check_display()
    _window_size = (width, height)
    _narrow = width < NARROW_BELOW
    _left_width = LEFT_WIDTH_NARROW if _narrow else LEFT_WIDTH
    _callbacks = callbacks
    _shown.clear()
    dpg.create_context()
    # callbacks run in render(), on this thread, instead of on DearPyGui's own callback thread
    dpg.configure_app(manual_callback_management=True)
    _load_fonts()
    _themes()
    with dpg.window(tag=TAGS.window):
        with dpg.group(horizontal=True):
            _build_left(unit, probe_area_cm2)
            if panels:
                with dpg.tab_bar(tag=TAGS.tabs):
                    with dpg.tab(label="Live"):
                        _build_plot()
                    for panel in panels:
                        with dpg.tab(label=panel.title) as _building_tab:
                            # every tab scrolls, so it stays usable at 1024×768 and 1280×720
                            with dpg.child_window(width=-1, height=-1, border=False):
                                panel.build(panel_context)
                        _building_tab = None
            else:
                _build_plot()
    try:
        dpg.create_viewport(title=_text(title), width=width, height=height, vsync=vsync)
        dpg.setup_dearpygui()
        dpg.show_viewport()
    except Exception as exc:
        dpg.destroy_context()
        raise UserError(f"cannot open a window ({exc}): check DISPLAY, or run under xvfb-run") from exc
    dpg.set_primary_window(TAGS.window, True)


def left_width() -> int:
    """The left column's width (narrower in narrow windows)."""
    return _left_width


def window_size() -> tuple[int, int]:
    """The (width, height) the window was opened at, known while panels build."""
    return _window_size


def is_narrow() -> bool:
    """True when the window is narrower than NARROW_BELOW px: panels reflow their rows."""
    return _narrow


def current_tab():
    """The tab item a panel's ``build`` is filling (its content sits in a scrolling child window)."""
    return _building_tab


def teardown() -> None:
    dpg.destroy_context()


def is_running() -> bool:
    return dpg.is_dearpygui_running()


def render() -> None:
    """Run queued widget callbacks, then draw and present one frame."""
    dpg.run_callbacks(dpg.get_callback_queue())
    dpg.render_dearpygui_frame()


def stop() -> None:
    dpg.stop_dearpygui()


def request_screenshot(path: str) -> None:
    """Ask for a PNG of the next frames (DearPyGui writes it a few frames later)."""
    dpg.output_frame_buffer(file=str(path))


def plot_columns() -> int:
    """Pixel columns of the plot's drawing area (what decimation should aim for)."""
    width = dpg.get_item_rect_size(TAGS.plot)[0] if dpg.does_item_exist(TAGS.plot) else 0
    return max(200, int(width) - 70) if width else 1000


# ----------------------------------------------------------------------------- per frame


def _set(tag: str, value) -> None:
    if _shown.get(tag) != value:
        _shown[tag] = value
        dpg.set_value(tag, value)


def _configure(tag: str, key: str, value) -> None:
    slot = f"{tag}#{key}"
    if _shown.get(slot) != value:
        _shown[slot] = value
        dpg.configure_item(tag, **{key: value})


def _enable(tag: str, enabled: bool) -> None:
    slot = f"{tag}#enabled"
    if _shown.get(slot) != enabled:
        _shown[slot] = enabled
        (dpg.enable_item if enabled else dpg.disable_item)(tag)


def show_frame(frame: FrameView) -> None:
    show_trace(frame)
    show_readout(frame)
    show_connection(frame)
    show_buttons(frame)


def show_trace(frame: FrameView) -> None:
    dpg.set_value(TAGS.series, [frame.trace_x.tolist(), frame.trace_y.tolist()])
    lo, hi = frame.y_limits
    if _shown.get("y_limits") != (lo, hi):
        _shown["y_limits"] = (lo, hi)
        dpg.set_axis_limits(TAGS.y_axis, lo, hi)
    _configure(TAGS.y_axis, "label", _text(frame.y_label))


def show_readout(frame: FrameView) -> None:
    _set(TAGS.readout_caption, frame.readout_caption)
    if _have_ttf:
        _set(TAGS.readout, frame.readout)
    else:
        _configure(TAGS.readout, "text", _text(frame.readout))
    if _have_ttf:
        big = len(frame.readout) <= (BIG_MAX_CHARS - 2 if _narrow else BIG_MAX_CHARS)
        font = TAGS.font_big if big else TAGS.font_big_narrow
        if _shown.get("readout#font") != font:
            _shown["readout#font"] = font
            dpg.bind_item_font(TAGS.readout, font)
            dpg.configure_item(TAGS.readout_unit_spacer, height=_unit_drop(FONT_BIG if big else FONT_BIG_NARROW))
    _configure(TAGS.readout, "color", LEVEL_COLOURS.get(frame.readout_level, WHITE))
    _set(TAGS.readout_unit, _text(frame.readout_unit))
    _set(TAGS.readout_note, _text(frame.readout_note))


def show_connection(frame: FrameView) -> None:
    _configure(TAGS.sim_panel, "show", frame.simulated)
    _set(TAGS.sim_text, _text(frame.sim_text))
    _set(TAGS.state_text, _text(frame.state_text))
    _configure(TAGS.state_text, "color", LEVEL_COLOURS.get(frame.state_level, AMBER))
    labels = _text("\n".join(label for label, _ in frame.rows))
    _set(TAGS.status_labels, labels)
    # the values start after the labels and 16 px; the column ends 14 px early when its scrollbar shows
    room = _left_width - 34 - _text_width(max(labels.split("\n"), key=len, default=""))
    _set(TAGS.status_values, _text("\n".join(fit_width(value, room, _text_width) for _, value in frame.rows)))


def _text_width(text: str) -> float:
    """Pixels ``text`` takes in the default font (0 while DearPyGui cannot say yet)."""
    try:
        size = dpg.get_text_size(text)
    except Exception:
        return 0.0
    return float(size[0]) if size else 0.0



def show_session_stop(action: Callable[[], None] | None) -> None:
    """Show the left column's STOP while a session runs (``action`` stops it); None hides it."""
    global _session_stop
    _session_stop = action
    _configure(TAGS.session_stop, "show", action is not None)


def show_buttons(frame: FrameView) -> None:
    _enable(TAGS.unit_combo, frame.units_apply)
    _enable(TAGS.tare_button, frame.can_command)
    _enable(TAGS.start_button, frame.can_command and not frame.streaming)
    _enable(TAGS.stop_button, frame.can_command and frame.streaming)


# ----------------------------------------------------------------------------- callbacks


def on_tare(sender=None, app_data=None, user_data=None) -> None:
    if _callbacks:
        _callbacks.on_tare()


def on_start(sender=None, app_data=None, user_data=None) -> None:
    if _callbacks:
        _callbacks.on_start()


def on_stop(sender=None, app_data=None, user_data=None) -> None:
    if _callbacks:
        _callbacks.on_stop()


def on_session_stop(sender=None, app_data=None, user_data=None) -> None:
    if _session_stop is not None:
        _session_stop()


def on_unit(sender=None, app_data=None, user_data=None) -> None:
    if _callbacks and app_data:
        _callbacks.on_unit(str(app_data))


def on_area(sender=None, app_data=None, user_data=None) -> None:
    if not _callbacks:
        return
    try:
        _callbacks.on_area(float(app_data))
    except ValueError:
        dpg.set_value(TAGS.area_input, units.DEFAULT_PROBE_AREA_CM2)
