"""The Calibrate tab: the calibration in use, the wizard, verification and the zero-drift check.

View code only: the flow is :class:`pointdose.calibration.CalibrationWizard` (the same state
machine ``pointdose calibrate run`` drives), fed here once a frame with the ring's new samples.
Device I/O (reading/writing the stored calibration, taring) goes through ``controller.submit`` so it
runs on the controller's worker thread; results come back through plain attributes that
:meth:`CalibratePanel.update` picks up on the render thread.

Without hardware (the simulated device), the controller's demo presses pause while the wizard, a
verification or the drift check runs, and a row sets the simulated force (``sim force N``): the
wizard's suggested load for the step, or any other, so each step reaches a steady reading.

At connect the panel also loads the device's calibration (device flash first, then this
computer's copy), tells the model to show values through it, and shows a notice at the bottom
left when something needs the user: no calibration, an old one, one made for another
configuration, or an unloaded reading away from zero (with a Tare button).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dearpygui.dearpygui as dpg

from pointdose import units
from pointdose.app import view
from pointdose.app.panels.base import Panel, PanelContext
from pointdose.calibration import (CalibrationWizard, DriftRun, SensorConfig, Step, Tolerance, VerificationRun,
                                   WizardSettings, ZeroCheck, load_for_device, save_everywhere)
from pointdose.calibration.models import DEFAULT_TOLERANCE_PCT, FSR, LINEAR
from pointdose.calibration.record import DEFAULT_MAX_AGE_DAYS, REFERENCE_KINDS
from pointdose.calibration.wizard import zero_tolerance_n
from pointdose.link.info import DeviceInfo, device_info

REFERENCE_LABELS = {"masses": "Known masses", "scale": "Kitchen or bathroom scale", "gauge": "Force gauge"}
REFERENCE_UNIT_DEFAULT = {"masses": "kg", "scale": "kg", "gauge": "N"}
MODEL_LABELS = {LINEAR: "Load cell (linear)", FSR: "FSR (power law)"}
PROBE_CHOICES = [*units.PROBE_PRESETS_CM2, units.THUMB_PROBE]
WRAP = 760


@dataclass(frozen=True)
class CalTags:
    status: str = "pd.cal.status"
    warnings: str = "pd.cal.warnings"
    save_device: str = "pd.cal.save_device"
    probe: str = "pd.cal.probe"
    thumb_note: str = "pd.cal.thumb_note"
    max_age: str = "pd.cal.max_age"
    setup: str = "pd.cal.setup"
    reference: str = "pd.cal.reference"
    ref_unit: str = "pd.cal.ref_unit"
    loads: str = "pd.cal.loads"
    tolerance: str = "pd.cal.tolerance"
    model: str = "pd.cal.model"
    start: str = "pd.cal.start"
    wizard: str = "pd.cal.wizard"
    title: str = "pd.cal.title"
    progress: str = "pd.cal.progress"
    instruction: str = "pd.cal.instruction"
    stability: str = "pd.cal.stability"
    steady_bar: str = "pd.cal.steady_bar"
    criterion: str = "pd.cal.criterion"
    entry_row: str = "pd.cal.entry_row"
    entry_label: str = "pd.cal.entry_label"
    entry: str = "pd.cal.entry"
    enter: str = "pd.cal.enter"
    redo: str = "pd.cal.redo"
    skip: str = "pd.cal.skip"
    cancel: str = "pd.cal.cancel"
    message: str = "pd.cal.message"
    points: str = "pd.cal.points"
    result: str = "pd.cal.result"
    verdict: str = "pd.cal.verdict"
    checks: str = "pd.cal.checks"
    verify: str = "pd.cal.verify"
    verify_text: str = "pd.cal.verify_text"
    verify_entry: str = "pd.cal.verify_entry"
    verify_enter: str = "pd.cal.verify_enter"
    drift: str = "pd.cal.drift"
    drift_text: str = "pd.cal.drift_text"
    drift_bar: str = "pd.cal.drift_bar"
    notice: str = "pd.cal.notice"
    notice_text: str = "pd.cal.notice_text"
    notice_action: str = "pd.cal.notice_action"
    notice_ok: str = "pd.cal.notice_ok"
    sim_row: str = "pd.cal.sim_row"
    sim_force: str = "pd.cal.sim_force"
    sim_apply: str = "pd.cal.sim_apply"
    sim_unload: str = "pd.cal.sim_unload"
    sim_note: str = "pd.cal.sim_note"


TAGS = CalTags()

NOTICE_H = 124  # the connect-time notice's height (two lines and a row of buttons)


def _wrap() -> int:
    """Texts wrap at WRAP px, or at the tab's edge when the window is narrow (0 = the edge)."""
    return 0 if view.is_narrow() else WRAP


class CalibratePanel(Panel):
    title = "Calibrate"

    def __init__(self):
        self.tab = None
        self.ctx: PanelContext | None = None
        self._shown: dict[str, object] = {}
        self._link_key = None
        self._loaded = None  # pointdose.calibration.Loaded, set by a worker job
        self._loaded_applied = None
        self._last_t = -math.inf
        self.wizard: CalibrationWizard | None = None
        self._tare_busy = False
        self._tare_result = None  # (tare, sd) or an error string, from the worker
        self.verification: VerificationRun | None = None
        self.drift: DriftRun | None = None
        self.zero_check: ZeroCheck | None = None
        self.saved_message = ""
        self._save_result = None
        self._notice_kind = ""  # "zero" | "calibration" | ""
        self._notice_dismissed: set[str] = set()
        self.max_age_days = DEFAULT_MAX_AGE_DAYS
        self.thumb = False
        self._demo_paused = False
        self._suggested_key = None

    # ------------------------------------------------------------------ build
    def build(self, ctx: PanelContext) -> None:
        self.ctx = ctx
        self.tab = view.current_tab()
        with dpg.child_window(border=False, width=-1, height=-1):
            self._heading("Calibration in use")
            dpg.add_text("Connecting…", tag=TAGS.status, wrap=_wrap(), color=view.WHITE)
            dpg.add_text("", tag=TAGS.warnings, wrap=_wrap(), color=view.AMBER)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save to device", tag=TAGS.save_device, callback=self._on_save_device, show=False)
                dpg.add_text(view._text("Warn when older than (days)"), color=view.GREY)
                dpg.add_input_int(tag=TAGS.max_age, default_value=int(self.max_age_days), width=110, min_value=1,
                                  min_clamped=True, step=0, on_enter=True, callback=self._on_max_age)
            with dpg.group(horizontal=True):
                dpg.add_text("Probe")
                dpg.add_combo([view._text(p) for p in PROBE_CHOICES], tag=TAGS.probe, width=200,
                              default_value=view._text(units.probe_name(ctx.model.settings.probe_area_cm2)
                                                       if ctx.model else "1 cm² probe"),
                              callback=self._on_probe)
            dpg.add_text("", tag=TAGS.thumb_note, wrap=_wrap(), color=view.CYAN, show=False)
            with dpg.group(tag=TAGS.sim_row, show=False):
                with dpg.group(horizontal=True):
                    dpg.add_text("Simulated device: press it with", color=view.AMBER)
                    dpg.add_input_float(tag=TAGS.sim_force, default_value=0.0, width=110, step=0, format="%.1f N",
                                        on_enter=True, callback=self._on_sim_apply)
                    dpg.add_button(label="Apply", tag=TAGS.sim_apply, callback=self._on_sim_apply)
                    dpg.add_button(label="Unload (0 N)", tag=TAGS.sim_unload, callback=lambda: self.apply_sim_force(0.0))
                dpg.add_text("", tag=TAGS.sim_note, wrap=_wrap(), color=view.GREY)
            dpg.add_separator()

            self._heading("Calibrate")
            with dpg.group(tag=TAGS.wizard, show=False):
                with dpg.group(horizontal=True):
                    dpg.add_text("", tag=TAGS.title, color=view.WHITE)
                    dpg.add_text("", tag=TAGS.progress, color=view.GREY)
                dpg.add_text("", tag=TAGS.instruction, wrap=_wrap(), color=view.WHITE)
                with dpg.group(horizontal=True):
                    dpg.add_progress_bar(tag=TAGS.steady_bar, width=200, default_value=0.0, overlay="steady")
                    dpg.add_text("", tag=TAGS.stability, wrap=_wrap() - 220, color=view.AMBER)
                dpg.add_text("", tag=TAGS.criterion, wrap=_wrap(), color=view.GREY)
                with dpg.group(horizontal=True, tag=TAGS.entry_row):
                    dpg.add_text("", tag=TAGS.entry_label)
                    dpg.add_input_text(tag=TAGS.entry, width=140, on_enter=True, callback=self._on_enter)
                    dpg.add_button(label="Enter", tag=TAGS.enter, callback=self._on_enter)
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Record again", tag=TAGS.redo, callback=self._on_redo)
                    dpg.add_button(label="Skip conditioning", tag=TAGS.skip, callback=self._on_skip, show=False)
                    dpg.add_button(label="Cancel", tag=TAGS.cancel, callback=self._on_cancel)
                dpg.add_text("", tag=TAGS.message, wrap=_wrap(), color=view.AMBER)
                dpg.add_text("", tag=TAGS.verdict, wrap=_wrap())
                dpg.add_text("", tag=TAGS.result, wrap=_wrap(), color=view.WHITE)
                dpg.add_text("", tag=TAGS.points, color=view.WHITE)
            with dpg.group(tag=TAGS.setup):
                with dpg.group(horizontal=True):
                    dpg.add_text("Reference")
                    dpg.add_combo(list(REFERENCE_LABELS.values()), tag=TAGS.reference, width=260,
                                  default_value=REFERENCE_LABELS["scale"], callback=self._on_reference)
                    dpg.add_text("read in")
                    dpg.add_combo(list(units.REFERENCE_UNITS), tag=TAGS.ref_unit, width=80, default_value="kg")
                with dpg.group(horizontal=True) as row:
                    dpg.add_text("Sensor")
                    dpg.add_combo(list(MODEL_LABELS.values()), tag=TAGS.model, width=200,
                                  default_value=MODEL_LABELS[LINEAR], callback=self._on_model)
                    dpg.add_text("Loads")
                    dpg.add_input_int(tag=TAGS.loads, default_value=4, width=100, min_value=3, max_value=10,
                                      min_clamped=True, max_clamped=True)
                if view.is_narrow():  # below 1200 px the tolerance gets a row of its own
                    row = dpg.add_group(horizontal=True)
                dpg.add_text(view._text("Tolerance (% of full scale)"), parent=row)
                dpg.add_input_float(tag=TAGS.tolerance, default_value=DEFAULT_TOLERANCE_PCT[LINEAR], width=90,
                                    min_value=0.1, min_clamped=True, step=0, format="%.1f", parent=row)
                dpg.add_button(label="Start calibration", tag=TAGS.start, width=220, height=40,
                               callback=self._on_start)
            dpg.add_separator()

            self._heading("Check it")
            with dpg.group(tag=TAGS.checks):
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Verify with a known load", tag=TAGS.verify, callback=self._on_verify)
                    dpg.add_input_text(tag=TAGS.verify_entry, width=120, hint="reference", on_enter=True,
                                       callback=self._on_verify_enter, show=False)
                    dpg.add_button(label="Enter", tag=TAGS.verify_enter, callback=self._on_verify_enter, show=False)
                dpg.add_text("", tag=TAGS.verify_text, wrap=_wrap())
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Check zero drift (1 min)", tag=TAGS.drift, callback=self._on_drift)
                    dpg.add_progress_bar(tag=TAGS.drift_bar, width=200, default_value=0.0, show=False)
                dpg.add_text("", tag=TAGS.drift_text, wrap=_wrap())
        for tag in (TAGS.title,):
            if view._have_ttf:
                dpg.bind_item_font(tag, view.TAGS.font_medium)
        # the connect-time notice: bottom left, under the status rows, out of the trace's way
        # (placed from the window's height and the left column's width, so it fits 720 px and 1024 px too)
        notice_w, notice_y = view.left_width() - 2, view.window_size()[1] - NOTICE_H - 8
        with dpg.window(tag=TAGS.notice, show=False, no_title_bar=True, no_resize=True, no_move=True,
                        no_collapse=True, pos=(6, notice_y), width=notice_w, height=NOTICE_H, no_scrollbar=True):
            dpg.add_text("", tag=TAGS.notice_text, wrap=notice_w - 18, color=view.AMBER)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Tare now", tag=TAGS.notice_action, width=160, callback=self._on_notice_action)
                dpg.add_button(label="OK", tag=TAGS.notice_ok, width=100, callback=self._on_notice_ok)

    def _heading(self, text: str) -> None:
        item = dpg.add_text(text, color=view.CYAN)
        if view._have_ttf:
            dpg.bind_item_font(item, view.TAGS.font_medium)

    # ------------------------------------------------------------------ per frame
    def update(self, ctx: PanelContext) -> None:
        self.ctx = ctx
        link = ctx.controller.link if ctx.controller is not None else None
        info = device_info(link) if link is not None else DeviceInfo()
        key = (id(link), info.uid, info.boot) if link is not None else None
        if key != self._link_key:
            self._on_new_link(ctx, link, key)
        if self._loaded is not None and self._loaded is not self._loaded_applied:
            self._apply_loaded(ctx)
        if self._save_result is not None:
            self._apply_saved(ctx)
        if link is not None:
            self._feed(ctx, link, info)
        self._hold_demo(ctx)
        self._show(ctx, info)

    def close(self) -> None:
        self.wizard = None

    # ------------------------------------------------------------------ without hardware
    def busy(self) -> bool:
        """The wizard, a verification or the drift check is running: the sensor must be left to it."""
        return ((self.wizard is not None and not self.wizard.finished)
                or (self.verification is not None and self.verification.result is None)
                or (self.drift is not None and self.drift.result is None))

    def _hold_demo(self, ctx) -> None:
        """Pause the controller's demo presses while the sensor is the calibration's (and only then)."""
        busy = self.busy()
        if busy != self._demo_paused and ctx.controller is not None and hasattr(ctx.controller, "pause_sim_demo"):
            (ctx.controller.pause_sim_demo if busy else ctx.controller.resume_sim_demo)("calibration")
            self._demo_paused = busy

    def apply_sim_force(self, newtons: float) -> bool:
        """Press the simulated device with ``newtons`` (the "Apply" button); False when not simulated."""
        controller = self.ctx.controller if self.ctx else None
        if controller is None or not hasattr(controller, "request_sim_force"):
            return False
        return controller.request_sim_force(float(newtons))

    def _on_sim_apply(self, *_):
        self.apply_sim_force(float(dpg.get_value(TAGS.sim_force)))

    # ------------------------------------------------------------------ link and loading
    def _config(self, info: DeviceInfo) -> SensorConfig:
        area = None if self.thumb else self.ctx.model.settings.probe_area_cm2
        return SensorConfig.from_info(info, probe_area_cm2=area)

    def _on_new_link(self, ctx, link, key) -> None:
        self._link_key = key
        self._loaded = self._loaded_applied = None
        self.zero_check = None
        self._last_t = -math.inf
        if link is None:
            return
        model = FSR if device_info(link).sensor == "adc" else LINEAR
        self._set(TAGS.model, MODEL_LABELS[model])
        self._set(TAGS.tolerance, DEFAULT_TOLERANCE_PCT[model])
        self.reload()

    def reload(self) -> None:
        """Read the calibration for the connected device again (off the render thread)."""
        ctx = self.ctx
        link = ctx.controller.link
        if link is None:
            return
        config = self._config(device_info(link))
        max_age = self.max_age_days

        def job(link):
            try:
                self._loaded = load_for_device(link, config, max_age_days=max_age)
            except Exception as exc:  # a damaged file or blob: say so, use the factory scale
                from pointdose.calibration.record import Assessment
                from pointdose.calibration.store import Loaded

                self._loaded = Loaded(None, "none", Assessment(False, str(exc), ()), False)

        ctx.controller.submit("Reading the calibration…", job)

    def _apply_loaded(self, ctx) -> None:
        loaded = self._loaded
        self._loaded_applied = loaded
        ctx.model.set_calibration_record(loaded.record)
        # the notice is for what needs the user (none / refused / old / other configuration); facts such
        # as "this firmware cannot store it" stay in the tab
        urgent = loaded.assessment.refusal or (loaded.assessment.warnings[0] if loaded.assessment.warnings else "")
        if urgent and "calibration" not in self._notice_dismissed:
            self._notice("calibration", _short(urgent), action="Calibrate…")
        elif not urgent and self._notice_kind == "calibration":
            self._notice_kind = ""
            dpg.configure_item(TAGS.notice, show=False)
        conv = ctx.model.scale_for(ctx.controller.link).calibration if ctx.controller.link else None
        self.zero_check = ZeroCheck(zero_tolerance_n(conv if hasattr(conv, "stated_error_n") else None)) \
            if conv is not None else None

    def _apply_saved(self, ctx) -> None:
        result, self._save_result = self._save_result, None
        if isinstance(result, str):
            self.saved_message = result
            return
        record, on_device, path = result
        ctx.model.set_calibration_record(record)
        where = "on this computer and on the device" if on_device else "on this computer"
        self.saved_message = f"Saved {where} (calibration {record.id})."
        self.reload()

    def _save(self, record) -> None:
        def job(link):
            try:
                on_device, path = save_everywhere(link, record)
                self._save_result = (record, on_device, path)
            except Exception as exc:
                self._save_result = f"Could not save: {exc}"

        self.ctx.controller.submit("Saving the calibration…", job)

    # ------------------------------------------------------------------ samples
    def _feed(self, ctx, link, info) -> None:
        ring = getattr(link, "ring", None)
        if ring is None:
            return
        rows = ring.window(3.0)
        if rows.size == 0:
            return
        rows = rows[rows["t_dev_s"] > self._last_t]
        if rows.size == 0:
            return
        self._last_t = float(rows["t_dev_s"][-1])
        t, raw = rows["t_dev_s"], rows["raw"]
        wiz = self.wizard
        if wiz is not None and not wiz.finished:
            was_done = wiz.finished
            wiz.feed(t, raw)
            if wiz.pending_action == "tare" and not self._tare_busy:
                self._tare_busy = True

                def job(link):
                    try:
                        reply = link.tare()
                        self._tare_result = (float(reply.fields["tare"]), float(reply.fields.get("sd", 0) or 0))
                    except Exception as exc:
                        self._tare_result = str(exc)

                ctx.controller.submit("Taring… keep the sensor unloaded", job)
            if not was_done and wiz.finished:
                self._wizard_finished(ctx, info)
        if self._tare_result is not None and wiz is not None:
            result, self._tare_result = self._tare_result, None
            self._tare_busy = False
            if isinstance(result, str):
                wiz.tare_failed(result)
            else:
                wiz.tare_done(*result)
        if self.verification is not None and self.verification.result is None:
            self.verification.feed(t, raw)
            if self.verification.result is not None:
                self._record_check("verification", self.verification.result)
        if self.drift is not None and self.drift.result is None:
            self.drift.feed(t, raw)
            if self.drift.result is not None:
                self._record_check("drift", self.drift.result)
        if self.zero_check is not None and self.zero_check.state in ("warming", "checking"):
            conv = ctx.model.scale_for(info).calibration
            if conv is not None:
                state = self.zero_check.feed(t, conv.force_n(raw))
                if state == "offer" and "zero" not in self._notice_dismissed:
                    self._notice("zero", f"Unloaded, the sensor reads {self.zero_check.offset_n:.1f} N, not 0. "
                                         "If nothing touches it, tare it.", action="Tare now")

    def _wizard_finished(self, ctx, info) -> None:
        wiz = self.wizard
        if wiz.step == Step.DONE:
            record = wiz.make_record(device_uid=info.uid or "", config=self._config(info))
            self._save(record)

    def _record_check(self, kind: str, result: dict) -> None:
        loaded = self._loaded
        record = loaded.record if loaded is not None else None
        if record is None:
            return
        record = record.with_verification(result) if kind == "verification" else record.with_drift_check(result)
        self._save(record)

    # ------------------------------------------------------------------ notice
    def _notice(self, kind: str, text: str, *, action: str) -> None:
        self._notice_kind = kind
        dpg.set_value(TAGS.notice_text, view._text(text))
        dpg.configure_item(TAGS.notice_action, label=action)
        dpg.configure_item(TAGS.notice, show=True)

    def _on_notice_action(self, *_):
        kind = self._notice_kind
        self._close_notice()
        if kind == "zero":
            self.ctx.controller.request_tare()
        elif self.tab is not None and dpg.does_item_exist(view.TAGS.tabs):
            dpg.set_value(view.TAGS.tabs, self.tab)

    def _on_notice_ok(self, *_):
        self._close_notice()

    def _close_notice(self) -> None:
        self._notice_dismissed.add(self._notice_kind)
        if self._notice_kind == "zero" and self.zero_check is not None:
            self.zero_check.close()
        dpg.configure_item(TAGS.notice, show=False)

    # ------------------------------------------------------------------ callbacks (render thread)
    def _on_probe(self, sender=None, app_data=None, user_data=None):
        name = str(app_data)
        choice = next((p for p in PROBE_CHOICES if view._text(p) == name), name)
        area = units.probe_area(choice)
        self.thumb = area is None
        model = self.ctx.model
        if self.thumb:
            if units.unit(model.settings.unit).kind == "pressure":
                model.set_unit("N")
                dpg.set_value(view.TAGS.unit_combo, view._symbol("N"))
        else:
            model.set_probe_area(area)
            dpg.set_value(view.TAGS.area_input, area)
        self.reload()

    def _on_max_age(self, sender=None, app_data=None, user_data=None):
        self.max_age_days = float(max(1, int(app_data or 1)))
        self.reload()

    def _on_reference(self, sender=None, app_data=None, user_data=None):
        kind = next((k for k, v in REFERENCE_LABELS.items() if v == app_data), "scale")
        dpg.set_value(TAGS.ref_unit, REFERENCE_UNIT_DEFAULT[kind])

    def _on_model(self, sender=None, app_data=None, user_data=None):
        model = next((k for k, v in MODEL_LABELS.items() if v == app_data), LINEAR)
        dpg.set_value(TAGS.tolerance, DEFAULT_TOLERANCE_PCT[model])

    def wizard_settings(self) -> WizardSettings:
        kind = next((k for k, v in REFERENCE_LABELS.items() if v == dpg.get_value(TAGS.reference)), "scale")
        model = next((k for k, v in MODEL_LABELS.items() if v == dpg.get_value(TAGS.model)), LINEAR)
        limits = device_info(self.ctx.controller.link).raw_range
        return WizardSettings(model=model, reference=kind, unit=dpg.get_value(TAGS.ref_unit),
                              n_loads=int(dpg.get_value(TAGS.loads)),
                              tolerance=Tolerance(pct_fs=float(dpg.get_value(TAGS.tolerance))),
                              raw_limits=limits)

    def start_wizard(self, settings: WizardSettings | None = None) -> None:
        """Begin a calibration (the Start button; tests call it with their own settings)."""
        if self.ctx.controller.link is None:
            self.saved_message = "Connect a device first."
            return
        self.wizard = CalibrationWizard(settings or self.wizard_settings())
        self._tare_busy = False
        self._tare_result = None
        self.saved_message = ""
        self.verification = self.drift = None

    def _on_start(self, *_):
        try:
            self.start_wizard()
        except Exception as exc:
            self.saved_message = str(exc)

    def enter(self, text: str) -> None:
        """The user typed a reference reading (the Enter button / key)."""
        if self.wizard is None:
            return
        try:
            self.wizard.enter_reference(text)
            dpg.set_value(TAGS.entry, "")
        except Exception as exc:
            self.wizard.message = str(exc).removeprefix("pointdose: ")

    def _on_enter(self, *_):
        self.enter(str(dpg.get_value(TAGS.entry)))

    def _on_redo(self, *_):
        if self.wizard is not None:
            self.wizard.redo()

    def _on_skip(self, *_):
        if self.wizard is not None:
            self.wizard.skip_conditioning()

    def _on_cancel(self, *_):
        if self.wizard is not None:
            self.wizard.cancel()
            self.wizard = None

    def _on_save_device(self, *_):
        loaded = self._loaded
        if loaded is not None and loaded.record is not None:
            self._save(loaded.record)

    def _usable_converter(self):
        loaded = self._loaded
        if loaded is None or loaded.record is None or self.ctx.controller.link is None:
            return None, None
        return loaded.record, loaded.record.converter(tare=device_info(self.ctx.controller.link).tare)

    def _on_verify(self, *_):
        record, conv = self._usable_converter()
        if conv is None:
            dpg.set_value(TAGS.verify_text, "Calibrate first: there is no calibration to verify.")
            return
        self.verification = VerificationRun(conv, record.tolerance_n, unit=dpg.get_value(TAGS.ref_unit))

    def _on_verify_enter(self, *_):
        if self.verification is None:
            return
        try:
            self.verification.enter_reference(str(dpg.get_value(TAGS.verify_entry)))
            dpg.set_value(TAGS.verify_entry, "")
            if self.verification.result is not None:
                self._record_check("verification", self.verification.result)
        except Exception as exc:
            dpg.set_value(TAGS.verify_text, str(exc))

    def _on_drift(self, *_):
        record, conv = self._usable_converter()
        if conv is None:
            dpg.set_value(TAGS.drift_text, "Calibrate first: the drift is measured in newtons.")
            return
        self.drift = DriftRun(conv, duration_s=60.0, limit_n=record.stated_error_n)

    # ------------------------------------------------------------------ showing
    def _set(self, tag: str, value) -> None:
        if self._shown.get(tag) != value:
            self._shown[tag] = value
            dpg.set_value(tag, value)

    def _say(self, tag: str, text: str) -> None:
        """A text item that takes no room while it has nothing to say."""
        self._set(tag, view._text(text))
        self._conf(tag, show=bool(text))

    def _conf(self, tag: str, **kw) -> None:
        for k, v in kw.items():
            slot = f"{tag}#{k}"
            if self._shown.get(slot) != v:
                self._shown[slot] = v
                dpg.configure_item(tag, **{k: v})

    def _show(self, ctx, info: DeviceInfo) -> None:
        if self.thumb and units.unit(ctx.model.settings.unit).kind == "pressure":
            # a thumb's contact area changes with force: pressure units would mislead (units.THUMB_NOTE)
            ctx.model.set_unit("N")
            dpg.set_value(view.TAGS.unit_combo, view._symbol("N"))
        self._show_status(ctx, info)
        self._show_sim(ctx)
        self._show_wizard()
        self._show_checks()
        thumb_note = units.THUMB_NOTE if self.thumb else ""
        self._set(TAGS.thumb_note, view._text(thumb_note))
        self._conf(TAGS.thumb_note, show=bool(thumb_note))

    def _show_sim(self, ctx) -> None:
        from pointdose.calibration.wizard import sim_suggestion_n

        status = ctx.controller.status() if ctx.controller is not None else None
        # the unix port's simulated sensor takes `sim force`; the emulated Pico's hardware models do not
        simulated = bool(status is not None and status.simulated and status.link is not None
                         and str(device_info(status.link).sensor or "").startswith("sim"))
        self._conf(TAGS.sim_row, show=simulated)
        if not simulated:
            return
        wiz = self.wizard
        running = wiz is not None and not wiz.finished
        key = (id(wiz), wiz.item) if running else None
        if key != self._suggested_key:  # a new step: its suggested load goes in the box (the user may change it)
            self._suggested_key = key
            force = sim_suggestion_n(wiz) if running else None
            if force is not None:
                dpg.set_value(TAGS.sim_force, force)
        if running:
            note = ("No hardware: set the force for this step, wait for a steady reading, then type the reference "
                    "(1 kg = 9.807 N). The demo presses are paused while calibrating.")
        elif self.busy():
            note = "The demo presses are paused while the check runs."
        else:
            note = "No hardware: set a force to try the checks; the demo presses resume after calibrating."
        self._set(TAGS.sim_note, view._text(note))

    def _show_status(self, ctx, info: DeviceInfo) -> None:
        loaded = self._loaded
        if ctx.controller.link is None:
            status, warn = "No device connected.", ""
        elif loaded is None:
            status, warn = "Reading the calibration…", ""
        else:
            rec = loaded.record
            if rec is not None:
                where = "stored on the device" if loaded.source == "device" else "kept on this computer"
                ref = REFERENCE_KINDS.get(rec.reference.get("kind", ""), "?")
                hyst = ("" if rec.hysteresis_pct_fs is None else f" · hysteresis {_pct(rec.hysteresis_pct_fs)} % of full scale")
                status = (f"Calibrated {rec.created[:10]} with a {ref} ({where}). Range 0–{rec.full_scale_n:.1f} N · "
                          f"stated error ±{_n(rec.stated_error_n)} N ({_pct(rec.stated_error_pct_fs)} % of full scale)"
                          f"{hyst} · {rec.config.describe()}.")
            elif ctx.model.scale_for(info).calibrated:
                status = ("Uncalibrated: error unknown. Values use the device's factory scale, never checked "
                          "against a reference here.")
            else:
                status = "Uncalibrated: error unknown. The app shows raw counts."
            warn = "\n".join(f"• {_sentence(m)}" for m in loaded.messages)
            if self.saved_message:
                status += "\n" + self.saved_message
        self._set(TAGS.status, view._text(status))
        self._say(TAGS.warnings, warn)
        show_save = bool(loaded and loaded.record is not None and loaded.source == "host" and loaded.storage_supported)
        self._conf(TAGS.save_device, show=show_save)

    def _show_wizard(self) -> None:
        wiz = self.wizard
        self._conf(TAGS.wizard, show=wiz is not None)
        self._conf(TAGS.setup, show=wiz is None or wiz.finished)
        self._conf(TAGS.start, label="Start calibration" if wiz is None else "Calibrate again")
        if wiz is None:
            return
        v = wiz.view()
        self._set(TAGS.title, view._text(v.title))
        self._set(TAGS.progress, view._text(v.progress))
        running = not wiz.finished
        self._say(TAGS.instruction, v.instruction if running else "")
        st = v.stability
        show_steady = running and v.step != Step.CONDITION and not v.captured
        self._conf(TAGS.steady_bar, show=show_steady)
        self._set(TAGS.steady_bar, float(st.progress) if st and show_steady else 0.0)
        self._say(TAGS.stability, st.text if st and show_steady else "")
        self._say(TAGS.criterion, f"Steady means: {v.criterion}." if show_steady else "")
        wants_entry = running and v.step in (Step.LOAD, Step.UNLOAD) and not v.entered
        self._conf(TAGS.entry_row, show=wants_entry)
        self._set(TAGS.entry_label, view._text(v.entry_label))
        self._conf(TAGS.redo, show=running)
        self._conf(TAGS.cancel, show=running)
        self._conf(TAGS.skip, show=running and v.step == Step.CONDITION)
        self._say(TAGS.message, v.message)
        if v.step == Step.DONE and v.result is not None:
            r = v.result
            self._say(TAGS.verdict,
                      f"Accepted: largest error ±{_n(r.max_error_n)} N ({_pct(r.max_error_pct_fs)} % of "
                      f"{r.full_scale_n:.1f} N full scale), within the tolerance ±{_n(r.tolerance_n)} N.")
            self._conf(TAGS.verdict, color=view.GREEN)
            hyst = ("not measured" if r.hysteresis_n is None
                    else f"{_n(r.hysteresis_n)} N ({_pct(r.hysteresis_pct_fs)} % of full scale)")
            self._say(TAGS.result, f"Hysteresis (loading vs unloading): {hyst}. "
                                   f"R² {r.r2:.4f} (for reference only). {r.model.describe()}.")
            self._say(TAGS.points, _points_table(r.points, r.predicted_n, r.error_n))
        elif v.step == Step.REFUSED:
            self._say(TAGS.verdict, f"Refused: {v.refusal}")
            self._conf(TAGS.verdict, color=view.RED)
            self._say(TAGS.result, "Nothing was saved. Check the reference readings and calibrate again.")
            self._say(TAGS.points, _points_table(v.points))
        else:
            self._say(TAGS.verdict, "")
            self._say(TAGS.result, "")
            self._say(TAGS.points, _points_table(v.points) if v.points else "")

    def _show_checks(self) -> None:
        ver = self.verification
        waiting_ref = ver is not None and ver.result is None
        self._conf(TAGS.verify_entry, show=waiting_ref)
        self._conf(TAGS.verify_enter, show=waiting_ref)
        if ver is not None:
            self._say(TAGS.verify_text, ver.text())
            if ver.result is not None:
                self._conf(TAGS.verify_text, color=view.GREEN if ver.result["within_tolerance"] else view.RED)
        drift = self.drift
        self._conf(TAGS.drift_bar, show=drift is not None and drift.result is None)
        if drift is not None:
            self._set(TAGS.drift_bar, min(1.0, drift.elapsed_s / drift.duration_s))
            self._say(TAGS.drift_text, drift.text())
            if drift.result is not None:
                self._conf(TAGS.drift_text, color=view.GREEN if drift.result["ok"] else view.RED)


def _n(value: float) -> str:
    """Newtons at a resolution that shows small errors (0.004 N) and large ones (1.2 N) sensibly."""
    return f"{value:.3f}" if abs(value) < 0.1 else f"{value:.2f}"


def _pct(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 1 else f"{value:.1f}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _short(text: str) -> str:
    """The first clause of a message, for the small notice (the tab has the whole of it)."""
    head = text.split(":")[0].split(";")[0].strip()
    return _sentence(head) + " See the Calibrate tab."


def _points_table(points, predicted=None, errors=None) -> str:
    head = f"{'':3}{'reading (counts)':>17}  {'reference N':>11}  {'direction':>9}"
    if predicted is not None:
        head += f"  {'calibrated N':>12}  {'error N':>8}"
    lines = [head]
    for i, p in enumerate(points):
        line = f"{i + 1:>3}{p.raw:>17,.0f}  {p.force_n:>11.2f}  {p.direction:>9}"
        if predicted is not None:
            line += f"  {float(predicted[i]):>12.2f}  {float(errors[i]):>+8.3f}"
        lines.append(line)
    return "\n".join(lines)
