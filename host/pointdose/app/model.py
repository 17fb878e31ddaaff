"""What the app shows, computed without DearPyGui: calibration, decimation, readout, status rows.

The render loop calls :meth:`LiveModel.frame` once per frame with the controller's
:class:`SourceStatus` and gets a :class:`FrameView`: plain numbers and strings that the view puts
on screen. The model reads the newest window of the link's sample ring each time (never a queue of
old updates), so a slow frame costs one frame, not a backlog.

The model depends only on the ring's public methods (``window(seconds)``, ``version``) and the
link's public attributes (``ring``, ``device`` (a DeviceInfo), ``stats``, ``state``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pointdose import units
from pointdose.link.info import DeviceInfo, device_info

# --------------------------------------------------------------------------- calibration


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class DisplaySettings:
    """What the user chose to see."""

    unit: str = units.DEFAULT_UNIT
    probe_area_cm2: float = units.DEFAULT_PROBE_AREA_CM2
    window_s: float = 30.0
    readout_average_s: float = 0.1  # the big number is the mean of the last 100 ms: readable, not jittery


@dataclass(frozen=True)
class Scale:
    """Raw counts → display values for one calibration and settings.

    ``calibration`` is the :class:`pointdose.calibration.Converter` that
    :func:`pointdose.calibration.scale_for` chose (the wizard's record, else the factory scale), or
    None (uncalibrated: counts net of the device's tare).
    """

    calibration: object | None
    unit_key: str
    probe_area_cm2: float
    raw_tare: float = 0.0  # used only when uncalibrated: counts are shown net of the device tare
    source: str = ""  # pointdose.calibration.scale: "calibration", "factory" or "uncalibrated"

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    @property
    def label(self) -> str:
        return units.unit(self.unit_key).symbol if self.calibrated else "counts"

    def values(self, raw) -> np.ndarray:
        if self.calibration is None:
            return np.asarray(raw, dtype=np.float64) - self.raw_tare
        return np.asarray(units.to_display(self.calibration.force_n(raw), self.unit_key, self.probe_area_cm2),
                          dtype=np.float64)

    def range_note(self, value: float, raw: float | None = None) -> str:
        """"above calibrated 60 N" (etc.) when a displayed value lies beyond the calibrated range."""
        if self.calibration is None:
            return ""
        force = float(units.from_display(value, self.unit_key, self.probe_area_cm2))
        return self.calibration.range_note(force, raw)

    def format(self, value: float) -> str:
        if not self.calibrated:
            text = f"{value:.0f}"
            return "0" if text == "-0" else text
        return units.format_value(value, self.unit_key)

    def default_span(self) -> float:
        """The y range shown when the signal is small: 100 kPa on the probe, or raw 1000 counts."""
        if self.calibration is None:
            return 1000.0
        return float(units.convert(100.0, "kPa", self.unit_key, self.probe_area_cm2))


# --------------------------------------------------------------------------- pure helpers


def decimate_minmax(x: np.ndarray, y: np.ndarray, column_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a time series (``x`` ascending) to at most two points per column of ``column_width``.

    Each column keeps its minimum and its maximum, in the order they occurred, at their own x, so
    a one-sample spike survives; the last sample is always kept so the trace ends at the newest
    value. Columns are anchored to x = 0, not to the window's start, so as the window scrolls a
    column holds the same samples from frame to frame (no shimmer). Series already short enough
    are returned as they are.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.size
    if n == 0 or column_width <= 0:
        return x, y
    col = np.floor(x / column_width).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    if n <= 2 * starts.size:
        return x, y
    seg_len = np.diff(np.r_[starts, n])
    seg_of = np.repeat(np.arange(starts.size), seg_len)
    mins = np.minimum.reduceat(y, starts)
    maxs = np.maximum.reduceat(y, starts)

    def first_where(mask: np.ndarray) -> np.ndarray:
        hits = np.flatnonzero(mask)
        keep = np.r_[True, seg_of[hits][1:] != seg_of[hits][:-1]]
        return hits[keep]  # one hit per column, since every column has its own min and max

    i_min = first_where(y == mins[seg_of])
    i_max = first_where(y == maxs[seg_of])
    idx = np.column_stack([np.minimum(i_min, i_max), np.maximum(i_min, i_max)]).ravel()
    if idx[-1] != n - 1:
        idx = np.r_[idx, n - 1]
    idx = idx[np.r_[True, idx[1:] != idx[:-1]]]
    return x[idx], y[idx]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ ``value`` (for axis limits that do not jitter)."""
    if value <= 0:
        return 0.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)


def y_limits(lo: float, hi: float, min_span: float) -> tuple[float, float]:
    """Axis limits that include 0 and the data with 10 % headroom, rounded to nice numbers."""
    top = nice_ceiling(max(hi * 1.1, min_span)) if hi > 0 else nice_ceiling(min_span)
    bottom = -nice_ceiling(-lo * 1.1) if lo < 0 else 0.0
    # a little room under zero, so a trace resting at 0 is not hidden by the axis line
    return bottom - 0.03 * (top - bottom), top


def span_limits(lo: float, hi: float, min_span: float) -> tuple[float, float]:
    """Axis limits around the data alone (raw counts: their zero means nothing), on step multiples."""
    mid = (lo + hi) / 2
    half = max((hi - lo) * 0.55, min_span / 2)
    step = nice_ceiling(half / 2.5)
    return math.floor((mid - half) / step) * step, math.ceil((mid + half) / step) * step


def is_stale(last_rx_s: float | None, now_s: float, rate_hz: float | None, floor_s: float = 0.5) -> bool:
    """True when the newest sample is older than 5 sample periods (at least ``floor_s``)."""
    if last_rx_s is None:
        return True
    period = 1.0 / rate_hz if rate_hz and rate_hz > 0 else 0.1
    return now_s - last_rx_s > max(floor_s, 5 * period)


def shorten(text: str, width: int = 28) -> str:
    """``text`` cut to ``width`` characters, keeping its end (the informative part of a port path)."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def fit_width(text: str, room: float, width) -> str:
    """``text``, or its end after "…" when it is wider than ``room`` px by ``width(text)`` (the view's
    font metrics): a port path's end tells most, and a value never runs off the left column."""
    if room <= 0 or len(text) < 8 or width(text) <= room:
        return text
    for keep in range(len(text) - 1, 3, -1):
        short = "…" + text[-keep:]
        if width(short) <= room:
            return short
    return "…" + text[-4:]


def format_count(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{int(number):,}"


# --------------------------------------------------------------------------- per-frame view


@dataclass(frozen=True)
class SourceStatus:
    """What the controller says about the data source, read once per frame."""

    phase: str  # "scanning", "starting-sim", "connecting", "connected", "error", "closed"
    message: str  # a sentence for the user, e.g. "Scanning for boards…"
    link: object | None = None
    simulated: bool = False
    backend_label: str = ""
    port: str = ""
    error: str = ""
    busy_action: str = ""  # e.g. "taring…" while a command runs on the controller thread


@dataclass(frozen=True)
class FrameView:
    trace_x: np.ndarray
    trace_y: np.ndarray
    y_limits: tuple[float, float]
    y_label: str
    readout: str
    readout_unit: str
    readout_note: str
    readout_level: str  # "live", "stale", "none"
    readout_caption: str  # "Pressure now", "Force now" or "Reading now" (raw counts)
    units_apply: bool  # False while uncalibrated: the unit choice has no effect, the view greys it
    state_text: str
    state_level: str  # "ok", "busy", "warn", "error"
    rows: tuple[tuple[str, str], ...]
    simulated: bool
    sim_text: str
    streaming: bool
    can_command: bool
    new_rx_s: np.ndarray  # host arrival times of samples drawn for the first time in this frame


_EMPTY = np.zeros(0, dtype=np.float64)


def _get(obj, name, default=None):
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _state_name(state) -> str:
    if state is None:
        return ""
    name = getattr(state, "name", None) or str(state)
    return name.split(".")[-1].lower()


class LiveModel:
    """Turns the ring's newest window into a FrameView; keeps only what frames share (caches)."""

    def __init__(self, settings: DisplaySettings | None = None):
        self.settings = settings or DisplaySettings()
        self._cache_key = None
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] = (_EMPTY, _EMPTY, _EMPTY)
        self._last_rx_drawn = -math.inf
        self._y_top = 0.0
        self._readout_values: np.ndarray | None = None  # the newest readout_average_s, display unit
        self._readout_raw: float | None = None  # the newest raw reading (saturation flag)
        self.calibration_record = None  # set by the Calibrate panel: pointdose.calibration.CalibrationRecord
        self._measured_hz = 0.0
        # False while a training drill hides the pressure (pointdose.training: feedback off) or a
        # blinded PPT runs: the trace, the readout and the axis scale then reveal nothing. Set by the
        # Training and Session panels, with the note the readout shows meanwhile.
        self.feedback_visible = True
        self.hidden_note = "feedback off (training)"

    # ---- settings (called from view callbacks, on the render thread)
    def set_unit(self, key: str) -> None:
        self.settings.unit = units.unit(key).key
        self._cache_key = None
        self._y_top = 0.0

    def set_probe_area(self, cm2: float) -> None:
        from pointdose.protocols.values import setting

        # the one number checker (finite, in range); ValueError for the view, which resets the box
        self.settings.probe_area_cm2 = float(setting(cm2, "probe_area_cm2", "probe area", error=ValueError))
        self._cache_key = None
        self._y_top = 0.0

    def set_calibration_record(self, record) -> None:
        """Show values through ``record`` (a pointdose.calibration.CalibrationRecord) for its device;
        None goes back to hello's factory scale."""
        self.calibration_record = record
        self._cache_key = None
        self._y_top = 0.0

    def scale_for(self, device) -> Scale:
        """The display scale for ``device`` (a link, DeviceInfo or hello dict): the Calibrate tab's
        record when it fits this device, else the factory scale, else counts."""
        from pointdose.calibration.scale import scale_for

        dev = device_info(device)
        chosen = scale_for(dev, getattr(self, "calibration_record", None), probe_area_cm2=self.settings.probe_area_cm2)
        return Scale(chosen.converter, self.settings.unit, self.settings.probe_area_cm2, raw_tare=dev.tare,
                     source=chosen.source)

    # ---- the per-frame work
    def frame(self, status: SourceStatus, now_s: float, columns: int) -> FrameView:
        link = status.link
        dev = device_info(link) if link is not None else DeviceInfo()
        stats = _get(link, "stats", None)
        ring = _get(link, "ring", None)
        state = _state_name(_get(link, "state", None))
        rate = dev.rate_hz
        scale = self.scale_for(dev)
        window_s = self.settings.window_s

        t, y, rx = self._decimated(ring, scale, columns, window_s)
        x = t - now_s
        hidden = not self.feedback_visible
        if hidden:
            x = y = _EMPTY
        new_rx = rx[rx > self._last_rx_drawn] if rx.size else _EMPTY
        if rx.size:
            self._last_rx_drawn = max(self._last_rx_drawn, float(rx[-1]))

        # readout: the mean of the newest readout_average_s of data
        readout, level, note = "—", "none", ""
        last_rx = float(rx[-1]) if rx.size else None
        if hidden:
            note = self.hidden_note
        elif self._readout_values is not None and self._readout_values.size:
            readout = scale.format(float(self._readout_values.mean()))
            level = "live"
        stale = state in ("streaming", "lost") and is_stale(last_rx, now_s, rate)
        if level == "live" and stale:
            level = "stale"
            note = f"no data for {now_s - last_rx:.1f} s" if last_rx is not None else "no data"
        elif level == "live" and state not in ("streaming",):
            note = "stopped"
        known = bool(dev.fields)  # before a device says hello there is nothing to call uncalibrated
        if known and not scale.calibrated:
            note = "uncalibrated" + (f" · {note}" if note else "")
        elif known and scale.source == "factory":  # values through the device's own scale, never checked here
            # (short enough for the narrow column; the Calibrate tab and the records say "error unknown")
            note = "uncalibrated" + (f" · {note}" if note else "")
        elif level in ("live", "stale"):  # calibration: flag a reading beyond the calibrated range
            flag = scale.range_note(float(self._readout_values.mean()), self._readout_raw)
            note = flag + (f" · {note}" if note and flag else note)

        lo = float(y.min()) if y.size else 0.0
        hi = float(y.max()) if y.size else 0.0
        if scale.calibrated:
            y_lim = y_limits(lo, hi, scale.default_span())
            # grow at once, shrink only when the data falls under 40 % of the axis: the axis stays still
            if y_lim[1] > self._y_top or hi < 0.4 * self._y_top:
                self._y_top = y_lim[1]
            y_lim = (y_lim[0], self._y_top)
            if y_lim[0] < 0 and y_lim[0] > -0.05 * self._y_top:  # keep the under-zero margin in step with the top
                y_lim = (-0.03 * self._y_top, self._y_top)
        else:
            y_lim = span_limits(lo, hi, scale.default_span())

        state_text, state_level = self._state_line(status, state, stale)
        rows = self._rows(status, dev, stats, rate, ring, now_s)
        sim_text = ""
        if status.simulated:
            sim_text = status.backend_label or "simulated device"
        chosen = units.unit(self.settings.unit)
        if known and not scale.calibrated:
            unit_text, y_label, caption = "counts", "raw reading (counts, uncalibrated)", "Reading now"
        else:
            unit_text = chosen.symbol
            quantity = "pressure" if chosen.kind == "pressure" else "force"
            y_label, caption = f"{quantity} ({unit_text})", f"{quantity.capitalize()} now"
        return FrameView(
            trace_x=x, trace_y=y, y_limits=y_lim, y_label=y_label,
            readout=readout, readout_unit=unit_text, readout_note=note, readout_level=level,
            readout_caption=caption, units_apply=not (known and not scale.calibrated),
            state_text=state_text, state_level=state_level, rows=rows,
            simulated=status.simulated, sim_text=sim_text,
            streaming=state == "streaming", can_command=link is not None and state in ("connected", "streaming"),
            new_rx_s=new_rx,
        )

    # ---- helpers
    def _decimated(self, ring, scale: Scale, columns: int, window_s: float):
        """Decimated (t, y, rx) for the newest window; recomputed only when the ring changed."""
        if ring is None:
            self._readout_values = None
            self._measured_hz = 0.0
            return _EMPTY, _EMPTY, _EMPTY
        columns = max(16, int(columns))
        version = _get(ring, "version", None)
        if callable(version):
            version = version()
        key = (version, columns, scale)
        if key[0] is not None and key == self._cache_key:
            return self._cache
        window = ring.window(window_s)
        t = np.asarray(window["t_dev_s"], dtype=np.float64)
        rx_all = np.asarray(window["t_host_rx_s"], dtype=np.float64)
        values = scale.values(window["raw"])
        if t.size:
            recent = t >= t[-1] - self.settings.readout_average_s
            self._readout_values = values[recent]
            self._readout_raw = float(window["raw"][-1])
            last_s = t[t >= t[-1] - 1.0]
            span = float(last_s[-1] - last_s[0]) if last_s.size > 1 else 0.0
            self._measured_hz = (last_s.size - 1) / span if span > 0.5 else 0.0
        else:
            self._readout_values = None
            self._measured_hz = 0.0
        xd, yd = decimate_minmax(t, values, window_s / columns)
        self._cache_key = key
        self._cache = (xd, yd, rx_all)
        return self._cache

    def _state_line(self, status: SourceStatus, state: str, stale: bool) -> tuple[str, str]:
        if status.error:
            return status.error, "error"
        if status.link is None or status.phase != "connected":
            return status.message, "busy"
        if status.busy_action:
            return status.busy_action, "busy"
        if state == "streaming":
            return ("Streaming — but no data arriving", "warn") if stale else ("Streaming", "ok")
        if state == "lost":
            return "Connection lost — reconnecting…", "warn"
        if state == "connected":
            return "Connected, stopped (press Start)", "ok"
        if state == "connecting":
            return "Connecting…", "busy"
        if state == "closed":
            return "Closed", "warn"
        return state.capitalize() or status.message, "busy"

    def _rows(self, status: SourceStatus, dev: DeviceInfo, stats, rate, ring, now_s) -> tuple[tuple[str, str], ...]:
        board = dev.board or "—"
        sensor = dev.sensor or "—"
        uid = dev.uid or "—"
        fw = dev.fw
        proto = dev.proto
        rows = [
            ("Port", shorten(status.port) or "—"),
            ("Device", f"{board} · {sensor}" if dev.fields else "—"),
            ("Device id", str(uid)),
            ("Firmware", f"{fw} (protocol {proto})" if fw else "—"),
            ("Sample rate", f"{rate:.0f} Hz" if rate else "—"),
            # a row of its own: beside the nominal rate it ran off the narrow (1024 px) left column
            ("Measured rate", f"{self._measured_hz:.0f} Hz" if self._measured_hz else "—"),
            ("Samples received", format_count(_get(stats, "samples"))),
            ("Lost samples", format_count(_get(stats, "lost_samples"))),
            ("Device overflow", format_count(_get(stats, "device_overflow"))),
            ("Device fell behind", format_count(_get(stats, "device_missed"))),
            ("CRC errors", format_count(_get(stats, "crc_errors"))),
            ("Framing errors", format_count(_get(stats, "framing_errors"))),
            ("Reconnects", format_count(_get(stats, "reconnects"))),
            ("Back from the REPL", format_count(_get(stats, "repl_recoveries"))),
        ]
        return tuple(rows)


# --------------------------------------------------------------------------- frame statistics


@dataclass
class FrameStats:
    """Frames per second and sample-to-screen latency, gathered by the render loop."""

    frames: int = 0
    samples_displayed: int = 0
    frame_times: list[float] = field(default_factory=list)
    latencies_s: list[np.ndarray] = field(default_factory=list)
    max_latency_chunks: int = 100_000

    _seen_data: bool = False

    def record(self, presented_s: float, new_rx_s: np.ndarray) -> None:
        self.frames += 1
        self.frame_times.append(presented_s)
        if new_rx_s.size:
            self.samples_displayed += int(new_rx_s.size)
            first, self._seen_data = not self._seen_data, True
            # the first batch is whatever the ring held before the window saw it: not a latency
            if not first and len(self.latencies_s) < self.max_latency_chunks:
                self.latencies_s.append(presented_s - new_rx_s)

    def fps_median(self, skip: int = 10) -> float:
        times = np.asarray(self.frame_times[skip:])
        if times.size < 3:
            return 0.0
        intervals = np.diff(times)
        intervals = intervals[intervals > 0]
        return float(1.0 / np.median(intervals)) if intervals.size else 0.0

    def latency_quantiles_ms(self) -> dict[str, float]:
        if not self.latencies_s:
            return {}
        all_lat = np.concatenate(self.latencies_s) * 1e3
        return {"median": float(np.median(all_lat)), "p99": float(np.percentile(all_lat, 99)),
                "max": float(all_lat.max())}

    def report(self) -> dict:
        return {"frames": self.frames, "samples_displayed": self.samples_displayed,
                "fps_median": self.fps_median(), "latency_ms": self.latency_quantiles_ms()}


# ----------------------------------------------------------------------------- Training tab (no dpg)

FEEDBACK_PHASES = ("ramp", "hold", "release")  # the phases where the student presses
SCORE_HELP = ("CE = mean signed error (bias; negative = too light) · AE = mean size of the errors · "
              "VE = spread around the student's own mean (consistency) · E = total error, E² = CE² + VE²")


def trial_trace(chunks, t0: float | None):
    """The current trial's whole trace: every chunk the trainer holds, from the trial's start ``t0`` on.

    (The trainer keeps the rows of the current trial only, so this is bounded by one trial.)
    """
    if not chunks:
        return None
    rows = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    return rows[rows["t_s"] >= (t0 or 0.0)]


def feedback_note(phase: str, feedback_on: bool, running: bool) -> str:
    """What the Training tab says about feedback: only while the student presses, never after the drill."""
    if not running or phase not in FEEDBACK_PHASES:
        return ""
    return "FEEDBACK ON" if feedback_on else "feedback off — press by feel"


def follow_status(phase: str, attempt, curve) -> tuple[str, str]:
    """The Training tab's title and line for a follow attempt (pointdose.training.follow)."""
    if phase == "waiting":
        return "FOLLOW — press when ready", (f"follow {curve.source} (amber; you: blue): {curve.duration_s:.1f} s, "
                                              f"peak {float(curve.kpa.max()):.0f} kPa; it starts at your first contact")
    if phase == "following":
        t, _ = attempt.trace()
        done = float(t[-1]) if len(t) else 0.0
        return (f"FOLLOWING · {max(0.0, curve.duration_s - done):.1f} s",
                f"follow {curve.source} (amber; you: blue): {min(done, curve.duration_s):.1f} of "
                f"{curve.duration_s:.1f} s")
    words = {"done": "FOLLOW DONE", "stopped": "FOLLOW STOPPED", "no contact": "FOLLOW — NO CONTACT"}
    why = {"no contact": "nobody pressed: nothing was scored", "stopped": "stopped before the end of the curve"}
    return words.get(phase, phase.upper()), (f"{curve.source} (amber; you: blue)"
                                             + (f" · {why[phase]}" if phase in why else ""))


def follow_result_line(score) -> str:
    """CE, |CE|, AE, VE, E over the trace (kPa) and coverage: the result of a follow attempt."""
    def f(v):
        return "—" if v is None else f"{v:.1f}"

    text = (f"CE {f(score.constant_error)} · |CE| {f(score.abs_constant_error)} · AE {f(score.absolute_error)} · "
            f"VE {f(score.variable_error)} · E {f(score.total_error)} kPa over {score.n} samples "
            f"({100 * score.coverage:.0f} % of the curve)")
    return text + "".join(f"; {n}" for n in score.notes)


def training_hidden_note(phase: str) -> str:
    """The main readout's note while a drill hides it: "feedback off" only while the student presses."""
    if phase in FEEDBACK_PHASES:
        return "feedback off (training)"
    return "between trials (training)" if phase in ("rest", "ready") else "hidden (training)"


# ----------------------------------------------------------------------------- Session tab (no dpg)


def run_summary_lines(summary: dict, end_reason: str | None = None) -> list[str]:
    """The end-of-run summary from the engine's summary (pointdose.metrics numbers, not recomputed).

    Dose is in kPa·s whatever the display unit (docs/metrics.md defines it in kPa·s).
    """
    if not summary:
        return []

    def num(key, fmt):
        v = summary.get(key)
        return "—" if v is None else format(v, fmt)

    reason = end_reason or summary.get("end_reason") or "—"
    cycles = f"{summary.get('cycles_done', 0)} of {summary.get('cycles', '—')}"
    return [f"Ended: {reason} · duration {num('duration_s', '.1f')} s · cycles {cycles}",
            f"dose {num('dose_kpa_s', '.0f')} kPa·s · contact {num('contact_s', '.1f')} s · "
            f"time in band {num('time_in_band_s', '.1f')} s"]


# ----------------------------------------------------------------------------- Points tab (no dpg)


def under_pressure(seconds: float) -> str:
    """Time under pressure (contact time, docs/metrics.md) as the body map shows it: "45 s", "2 min 05 s"."""
    s = max(0, int(round(seconds)))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def treated_lines(treated, limit: int = 8) -> list[str]:
    """The Points tab's list of treated points, the largest dose first: name, dose and time under pressure.

    ``treated``: (name, dose kPa·s, contact s) per point, summed over the session's applications."""
    rows = sorted(treated, key=lambda t: -t[1])
    return [f"{name}:\n  {dose:,.0f} kPa·s · {under_pressure(contact)} under pressure" for name, dose, contact
            in rows[:limit]]


# ----------------------------------------------------------------------------- History tab (no dpg)

# (header, fixed width px or None = takes the rest). Two values share a cell, one above the other, so
# the table fits 1024 px with room left for the PPT change notes; units are in the cells.
HISTORY_COLUMNS = (("date · protocol", 120), ("duration · contact", 150), ("dose · PPT", 130),
                   ("PPT change (vs MDC95)", None))


def history_cells(entry) -> tuple[str, str, str]:
    """The first three cells of a History row for a :class:`pointdose.records.history.Entry`."""
    ppt = (f"{entry.ppt_before_kpa:.0f} → {entry.ppt_after_kpa:.0f} kPa" if entry.ppt_before_kpa is not None
           and entry.ppt_after_kpa is not None else "PPT —")
    return (f"{entry.date}\n{entry.protocol or '—'}",
            f"{entry.duration_s:.0f} s\n{entry.contact_s:.1f} s",
            f"{entry.dose_kpa_s:,.0f} kPa·s\n{ppt}")

