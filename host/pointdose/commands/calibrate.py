"""``pointdose calibrate``: fit a CSV, run the wizard in a terminal, show, verify, check zero drift.

Subcommands::

    pointdose calibrate fit POINTS.csv [--model linear|fsr] [--json] [--tolerance-pct P | --tolerance-n N]
    pointdose calibrate run  [--port P | --sim] [--reference masses|scale|gauge] [--unit kg] [--loads 4] …
    pointdose calibrate show [--port P | --sim | --uid UID] [--json]
    pointdose calibrate verify [--port P | --sim] [--unit kg]
    pointdose calibrate drift  [--port P | --sim] [--seconds 60]

``run``, ``verify`` and ``drift`` read what the user types from standard input, one line at a time,
so they can be scripted: a reference reading (``12.5`` or ``12.5 kg``), ``redo`` (record this step
again), ``skip`` (skip FSR conditioning), ``quit``; and, for scripts and bench work, a line
starting with ``!`` is sent to the device as a command (``!sim force 20`` presses the simulated
sensor). After a ``!`` line or a reference, input waits until the step's reading is recorded, so a
script gives each step its lines in order: ``!sim force 0`` for the zero, then ``!sim force 20`` and
``2.04`` for a load, and so on.

On the simulated device nothing presses the sensor, so ``run`` says at each step what to type
(:func:`pointdose.calibration.wizard.sim_hint`), and ``sim`` alone applies the suggested force
(``sim 25`` applies 25 N): the same as the Calibrate tab's "Apply" button.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import queue
import sys
import threading
import time
from pathlib import Path

from pointdose.errors import UserError
from pointdose.link.info import device_info
from pointdose.textout import json_text

DEFAULT_STEP_TIMEOUT_S = 600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="calibrate_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("fit", help="fit reference points from a CSV (raw,force_n[,direction][,sd])",
                       description="Fit a CSV of reference points with the same code the wizard uses.")
    p.add_argument("csv", metavar="POINTS.csv", help="columns raw,force_n; optional direction (load/unload), sd")
    p.add_argument("--model", choices=("linear", "fsr"), default="linear",
                   help="linear (load cell, default) or fsr (force-sensing resistor on a divider)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _tolerance_args(p)
    p.add_argument("--raw-min", type=float, help="the sensor's lowest raw reading (saturation); "
                   "default: -8388608 for linear, 0 for fsr")
    p.add_argument("--raw-max", type=float, help="the sensor's highest raw reading; default: 8388607 / 65535")

    p = sub.add_parser("run", help="calibrate a device step by step in the terminal (the app's wizard)")
    _device_args(p)
    p.add_argument("--model", choices=("linear", "fsr"), help="default: fsr for an ADC (FSR) sensor, else linear")
    p.add_argument("--reference", choices=("masses", "scale", "gauge"), default="scale",
                   help="known masses, a kitchen/bathroom scale pressed with the probe (default), or a force gauge")
    p.add_argument("--unit", help="unit the reference is read in: g, kg, lb, N, kgf, lbf (default kg; N for a gauge)")
    p.add_argument("--loads", type=int, default=4, help="number of loads, at least 3 (default 4)")
    p.add_argument("--top-load", type=float, metavar="X", help="your top load in --unit, for suggestions")
    p.add_argument("--hold-s", type=float, default=1.5, help="seconds a reading must stay steady (default 1.5)")
    p.add_argument("--steady-pct", type=float, default=1.0, help="steady means within ± this %% (default 1)")
    p.add_argument("--presses", type=int, default=5, help="FSR conditioning presses (default 5)")
    _tolerance_args(p)
    _probe_args(p)
    p.add_argument("--step-timeout", type=float, default=DEFAULT_STEP_TIMEOUT_S, metavar="S",
                   help="give up when a step makes no progress for S seconds (default 600)")

    p = sub.add_parser("show", help="show the calibration in use for a device (or one kept on this computer)")
    _device_args(p)
    p.add_argument("--uid", help="a device id: show the copy kept on this computer, without connecting")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--max-age-days", type=float, default=90.0, help="warn when older than this (default 90)")
    _probe_args(p)

    p = sub.add_parser("verify", help="apply a known load and record the error against the stated tolerance")
    _device_args(p)
    p.add_argument("--unit", default="kg", help="unit the reference is read in (default kg)")
    p.add_argument("--hold-s", type=float, default=1.5, help="seconds a reading must stay steady (default 1.5)")
    _probe_args(p)
    p.add_argument("--step-timeout", type=float, default=DEFAULT_STEP_TIMEOUT_S, metavar="S")

    p = sub.add_parser("drift", help="watch the unloaded reading for a minute and record its drift")
    _device_args(p)
    p.add_argument("--seconds", type=float, default=60.0, help="how long to watch (default 60)")
    _probe_args(p)


def _device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", metavar="P", help="serial port of the board (default: the first board found)")
    p.add_argument("--sim", action="store_true", help="use the simulated device (the real firmware on this computer)")
    from pointdose.commands.cliopts import add_sim_board
    add_sim_board(p)


def _probe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--probe", default="1", help="probe area in cm² (0.5, 1, 2 or any) or 'thumb' (default 1)")


def _tolerance_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tolerance-pct", type=float, metavar="P",
                   help="refuse when the largest error exceeds P %% of full scale (default 2 linear, 15 fsr)")
    g.add_argument("--tolerance-n", type=float, metavar="N", help="refuse when the largest error exceeds N newtons")


def run(args: argparse.Namespace) -> int:
    handler = {"fit": cmd_fit, "run": cmd_run, "show": cmd_show, "verify": cmd_verify, "drift": cmd_drift}
    return handler[args.calibrate_command](args)


# --------------------------------------------------------------------------- fit


MAX_POINTS_CSV_BYTES = 16 * 1024 * 1024  # a calibration has tens of points; far more is not one


def read_points_csv(path: str | Path):
    """Points from a CSV with a header ``raw,force_n`` (optional ``direction``, ``sd``); UserError
    naming the file and line of anything malformed."""
    from pointdose.calibration.models import LOAD, UNLOAD, Point

    from pointdose.errors import read_user_file

    path = Path(path)
    text = read_user_file(path, what="calibration CSV", max_bytes=MAX_POINTS_CSV_BYTES,
                          hint="give a CSV with columns raw,force_n (one line per point)")
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [(i, row) for i, row in enumerate(reader, 1) if row and any(c.strip() for c in row)
                and not row[0].lstrip().startswith("#")]
    except csv.Error as exc:
        raise UserError(f"{path}, line {reader.line_num}: not readable as CSV ({exc}); "
                        "a calibration CSV holds raw,force_n numbers") from None
    if not rows:
        raise UserError(f"{path}: the file is empty; it needs a header raw,force_n and one line per point")
    header_line, header = rows[0]
    names = [h.strip().lower() for h in header]
    for need in ("raw", "force_n"):
        if need not in names:
            raise UserError(f"{path}, line {header_line}: the header must name the columns raw and force_n "
                            f"(found: {','.join(header)})")
    col = {name: names.index(name) for name in names}
    points = []
    for line, row in rows[1:]:
        if len(row) < len(names):
            raise UserError(f"{path}, line {line}: {len(row)} values, expected {len(names)} ({','.join(names)})")

        def number(name: str) -> float:
            cell = row[col[name]].strip()
            try:
                value = float(cell)
            except ValueError:
                raise UserError(f"{path}, line {line}: {name} {cell!r} is not a number") from None
            if not math.isfinite(value):
                raise UserError(f"{path}, line {line}: {name} {cell!r} is not a finite number")
            return value

        raw, force = number("raw"), number("force_n")
        direction = LOAD
        if "direction" in col:
            direction = row[col["direction"]].strip().lower() or LOAD
            if direction not in (LOAD, UNLOAD):
                raise UserError(f"{path}, line {line}: direction {direction!r} must be load or unload")
        sd = None
        if "sd" in col and row[col["sd"]].strip():
            sd = number("sd")
        points.append(Point(raw=raw, force_n=force, direction=direction, sd=sd))
    if not points:
        raise UserError(f"{path}: no points after the header")
    return points


def _tolerance(args):
    from pointdose.calibration.models import Tolerance

    return Tolerance(pct_fs=args.tolerance_pct, n=args.tolerance_n).validate()


def cmd_fit(args) -> int:
    from pointdose.calibration.models import ADC_RAW, FSR, HX711_RAW, CalibrationRefused, fit_points

    points = read_points_csv(args.csv)
    default = ADC_RAW if args.model == FSR else HX711_RAW
    limits = (args.raw_min if args.raw_min is not None else default[0],
              args.raw_max if args.raw_max is not None else default[1])
    try:
        result = fit_points(points, args.model, tolerance=_tolerance(args), raw_limits=limits)
    except CalibrationRefused as exc:
        if args.json:
            out = {"accepted": False, "refused": exc.code, "reason": exc.reason}
            if exc.result is not None:
                out.update(exc.result.to_dict())
            print(json_text(out, indent=2))
        raise
    if args.json:
        print(json_text({"accepted": True, **result.to_dict()}, indent=2))
    else:
        print(result.summary())
        print(f"{'raw':>12} {'force N':>9} {'dir':>7} {'fit N':>9} {'error N':>8}")
        for p, pred, err in zip(result.points, result.predicted_n, result.error_n):
            print(f"{p.raw:12.1f} {p.force_n:9.3f} {p.direction:>7} {pred:9.3f} {err:+8.3f}")
    return 0


# --------------------------------------------------------------------------- device sessions


class _Session:
    """An open link (board or simulated device), streaming, closed on exit."""

    def __init__(self, args):
        self.args = args
        self.sim = None
        self.link = None

    def __enter__(self):
        from pointdose.device import open_device

        args = self.args
        try:
            dev = open_device(args.port, sim=args.sim, sim_board=getattr(args, "sim_board", None))
            self.sim, self.link = dev.sim, dev.link
            self.link.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.link is not None:
            self.link.close()
        if self.sim is not None:
            self.sim.close()


class _Input:
    """Lines from stdin on a thread, so the main loop never blocks on them (works on every OS)."""

    def __init__(self, stream=None):
        self.lines: queue.Queue = queue.Queue()
        self.eof = False
        self._stream = stream or sys.stdin
        threading.Thread(target=self._read, name="pointdose-calibrate-input", daemon=True).start()

    def _read(self):
        for line in self._stream:
            self.lines.put(line.rstrip("\r\n"))
        self.lines.put(None)

    def get(self, timeout: float = 0.05):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return ""
        if line is None:
            self.eof = True
            return None
        return line


class _Samples:
    """New ring rows since the last call."""

    def __init__(self, link):
        self.link = link
        self.last_t = -math.inf

    def take(self):
        rows = self.link.ring.window(5.0)
        rows = rows[rows["t_dev_s"] > self.last_t]
        if rows.size:
            self.last_t = float(rows["t_dev_s"][-1])
        return rows["t_dev_s"], rows["raw"]


def _say(text: str) -> None:
    print(text, flush=True)


def _device_command(link, line: str) -> None:
    try:
        reply = link.command(line[1:].strip())
        _say(f"  device: {reply.text}")
    except UserError as exc:
        _say(f"  device: {exc}")


def _config(link, args):
    from pointdose import units
    from pointdose.calibration.record import SensorConfig

    try:
        area = units.probe_area(args.probe)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return SensorConfig.from_info(link, probe_area_cm2=area)


def _save_points(wiz, uid: str) -> Path:
    from pointdose.calibration.store import data_dir

    folder = data_dir() / "calibrations" / (uid or "unknown") / "points"
    from pointdose.files import private_dir, write_private

    private_dir(folder)
    path = folder / time.strftime("points-%Y%m%d-%H%M%S.csv")
    write_private(path, wiz.points_csv())
    return path


def cmd_run(args) -> int:
    from pointdose.calibration.models import FSR, LINEAR
    from pointdose.calibration.stability import StabilityCriterion
    from pointdose.calibration.store import NO_DEVICE_STORAGE, save_everywhere
    from pointdose.calibration.wizard import CalibrationWizard, Step, WizardSettings

    with _Session(args) as session:
        link = session.link
        info = device_info(link)
        config = _config(link, args)
        model = args.model or (FSR if config.sensor == "adc" else LINEAR)
        settings = WizardSettings(model=model, reference=args.reference, unit=args.unit, n_loads=args.loads,
                                  top_load=args.top_load, tolerance=_tolerance(args),
                                  criterion=StabilityCriterion(hold_s=args.hold_s, rel=args.steady_pct / 100.0),
                                  raw_limits=info.raw_range, conditioning_presses=args.presses).checked()
        wiz = CalibrationWizard(settings)
        uid = info.uid or ""
        _say(f"Calibrating device {uid}: {config.describe()}, model {model}, reference "
             f"{args.reference} read in {settings.unit_key}.")
        _say(f"Steady means: {settings.criterion.describe()}.")
        if _simulated(info):
            _say("This is the simulated device: nothing presses it. Set its force with `sim N` (N newtons; `sim` "
                 "alone applies the suggested force) or `!sim force N`, then type the reference as for a real load.")
        try:
            _drive_wizard(wiz, link, args)
        except BaseException:
            if wiz.points:
                _say(f"The points recorded so far are kept in {_save_points(wiz, uid)}")
            raise
        if wiz.step == Step.CANCELLED:
            if wiz.points:
                _say(f"Cancelled. The points recorded so far are kept in {_save_points(wiz, uid)}")
            raise UserError("calibration cancelled; nothing was saved")
        if wiz.step == Step.REFUSED:
            path = _save_points(wiz, uid)
            _say(f"The points are kept in {path} (re-fit them with: pointdose calibrate fit {path} --model {model})")
            raise UserError(f"calibration refused ({wiz.refusal_code.replace('_', ' ')}): {wiz.refusal}")
        record = wiz.make_record(device_uid=uid, config=config)
        on_device, path = save_everywhere(link, record)
        _say("Calibration accepted.")
        _say(record.describe())
        _say(f"Saved on this computer: {path}")
        _say("Saved on the device." if on_device else NO_DEVICE_STORAGE)
    return 0


def _simulated(info) -> bool:
    """The firmware's simulated sensor (``sim``, ``sim-hx711``): it takes ``sim force N``."""
    return str(info.sensor or "").startswith("sim")


def _sim_line(wiz, link, line: str) -> bool:
    """``sim`` / ``sim N`` on the simulated device: set its force (the suggested one, or N newtons).
    True when the line was one (sent or refused with a reason)."""
    from pointdose.calibration.wizard import sim_force_command, sim_suggestion_n

    words = line.split()
    if not words or words[0].lower() != "sim" or len(words) > 2:
        return False
    force = sim_suggestion_n(wiz) if len(words) == 1 else words[1]
    if force is None:
        _say("  nothing to apply in this step")
        return True
    try:
        command = sim_force_command(force, 0.5)
    except UserError as exc:
        _say(f"  {exc}")
        return True
    _device_command(link, "!" + command)
    return True


def _drive_wizard(wiz, link, args) -> None:
    from pointdose.calibration.wizard import Step, sim_hint

    simulated = _simulated(device_info(link))

    inp = _Input()
    samples = _Samples(link)
    shown_instruction = ""
    shown_status = ""
    last_status_t = 0.0
    step_key = None
    step_input = False
    progress_t = time.monotonic()
    while not wiz.finished:
        t, raw = samples.take()
        wiz.feed(t, raw)
        if wiz.pending_action == "tare":
            _say("  taring the device…")
            try:
                reply = link.tare()
                wiz.tare_done(float(reply.fields["tare"]), float(reply.fields.get("sd", 0) or 0))
            except (UserError, KeyError, ValueError) as exc:
                wiz.tare_failed(str(exc))
        view = wiz.view()
        key = (view.progress, view.captured)
        if key != step_key:
            if view.progress != (step_key or ("",))[0]:
                step_input = False
            step_key = key
            progress_t = time.monotonic()
        if view.captured and view.step in (Step.LOAD, Step.UNLOAD):
            step_input = False  # the reading is in: the reference may be typed now
        text = f"[{view.progress}] {view.title}: {view.instruction}"
        if text != shown_instruction:
            shown_instruction = text
            _say(text)
            hint = sim_hint(wiz) if simulated and not view.captured else ""
            if hint:
                _say(f"  ({hint})")
        status = (view.message or (view.stability.text if view.stability and not view.captured else ""))
        now = time.monotonic()
        if status and status != shown_status and now - last_status_t > 1.0:
            shown_status, last_status_t = status, now
            _say(f"  {status}")
        if wiz.finished:
            break
        if now - progress_t > args.step_timeout:
            raise UserError(f"no progress in '{view.title}' for {args.step_timeout:g} s: {view.message or view.instruction}")
        waiting = view.step == Step.CONDITION or (not view.captured and view.step != Step.DONE)
        if waiting and step_input:
            time.sleep(0.05)
            continue
        line = inp.get()
        if line is None:
            if not inp.eof:
                continue
            wiz.cancel()
            raise UserError("the input ended before the calibration was finished; nothing was saved")
        line = line.strip()
        if not line:
            continue
        word = line.lower()
        if line.startswith("!"):
            _device_command(link, line)
            step_input = True
        elif simulated and _sim_line(wiz, link, line):
            step_input = True
        elif word in ("quit", "cancel", "q"):
            wiz.cancel()
        elif word == "redo":
            wiz.redo()
            _say("  recording this step again")
        elif word == "skip":
            wiz.skip_conditioning()
        else:
            try:
                wiz.enter_reference(line)
                step_input = True
            except UserError as exc:
                _say(f"  {exc}")


# --------------------------------------------------------------------------- show / verify / drift


def _loaded(link, args):
    from pointdose.calibration.store import load_for_device

    return load_for_device(link, _config(link, args), max_age_days=getattr(args, "max_age_days", 90.0))


def cmd_show(args) -> int:
    from pointdose.calibration.store import HostCache

    if args.uid:
        record = HostCache().latest(args.uid)
        if record is None:
            raise UserError(f"no calibration kept on this computer for device {args.uid}")
        print(record.to_json() if args.json else record.describe())
        return 0
    with _Session(args) as session:
        loaded = _loaded(session.link, args)
        record = loaded.record or loaded.candidate
        if args.json:
            print(json_text({"source": loaded.source, "usable": loaded.assessment.usable,
                             "messages": list(loaded.messages),
                             "record": record.to_dict() if record else None}, indent=2))
        else:
            if record is not None:
                print(record.describe())
                print(f"  kept on     {'the device' if loaded.source == 'device' else 'this computer'}")
            else:  # the wording of the records and the PDF report (pointdose.records.calib.stated_error)
                factory = device_info(session.link).factory_scale is not None
                print("uncalibrated: error unknown" + (" (values use the device's factory scale, never checked "
                                                       "against a reference)" if factory else ""))
            for message in loaded.messages:
                print(f"warning: {message}")
        if record is None or not loaded.assessment.usable:
            raise UserError(loaded.assessment.refusal or "no usable calibration")
    return 0


def _usable_record(link, args):
    loaded = _loaded(link, args)
    for message in loaded.messages:
        _say(f"note: {message}")
    if loaded.record is None:
        raise UserError(loaded.assessment.refusal or "no usable calibration for this device")
    return loaded.record


def cmd_verify(args) -> int:
    from pointdose.calibration.stability import StabilityCriterion
    from pointdose.calibration.store import save_everywhere
    from pointdose.calibration.wizard import VerificationRun

    with _Session(args) as session:
        link = session.link
        record = _usable_record(link, args)
        conv = record.converter(tare=device_info(link).tare)
        run_ = VerificationRun(conv, record.tolerance_n, unit=args.unit,
                               criterion=StabilityCriterion(hold_s=args.hold_s))
        inp = _Input()
        samples = _Samples(link)
        shown = ""
        gave = False
        started = time.monotonic()
        _say(f"Verify: apply a known load (within 0–{record.full_scale_n:.1f} N) and hold it still; "
             f"type the reference in {run_.unit}.")
        simulated = _simulated(device_info(link))
        if simulated:
            _say("This is the simulated device: nothing presses it. Type `sim N` to press it with N newtons, "
                 "then the reference.")
        while run_.result is None:
            run_.feed(*samples.take())
            text = run_.text()
            if text != shown:
                shown = text
                _say(f"  {text}")
            if time.monotonic() - started > args.step_timeout:
                raise UserError(f"no steady loaded reading within {args.step_timeout:g} s; nothing was recorded")
            if gave and run_.reading_n is None:
                time.sleep(0.05)
                continue
            line = inp.get()
            if line is None:
                raise UserError("the input ended before the verification was finished; nothing was recorded")
            line = line.strip()
            if not line:
                continue
            if line.startswith("!"):
                _device_command(link, line)
                gave = True
            elif simulated and line.split()[0].lower() == "sim" and len(line.split()) == 2:
                _sim_line(None, link, line)
                gave = True
            else:
                try:
                    run_.enter_reference(line)
                    gave = True
                except UserError as exc:
                    _say(f"  {exc}")
        _say(run_.text())
        record = record.with_verification(run_.result)
        on_device, path = save_everywhere(link, record)
        _say(f"Recorded with calibration {record.id} ({path}{'; and on the device' if on_device else ''}).")
        return 0 if run_.result["within_tolerance"] else 1


def cmd_drift(args) -> int:
    from pointdose.calibration.store import save_everywhere
    from pointdose.calibration.wizard import DriftRun

    with _Session(args) as session:
        link = session.link
        record = _usable_record(link, args)
        conv = record.converter(tare=device_info(link).tare)
        run_ = DriftRun(conv, duration_s=args.seconds, limit_n=record.stated_error_n)
        samples = _Samples(link)
        _say(f"Zero drift: leave the sensor unloaded and untouched for {args.seconds:g} s.")
        last = -10.0
        while run_.result is None:
            run_.feed(*samples.take())
            if run_.elapsed_s - last >= 10:
                last = run_.elapsed_s
                _say(f"  {run_.text()}")
            time.sleep(0.1)
        _say(run_.text())
        record = record.with_drift_check(run_.result)
        on_device, path = save_everywhere(link, record)
        _say(f"Recorded with calibration {record.id} ({path}{'; and on the device' if on_device else ''}).")
        return 0 if run_.result["ok"] else 1
