"""The Training tab: drill runner with feedback schedules, student picker, progress and class views.

View code only: drills, schedules, the feedback gate and scores are :mod:`pointdose.training`; the
drill runs on a :class:`pointdose.training.live.LiveTrainer` thread (ring in, device cues out,
trials saved to the records database as they end). Once a frame the panel reads the trainer's cue
and sets ``ctx.model.feedback_visible``: with feedback off the main readout and trace (and this
tab's trace) show nothing of the pressure.

Follow an expert's curve: the target is a recorded application's pressure trace (its id in the
records); :class:`pointdose.training.follow.FollowRunner` takes the attempt on its own thread, the
plot shows the expert's curve and the student's trace, the result is CE/AE/VE/E over the trace, and
the attempt is kept in the training records (a ``follow`` block) like other drills.

For demos and tests, ``POINTDOSE_TRAINING_DEMO=SCHEDULE`` (e.g. ``none``, ``constant``,
``intermittent:2``) opens this tab and runs a short moderate drill with a simulated student
(the virtual hand) once the simulated device streams; ``POINTDOSE_TRAINING_STATE=FILE`` writes
what the screen showed each frame (feedback flag, readout, trace length) as JSON when the app quits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np

from pointdose import units
from pointdose.app import view
from pointdose.app.background import Latest
from pointdose.app.model import SCORE_HELP, feedback_note, training_hidden_note, trial_trace
from pointdose.errors import UserError
from pointdose.app.panels.base import Panel, PanelContext
from pointdose.training import (BLOCK_KINDS, PRESETS, SURFACES, Block, Drill, DrillError, Schedule, ScheduleError,
                                preset, standard_plan, warnings)
from pointdose.training.drill import display, from_user
from pointdose.training.schedule import ON_REQUEST  # decide KR themselves: "result after" does not apply

ENV_DEMO = "POINTDOSE_TRAINING_DEMO"
ENV_STATE = "POINTDOSE_TRAINING_STATE"
SCHEDULES = ["constant", "intermittent", "faded", "bandwidth", "self", "yoked", "none"]
PLANS = {"practice only": "practice", "pre / practice / post": "standard", "pre / practice / post / transfer": "transfer"}
KR_CHOICES = ["always", "with-feedback", "never"]
BAND = (110, 220, 120, 60)
EMPTY_BG = (45, 45, 48, 255)  # the "no data yet" note inside an empty plot
SUMMARY_PLOT_H = 220  # the block-by-block and class plots: room for both axes and their labels
# the block-by-block plot: one fixed colour per kind of block, named in a key line above the plot (an
# ImPlot legend inside a 240 px plot sits over the top-left, just where a first block's large error is)
KIND_COLOURS = {"pre-test": (120, 160, 255), "practice": view.AMBER, "post-test": view.GREEN,
                "retention": (220, 130, 255), "transfer": view.RED}
PROGRESS_MARKER_PX = 6
PHASE_COLOURS = {"ramp": view.AMBER, "hold": view.GREEN, "release": view.CYAN, "rest": view.GREY,
                 "ready": view.GREY, "done": view.WHITE, "stopped": view.RED}


@dataclass(frozen=True)
class TrTags:
    student: str = "pd.tr.student"
    new_student: str = "pd.tr.new_student"
    klass: str = "pd.tr.class"
    preset: str = "pd.tr.preset"
    target: str = "pd.tr.target"
    tolerance: str = "pd.tr.tol"
    hold: str = "pd.tr.hold"
    trials: str = "pd.tr.trials"
    surface: str = "pd.tr.surface"
    schedule: str = "pd.tr.schedule"
    param: str = "pd.tr.param"
    kr: str = "pd.tr.kr"
    plan: str = "pd.tr.plan"
    start: str = "pd.tr.start"
    stop: str = "pd.tr.stop"
    ask_before: str = "pd.tr.ask_before"
    ask_after: str = "pd.tr.ask_after"
    warn: str = "pd.tr.warn"
    phase: str = "pd.tr.phase"
    info: str = "pd.tr.info"
    kr_text: str = "pd.tr.kr_text"
    fb_text: str = "pd.tr.fb_text"
    plot: str = "pd.tr.plot"
    x_axis: str = "pd.tr.plot.x"
    y_axis: str = "pd.tr.plot.y"
    series: str = "pd.tr.series"
    band: str = "pd.tr.band"
    progress_plot: str = "pd.tr.progress"
    progress_y: str = "pd.tr.progress.y"
    progress_x: str = "pd.tr.progress.x"
    class_plot: str = "pd.tr.classplot"
    class_y: str = "pd.tr.classplot.y"
    class_x: str = "pd.tr.classplot.x"
    class_kind: str = "pd.tr.class_kind"
    message: str = "pd.tr.message"
    form: str = "pd.tr.form"
    running: str = "pd.tr.running"
    running_text: str = "pd.tr.running.text"
    trial_empty: str = "pd.tr.plot.empty"
    follow_app: str = "pd.tr.follow.app"
    follow_pick: str = "pd.tr.follow.pick"
    follow_start: str = "pd.tr.follow.start"
    follow_target: str = "pd.tr.follow.target"
    progress_empty: str = "pd.tr.progress.empty"
    progress_key: str = "pd.tr.progress.key"
    class_empty: str = "pd.tr.classplot.empty"


T = TrTags()


class TrainingPanel(Panel):
    title = "Training"

    def __init__(self) -> None:
        self.tab = None
        self.store = None
        self.store_error = ""
        self.trainer = None
        self.student = None
        self.drill_t0 = None
        self.demo = os.environ.get(ENV_DEMO)
        self.state_path = os.environ.get(ENV_STATE)
        self.state_log: list[dict] = []
        self._demo_started = False
        self._progress_dirty = True
        self._progress_of = None  # the finished drill the progress plots were last asked for
        self._progress_data = Latest("training-progress")  # progress and class plots' data, off the render thread
        self._follow_list = Latest("training-follow-list")  # recorded applications to follow, off the render thread
        self._series_len = 0
        self._unit = "kPa"
        self._area = 1.0
        self._shown_running: bool | None = None
        self._trial_shown = False
        self._running_text = ""
        self.follow = None  # pointdose.training.follow.FollowRunner of the follow drill, while shown
        self.follow_saved = ""  # where the last follow attempt was kept (or why not)

    # ------------------------------------------------------------------ build
    def build(self, ctx: PanelContext) -> None:
        self.tab = view.current_tab()
        self._open_store()
        narrow = view.is_narrow()  # below 1200 px: a slimmer form, so the trial plot keeps its room
        FORM_W = 145 if narrow else 185  # noqa: N806
        with dpg.group(horizontal=True):
            with dpg.child_window(width=305 if narrow else 340, border=False):
                dpg.add_text("Student", color=view.GREY)
                dpg.add_combo(self._student_codes(), tag=T.student, width=-1, callback=self._on_student)
                with dpg.group(horizontal=True):
                    dpg.add_input_text(tag=T.new_student, hint="new student code", width=FORM_W)
                    dpg.add_button(label="Add", callback=self._on_add_student)
                dpg.add_combo([""] + [c["name"] for c in self._classes()], tag=T.klass, label="class", width=FORM_W,
                              callback=lambda: self._mark_dirty())
                dpg.add_separator()
                # while a drill runs the form (the *next* drill) is hidden and the running drill is described
                with dpg.group(tag=T.running, show=False):
                    heading = dpg.add_text("Drill running", color=view.WHITE)
                    if view._have_ttf:
                        dpg.bind_item_font(heading, view.TAGS.font_medium)
                    dpg.add_text("", tag=T.running_text, color=view.WHITE, wrap=280 if narrow else 330)
                    dpg.add_text("The settings form returns when the drill ends.", color=view.GREY, wrap=280 if narrow else 330)
                with dpg.group(tag=T.form):
                    self._build_form()
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Start drill", tag=T.start, width=110, height=36, callback=self._on_start)
                    dpg.add_button(label="Stop", tag=T.stop, width=80, height=36, callback=self._on_stop)
                with dpg.group(horizontal=not narrow):  # one above the other in the narrow column
                    dpg.add_button(label="Feedback next trial", tag=T.ask_before, callback=lambda: self._request("before"))
                    dpg.add_button(label="Show my result", tag=T.ask_after, callback=lambda: self._request("after"))
                for tag in (T.start, T.stop, T.ask_before, T.ask_after):
                    dpg.bind_item_theme(tag, view.TAGS.theme_disabled)
                dpg.add_separator()
                dpg.add_text("Follow an expert's curve", color=view.GREY)
                dpg.add_combo([], tag=T.follow_pick, width=-1, callback=self._on_follow_pick)
                with dpg.group(horizontal=True):
                    dpg.add_input_text(tag=T.follow_app, hint="application id", width=FORM_W, on_enter=True,
                                       callback=lambda: self.start_follow(dpg.get_value(T.follow_app)))
                    dpg.add_button(label="Follow", tag=T.follow_start,
                                   callback=lambda: self.start_follow(dpg.get_value(T.follow_app)))
                with dpg.tooltip(T.follow_app):
                    dpg.add_text("a recorded application (History lists them): its pressure trace is the target, "
                                 "from its first to its last contact; the attempt starts at your first contact",
                                 wrap=360)
                dpg.add_text("", tag=T.warn, color=view.AMBER, wrap=280 if narrow else 330)
                dpg.add_text("", tag=T.message, color=view.RED, wrap=280 if narrow else 330)
            self._build_views()
        self._on_preset()
        codes = self._student_codes()
        if codes:
            dpg.set_value(T.student, codes[0])
            self.student = codes[0]
        self._show_running(None)

    def _build_form(self) -> None:
        FORM_W = 145 if view.is_narrow() else 185  # noqa: N806 (the inputs' width; their labels follow)
        dpg.add_combo([*PRESETS, "custom"], default_value="moderate", tag=T.preset, label="preset", width=FORM_W,
                      callback=self._on_preset)
        dpg.add_input_float(tag=T.target, label="target (kPa)", width=FORM_W, step=0, format="%.1f")
        dpg.add_input_float(tag=T.tolerance, label="band ± %", default_value=10.0, width=FORM_W, step=0, format="%.1f")
        dpg.add_input_float(tag=T.hold, label="hold (s)", default_value=5.0, width=FORM_W, step=0, format="%.1f")
        dpg.add_input_int(tag=T.trials, label="trials", default_value=6, width=FORM_W, step=0)
        dpg.add_combo(list(SURFACES), default_value="pad", tag=T.surface, label="surface", width=FORM_W,
                      callback=self._on_settings)
        dpg.add_combo(SCHEDULES, default_value="constant", tag=T.schedule, label="feedback", width=FORM_W)
        dpg.add_input_text(tag=T.param, label="count / % / when", width=FORM_W,
                           hint="intermittent: 2 · self: after · yoked: partner code")
        dpg.add_combo(KR_CHOICES, default_value="always", tag=T.kr, label="result after", width=FORM_W)
        dpg.add_combo(list(PLANS), default_value="practice only", tag=T.plan, label="blocks", width=FORM_W)

    def _build_views(self) -> None:
        with dpg.child_window(border=False):
            dpg.add_text("", tag=T.phase, color=view.WHITE)
            if view._have_ttf:
                dpg.bind_item_font(T.phase, view.TAGS.font_medium)
            dpg.add_text("", tag=T.info, color=view.GREY, wrap=0)
            dpg.add_text("", tag=T.fb_text, color=view.AMBER)
            dpg.add_text("", tag=T.kr_text, color=view.GREEN, wrap=0)
            with dpg.tooltip(T.kr_text):
                dpg.add_text(_plain(SCORE_HELP), wrap=420)
            with dpg.plot(tag=T.plot, width=-1, height=260, no_menus=True, no_mouse_pos=True):
                dpg.add_plot_axis(dpg.mvXAxis, label="time in trial (s)", tag=T.x_axis)
                dpg.add_plot_axis(dpg.mvYAxis, label="", tag=T.y_axis)
                dpg.add_shade_series([], [], y2=[], parent=T.y_axis, tag=T.band)
                dpg.add_line_series([], [], parent=T.y_axis, tag=T.follow_target, label="expert")
                dpg.add_line_series([], [], parent=T.y_axis, tag=T.series)
                dpg.add_plot_annotation(tag=T.trial_empty, label="no drill: the trial's trace shows here"
                                        if view.is_narrow() else "no drill running: the trial's trace shows here",
                                        default_value=(0.5, 0.5), color=EMPTY_BG)
            dpg.bind_item_theme(T.series, view.TAGS.theme_trace)
            with dpg.theme() as expert_theme:  # the expert's curve: amber and wider, under the student's trace
                with dpg.theme_component(dpg.mvLineSeries):
                    dpg.add_theme_color(dpg.mvPlotCol_Line, (*view.AMBER, 255), category=dpg.mvThemeCat_Plots)
                    dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, 5.0, category=dpg.mvThemeCat_Plots)
            dpg.bind_item_theme(T.follow_target, expert_theme)
            with dpg.theme() as band_theme:
                with dpg.theme_component(dpg.mvShadeSeries):
                    dpg.add_theme_color(dpg.mvPlotCol_Fill, BAND, category=dpg.mvThemeCat_Plots)
            dpg.bind_item_theme(T.band, band_theme)
            dpg.add_text(_plain(SCORE_HELP), color=view.GREY, wrap=0)  # the scores, where the student looks
            # the two summary plots side by side, or one above the other below 1200 px (each whole, the
            # view scrolls): at a fixed height so their axes never shrink into the window's bottom edge
            narrow = view.is_narrow()
            with dpg.group(horizontal=not narrow):
                with dpg.group():
                    dpg.add_text("This student, block by block", color=view.GREY)
                    with dpg.group(horizontal=True, tag=T.progress_key):  # the plot's key: kinds drawn
                        for kind in BLOCK_KINDS:
                            dpg.add_text(kind, tag=f"{T.progress_key}.{kind}", color=KIND_COLOURS[kind], show=False)
                    with dpg.plot(tag=T.progress_plot, width=-1 if narrow else 240, height=SUMMARY_PLOT_H,
                                  no_menus=True, no_mouse_pos=True):
                        dpg.add_plot_axis(dpg.mvXAxis, label="block (in order)", tag=T.progress_x)
                        dpg.add_plot_axis(dpg.mvYAxis, label="absolute error", tag=T.progress_y)
                        dpg.add_plot_annotation(tag=T.progress_empty, label="no trials yet", default_value=(0.5, 0.5),
                                                color=EMPTY_BG)
                with dpg.group():
                    with dpg.group(horizontal=True):
                        dpg.add_text("Class, latest", color=view.GREY)
                        dpg.add_combo(list(BLOCK_KINDS), default_value="post-test", tag=T.class_kind,
                                      width=160 if narrow else -1,
                                      callback=lambda: self._mark_dirty())
                    with dpg.plot(tag=T.class_plot, width=-1, height=SUMMARY_PLOT_H, no_menus=True, no_mouse_pos=True):
                        dpg.add_plot_axis(dpg.mvXAxis, label="student", tag=T.class_x)
                        dpg.add_plot_axis(dpg.mvYAxis, label="absolute error", tag=T.class_y)
                        dpg.add_plot_annotation(tag=T.class_empty, label="choose a class", default_value=(0.5, 0.5),
                                                color=EMPTY_BG)
        for kind in BLOCK_KINDS:  # filled circles in the kind's colour
            with dpg.theme(tag=f"{T.progress_key}.theme.{kind}"), dpg.theme_component(dpg.mvScatterSeries):
                for col in (dpg.mvPlotCol_MarkerFill, dpg.mvPlotCol_MarkerOutline):
                    dpg.add_theme_color(col, (*KIND_COLOURS[kind], 255), category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_Marker, dpg.mvPlotMarker_Circle, category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_MarkerSize, PROGRESS_MARKER_PX, category=dpg.mvThemeCat_Plots)
        self._label_axes()
        for plot in ("trial", "progress", "class"):
            self._show_empty(plot, True)

    # ------------------------------------------------------------------ store
    def _open_store(self) -> None:
        try:
            from pointdose.training.store import TrainingStore

            self.store = TrainingStore.open()
        except Exception as exc:  # the drill still runs; results are then not kept, and we say so
            self.store, self.store_error = None, f"records unavailable: {exc}"

    def _student_codes(self) -> list[str]:
        return [s["code"] for s in self.store.students()] if self.store else []

    def _classes(self) -> list[dict]:
        return self.store.classes() if self.store else []

    # ------------------------------------------------------------------ callbacks
    def _on_student(self, sender=None, value=None, user=None) -> None:
        self.student = dpg.get_value(T.student) or None
        self._mark_dirty()

    def _on_add_student(self, *_a) -> None:
        code = dpg.get_value(T.new_student).strip()
        if not self.store:
            return self._say(self.store_error or "no records database")
        try:
            self.store.add_student(code)
        except Exception as exc:
            return self._say(str(exc))
        dpg.configure_item(T.student, items=self._student_codes())
        dpg.set_value(T.student, code)
        self.student = code
        self._say("")
        self._mark_dirty()

    def _on_preset(self, *_a) -> None:
        name = dpg.get_value(T.preset)
        if name in PRESETS:
            d = preset(name)
            dpg.set_value(T.target, round(display(d.target, d, self._unit), 2))
        self._on_settings()

    def _on_settings(self, *_a) -> None:
        try:
            d = self._drill()
        except (DrillError, ValueError) as exc:
            dpg.set_value(T.warn, str(exc))
            return
        dpg.set_value(T.warn, "\n".join(w.text for w in warnings(d)))

    def _drill(self) -> Drill:
        u = units.unit(self._unit)
        quantity = "pressure" if u.kind == "pressure" else "force"
        target = from_user(float(dpg.get_value(T.target)), u.key, quantity, self._area)
        return Drill(target=target, quantity=quantity, tolerance_pct=float(dpg.get_value(T.tolerance)),
                     hold_s=float(dpg.get_value(T.hold)), trials=int(dpg.get_value(T.trials)),
                     surface=dpg.get_value(T.surface), probe_area_cm2=self._area,
                     name=dpg.get_value(T.preset))

    def _schedule(self, drill: Drill) -> Schedule:
        kind, param, kr = dpg.get_value(T.schedule), dpg.get_value(T.param).strip(), dpg.get_value(T.kr)
        if kind == "yoked":  # the parameter names the self-controlled partner whose requests to replay
            if not param:
                raise ScheduleError("yoked: type the self-controlled partner's student code in the parameter field")
            if self.store is None:
                raise ScheduleError(self.store_error or "yoked needs the records database (the partner's requests)")
            schedule, n = self.store.yoked_schedule(param)
            if n != drill.trials:
                raise ScheduleError(f"{param}'s self-controlled block had {n} trials: set trials to {n}")
            return schedule
        text = f"{kind}:{param}" if param else kind
        return Schedule.parse(text, kr=kr if kind not in ("none", *ON_REQUEST) else None)

    def _on_start(self, *_a, ctx: PanelContext | None = None) -> None:
        ctx = ctx or self._ctx
        try:
            drill = self._drill()
            schedule = self._schedule(drill)
            plan = PLANS[dpg.get_value(T.plan)]
            if plan == "practice":
                blocks = [Block("practice", drill, schedule)]
            else:
                transfer = drill.with_(target=drill.target * 0.6) if plan == "transfer" else None
                blocks = standard_plan(drill, schedule, transfer=transfer)
        except (DrillError, ScheduleError, ValueError, UserError) as exc:
            return self._say(str(exc))
        self._start(ctx, blocks)

    def _start(self, ctx: PanelContext, blocks, *, simulated_student: bool = False) -> None:
        from pointdose.training.live import LiveTrainer

        link = ctx.controller.link
        if link is None:
            return self._say("no device yet: wait for it to connect")
        if self.trainer is not None and not self.trainer.finished:
            return self._say("a drill is running: stop it first")
        session_uid = None
        if self.store is not None and self.student:
            klass = dpg.get_value(T.klass) or None
            try:
                session_uid = self.store.start_session(self.student, class_name=klass)
            except Exception as exc:
                return self._say(str(exc))
        elif self.store is not None:
            return self._say("choose or add a student first (results are kept per student)")
        ctx.controller.stop_sim_demo()  # the controller's demo presses would press for the student
        try:
            model = ctx.model

            def gate(cue, model=model):  # on the trainer's thread, at the moment the gate changes
                model.hidden_note = training_hidden_note(cue.phase)
                model.feedback_visible = cue.feedback_on or cue.phase in ("done", "stopped", "idle")

            from pointdose.calibration.scale import scale_for

            # the scale the live view shows: the Calibrate tab's record for this device, else factory
            conv = scale_for(link, model.calibration_record, probe_area_cm2=blocks[0].drill.probe_area_cm2).require()
            self.trainer = LiveTrainer(link, blocks, store=self.store, session_uid=session_uid, conv=conv,
                                       get_ready_s=1.0 if simulated_student else 3.0, on_cue=gate)
        except Exception as exc:
            return self._say(f"cannot start the drill: {exc}")
        self.hand = None
        if simulated_student:
            from pointdose.training.hand import SimulatedStudent

            self.hand = SimulatedStudent(self.trainer, seed=2).start()
        self.trainer.start_thread()
        if self.follow is not None:  # the drill's view from now on (the follow's result is in the records)
            self.follow = None
            dpg.set_value(T.follow_target, [[], []])
            dpg.configure_item(T.x_axis, label="time in trial (s)")
        self._started_frame = ctx.now_s  # this frame was drawn before the drill: not logged as part of it
        self._say("")
        self._mark_dirty()

    def _on_stop(self, *_a) -> None:
        if self.follow is not None:
            self.follow.stop()
        if self.trainer is not None:
            self.trainer.stop("stopped by the user")  # the Stop button; kept as the block's end reason

    # ------------------------------------------------------------------ follow an expert's curve
    def start_follow(self, application_id, ctx: PanelContext | None = None) -> None:
        """Follow application ``application_id``'s pressure trace (the Follow button; tests call it)."""
        from pointdose.calibration.scale import scale_for
        from pointdose.training.follow import FollowRunner, curve_from_records
        from pointdose.training.live import RingRows

        ctx = ctx or self._ctx
        link = ctx.controller.link if ctx is not None else None
        if link is None:
            return self._say("no device yet: wait for it to connect")
        if (self.trainer is not None and not self.trainer.finished) or self.following():
            return self._say("a drill is running: stop it first")
        text = str(application_id or "").strip()
        if not text.isdigit():
            return self._say(f"application id {text!r}: type the number of a recorded application "
                             "(History lists them)" if text else "type the id of a recorded application first")
        if self.store is None:
            return self._say(self.store_error or "no records database: the expert's curve comes from the records")
        if not self.student:
            return self._say("choose or add a student first (results are kept per student)")
        area = ctx.model.settings.probe_area_cm2
        try:
            curve = curve_from_records(self.store.store, int(text))
            conv = scale_for(link, ctx.model.calibration_record, probe_area_cm2=area).require()
            session_uid = self.store.start_session(self.student, class_name=dpg.get_value(T.klass) or None)
        except Exception as exc:
            return self._say(str(exc))
        store, student = self.store, self.student

        def save(runner) -> None:  # on the runner's thread (the store is shared across threads)
            store.save_follow(session_uid, runner.curve, runner.score, runner.attempt.rows(), probe_area_cm2=area)
            self.follow_saved = f"kept in the training records for {student}"
            self._mark_dirty()

        ctx.controller.stop_sim_demo()  # the controller's demo presses would press for the student
        ctx.model.feedback_visible = True
        self.follow_saved = ""
        self.follow = FollowRunner(RingRows(link.ring, conv, area), curve, on_done=save).start_thread()
        self._say("")

    def _on_follow_pick(self, sender=None, value=None, user=None) -> None:
        dpg.set_value(T.follow_app, str(value or "").split(" ")[0])

    def following(self) -> bool:
        return self.follow is not None and not self.follow.finished.is_set()

    def _show_follow(self, ctx: PanelContext) -> None:
        from pointdose.app.model import follow_result_line, follow_status

        run = self.follow
        curve = run.curve
        running = not run.finished.is_set()
        self._enable(T.start, not running)
        self._enable(T.stop, running)
        self._enable(T.follow_start, not running)
        title, info = follow_status(run.phase, run.attempt, curve)
        dpg.set_value(T.phase, title)
        dpg.configure_item(T.phase, color=view.GREEN if run.phase == "following" else view.WHITE)
        dpg.set_value(T.info, _plain(info))
        dpg.set_value(T.fb_text, "")
        result = follow_result_line(run.score) if run.score is not None else ""
        saved = run.error or self.follow_saved
        dpg.set_value(T.kr_text, _plain("  ".join(x for x in (result, saved) if x)))
        if not self._trial_shown:
            self._trial_shown = True
            self._show_empty("trial", False)
        shown = lambda v: np.asarray(units.convert(np.asarray(v, dtype=float), "kPa", self._unit, self._area),  # noqa: E731
                                     dtype=float)
        dpg.set_value(T.follow_target, [curve.t_s.tolist(), shown(curve.kpa).tolist()])
        t, y = run.attempt.trace()
        step = max(1, len(t) // 1500)
        dpg.set_value(T.series, [t[::step].tolist(), shown(y[::step]).tolist()])
        dpg.set_value(T.band, [[], [], []])
        dpg.set_axis_limits(T.x_axis, 0.0, max(curve.duration_s, 1.0))
        top = max(float(np.max(curve.kpa)), float(np.max(y)) if len(y) else 0.0) * 1.2
        dpg.set_axis_limits(T.y_axis, 0.0, float(shown([top])[0]) or 1.0)
        dpg.configure_item(T.x_axis, label="time from your first contact (s)")
        self._series_len = len(t)

    def _request(self, moment: str) -> None:
        if self.trainer is not None:
            self.trainer.request(moment)

    def _say(self, text: str) -> None:
        dpg.set_value(T.message, text)

    def _mark_dirty(self) -> None:
        self._progress_dirty = True

    # ------------------------------------------------------------------ presentation helpers
    def _quantity_label(self) -> str:
        u = units.unit(self._unit)
        return f"{'pressure' if u.kind == 'pressure' else 'force'} ({u.symbol})"

    def _label_axes(self) -> None:
        """Every axis that shows a pressure or force names its unit (the display unit in use)."""
        sym = units.unit(self._unit).symbol
        dpg.configure_item(T.y_axis, label=self._quantity_label())
        dpg.configure_item(T.progress_y, label=f"absolute error ({sym})")
        dpg.configure_item(T.class_y, label=f"absolute error ({sym})")

    _EMPTY = {"trial": (T.plot, T.x_axis, T.y_axis, T.trial_empty), "progress": (T.progress_plot, T.progress_x,
              T.progress_y, T.progress_empty), "class": (T.class_plot, T.class_x, T.class_y, T.class_empty)}

    def _show_empty(self, plot: str, empty: bool, note: str | None = None) -> None:
        """An empty plot says why instead of showing meaningless 0–1 axes."""
        _plot, x_axis, y_axis, annotation = self._EMPTY[plot]
        if note is not None:
            dpg.configure_item(annotation, label=note)
        dpg.configure_item(annotation, show=empty)
        for axis in (x_axis, y_axis):
            dpg.configure_item(axis, no_tick_labels=empty, no_tick_marks=empty, no_gridlines=empty)
        if empty:
            dpg.set_axis_limits(x_axis, 0.0, 1.0)
            dpg.set_axis_limits(y_axis, 0.0, 1.0)

    def _show_running(self, tr) -> None:
        """While a drill runs, show what it is (not the form, which holds the next drill's settings)."""
        running = tr is not None and not tr.finished
        if self._shown_running == running and not running:
            return
        self._shown_running = running
        dpg.configure_item(T.form, show=not running)
        dpg.configure_item(T.running, show=running)
        self._enable(T.start, not running)
        self._enable(T.stop, running)
        if not running:
            self._enable(T.ask_before, False)
            self._enable(T.ask_after, False)
            return
        run = tr.current
        block = run.block if run is not None and hasattr(run, "block") else None
        index = max(len(tr.runs) - 1, 0)
        block = block or tr.blocks[min(index, len(tr.blocks) - 1)]
        d, sch = block.drill, block.schedule
        fb = sch.describe() if sch.kind != "none" else "none (a test: the student presses by feel)"
        lines = [f"student {self.student}" if self.student else "no student (results not kept)",
                 f"block {index + 1} of {len(tr.blocks)}: {block.kind}",
                 f"{d.name or 'custom'}: {d.describe(self._unit)}",
                 f"feedback: {fb}",
                 "result after a trial: " + ("when asked" if sch.kind == "self" else "where the partner asked"
                                             if sch.kind == "yoked" else sch.kr),
                 "blocks: " + " → ".join(b.kind for b in tr.blocks)]
        text = _plain("\n".join(lines))
        if self._running_text != text:
            self._running_text = text
            dpg.set_value(T.running_text, text)

    # ------------------------------------------------------------------ per frame
    _ctx: PanelContext | None = None

    def update(self, ctx: PanelContext) -> None:
        self._ctx = ctx
        unit, area = ctx.model.settings.unit, ctx.model.settings.probe_area_cm2
        if (unit, area) != (self._unit, self._area):
            self._unit, self._area = unit, area
            dpg.configure_item(T.target, label=f"target ({units.unit(unit).key})")
            self._on_preset()
            self._label_axes()
            self._mark_dirty()  # the progress plots are drawn in the display unit
        if self.demo and not self._demo_started:
            self._maybe_demo(ctx)
        if self.follow is not None and (self.trainer is None or self.trainer.finished):
            self._show_follow(ctx)
            self._refresh_progress()
            return
        tr = self.trainer
        self._show_running(tr)
        if tr is None:  # (the readout's visibility is the Session tab's then: a blinded PPT hides it)
            dpg.set_value(T.phase, "No drill running")
            dpg.set_value(T.info, "Set the drill on the left and press Start drill")
            self._refresh_progress()
            return
        cue = tr.cue
        running = not tr.finished
        ctx.model.feedback_visible = cue.feedback_on or not running  # (the trainer also sets it as it changes)
        if running:  # (after the drill the Session tab's blinded PPT may own the note)
            ctx.model.hidden_note = training_hidden_note(cue.phase)
        run = tr.current
        block = f"{cue.block}" if cue.block else ""
        left = f" · {cue.time_left_s:.1f} s" if cue.time_left_s is not None else ""
        dpg.set_value(T.phase, f"{cue.phase.upper()}{left}")
        dpg.configure_item(T.phase, color=PHASE_COLOURS.get(cue.phase, view.WHITE))
        dpg.set_value(T.info, _plain(f"{block} block {len(tr.runs)} of {len(tr.blocks)} · trial {cue.trial} of "
                                     f"{cue.trials} · feedback: {run.schedule.describe() if run else ''}"))
        dpg.set_value(T.fb_text, _plain(feedback_note(cue.phase, cue.feedback_on, running)))
        dpg.set_value(T.kr_text, cue.kr)
        self._enable(T.ask_before, running and cue.can_request_before)
        self._enable(T.ask_after, running and cue.can_request_after)
        self._show_trace(ctx, tr, cue)
        if tr.finished and self._progress_of is not tr:  # once: every trial of it is in the records by now
            self._progress_of = tr
            self._mark_dirty()
        self._refresh_progress()
        self._log(ctx, cue)

    def _enable(self, tag: str, on: bool) -> None:
        (dpg.enable_item if on else dpg.disable_item)(tag)

    def _show_trace(self, ctx: PanelContext, tr, cue) -> None:
        run = tr.current
        if run is None:
            return
        d = run.drill
        if not self._trial_shown:
            self._trial_shown = True
            self._show_empty("trial", False)
        shown = lambda v: np.asarray([display(x, d, self._unit) for x in v], dtype=float)  # noqa: E731
        dpg.set_axis_limits(T.x_axis, 0.0, d.trial_s + d.rest_s)
        top = display(d.band[1], d, self._unit) * 1.6
        dpg.set_axis_limits(T.y_axis, 0.0, top)
        xs = [0.0, d.trial_s]
        dpg.set_value(T.band, [xs, list(shown([d.band[1]] * 2)), list(shown([d.band[0]] * 2))])
        if not cue.feedback_on or not run._rows or cue.phase not in ("ramp", "hold", "release"):
            dpg.set_value(T.series, [[], []])
            self._series_len = 0
            return
        t0 = run._trial_t0 or 0.0
        rows = trial_trace(run._rows, t0)  # the whole trial so far, not the last chunks
        y = d.value_of(rows["force_n"], rows["pressure_kpa"])
        if d.quantity == "pressure":
            vals = units.to_display(units.force_n(y, self._area), self._unit, self._area)
        else:
            vals = units.to_display(y, self._unit, self._area)
        dpg.set_value(T.series, [(rows["t_s"] - t0).tolist(), np.asarray(vals, dtype=float).tolist()])
        self._series_len = len(rows)

    def _refresh_progress(self) -> None:
        """Draw the newest progress data read off the render thread; ask again when it is stale."""
        got = self._progress_data.take()
        if got is not None:
            self._draw_progress(got)
        listed = self._follow_list.take()
        if listed is not None and not listed.error:
            dpg.configure_item(T.follow_pick, items=[_plain(x) for x in listed.value])
        if not self._progress_dirty or self.store is None:
            return
        self._progress_dirty = False
        store, student = self.store, self.student
        self._follow_list.request(lambda: follow_choices(store.store))
        klass, kind = dpg.get_value(T.klass), dpg.get_value(T.class_kind)

        def load():  # on the worker: the records' training API
            return (store.progress(student) if student else None,
                    (klass, kind, store.class_comparison(klass, kind)) if klass else None)

        self._progress_data.request(load)

    def _draw_progress(self, got) -> None:
        if got.error:
            return self._say(got.error)
        blocks, classes = got.value
        for axis in (T.progress_y, T.class_y):
            for child in dpg.get_item_children(axis, 1) or []:
                dpg.delete_item(child)
        n_blocks, top = 0, 0.0
        by_kind: dict[str, tuple[list, list]] = {}
        if blocks is not None:
            for i, e in enumerate(blocks, start=1):
                s = e["score"]
                if s.absolute_error is None:
                    continue
                xs, ys = by_kind.setdefault(e["block"], ([], []))
                xs.append(float(i))
                ys.append(self._shown_error(s.absolute_error, e))
                n_blocks = i
            for kind, (xs, ys) in by_kind.items():
                series = dpg.add_scatter_series(xs, ys, label=kind, parent=T.progress_y)
                if kind in KIND_COLOURS:
                    dpg.bind_item_theme(series, f"{T.progress_key}.theme.{kind}")
                top = max(top, *ys)
        drawn = set(by_kind) if n_blocks else set()
        for kind in BLOCK_KINDS:
            dpg.configure_item(f"{T.progress_key}.{kind}", show=kind in drawn)
        if n_blocks:
            self._show_empty("progress", False)
            # whole blocks on x; y from zero, so a single block is not blown up into a misleading slope
            dpg.set_axis_limits(T.progress_x, 0.5, n_blocks + 0.5)
            ticks = tuple((str(i), float(i)) for i in range(1, n_blocks + 1))
            if n_blocks <= 10:
                dpg.set_axis_ticks(T.progress_x, ticks)
            else:
                dpg.reset_axis_ticks(T.progress_x)
            dpg.set_axis_limits(T.progress_y, 0.0, top * 1.3 or 1.0)
        else:
            self._show_empty("progress", True, "no trials yet" if self.student else "choose a student")
        if classes is None:
            return self._show_empty("class", True, "choose a class")
        _, kind, rows = classes
        scored = [(i, r) for i, r in enumerate(rows, start=1) if r["score"] and r["score"].absolute_error is not None]
        if not scored:
            return self._show_empty("class", True, f"no {kind} trials yet")
        self._show_empty("class", False)
        xs = [float(i) for i, _ in scored]
        ys = [self._shown_error(r["score"].absolute_error, r) for _, r in scored]
        dpg.add_bar_series(xs, ys, weight=0.6, parent=T.class_y)
        dpg.set_axis_ticks(T.class_x, tuple((r["student"], float(i)) for i, r in enumerate(rows, start=1)))
        dpg.set_axis_limits(T.class_x, 0.5, len(rows) + 0.5)
        dpg.set_axis_limits(T.class_y, 0.0, max(ys) * 1.3 or 1.0)

    def _shown_error(self, error: float, entry: dict) -> float:
        """An absolute error from the records (in the drill's own kPa or N) in the display unit."""
        drill = Drill(target=max(entry["target"], 1e-9), quantity=entry["quantity"])
        return float(display(error, drill, self._unit))

    # ------------------------------------------------------------------ demo / test hooks
    def _maybe_demo(self, ctx: PanelContext) -> None:
        frame = ctx.frame
        if frame is None or not frame.streaming or ctx.controller.link is None:
            return
        self._demo_started = True
        if self.tab is not None:
            dpg.set_value(view.TAGS.tabs, self.tab)
        if self.store is not None:
            code = "DEMO-1"
            if code not in self._student_codes():
                self.store.add_student(code)
                dpg.configure_item(T.student, items=self._student_codes())
            dpg.set_value(T.student, code)
            self.student = code
        drill = preset("moderate", trials=3, ramp_s=1.5, hold_s=2.0, release_s=0.5, rest_s=1.0)
        try:
            schedule = Schedule.parse(self.demo)
        except ScheduleError as exc:
            return self._say(f"{ENV_DEMO}: {exc}")
        kind = "practice" if schedule.kind != "none" else "post-test"
        self._start(ctx, [Block(kind, drill, schedule)], simulated_student=True)

    def _log(self, ctx: PanelContext, cue) -> None:
        if not self.state_path or ctx.now_s <= getattr(self, "_started_frame", -1.0):
            return
        f = ctx.frame
        self.state_log.append({"t": ctx.now_s, "phase": cue.phase, "trial": cue.trial, "feedback_on": cue.feedback_on,
                               "model_visible": ctx.model.feedback_visible,
                               "main_readout": f.readout if f else None,
                               "main_trace_points": int(len(f.trace_x)) if f else None,
                               "panel_trace_points": self._series_len, "kr": cue.kr})

    def close(self) -> None:
        self._progress_data.close()  # its read ends before the store closes
        self._follow_list.close()
        if self.follow is not None:
            self.follow.close()
        if getattr(self, "hand", None) is not None:
            self.hand.stop()
        if self.trainer is not None:
            self.trainer.stop("app closed")
            self.trainer.close()
        if self.state_path:
            out = {"log": self.state_log,
                   "feedback_log": [list(x) for r in (self.trainer.runs if self.trainer else []) for x in r.feedback_log],
                   "planned": [list(r.plan.concurrent) for r in (self.trainer.runs if self.trainer else [])]}
            Path(self.state_path).write_text(json.dumps(out))
        if self.store is not None:
            self.store.close()


FOLLOW_CHOICES = 40  # the newest applications offered as curves to follow (any other: type its id)


def follow_choices(store) -> list[str]:
    """The newest recorded applications with some contact, as "ID · client · protocol · point · date"."""
    rows = store.query("SELECT a.id, a.protocol, a.started_at, c.code, p.label, p.side FROM applications a "
                       "JOIN sessions s ON a.session_id=s.id JOIN clients c ON s.client_id=c.id "
                       "JOIN points p ON a.point_id=p.id LEFT JOIN application_metrics m ON m.application_id=a.id "
                       "WHERE COALESCE(m.contact_s, 1) > 0.5 ORDER BY a.id DESC LIMIT ?", (FOLLOW_CHOICES,))
    return [f"{r['id']} · {r['code']} · {r['protocol'] or 'free'} · {r['label']} ({r['side']}) · "
            f"{str(r['started_at'])[:16].replace('T', ' ')}" for r in rows]


def _plain(text: str) -> str:
    """Text safe for the built-in ASCII font when no TTF was found."""
    return view._text(text)
