"""``pointdose session``: run a guided protocol in the terminal, with text cues (over SSH, in tests).

Keys in an interactive terminal: ``r`` release felt, ``p`` pain now, ``0``–``9`` pain rating
(``0`` … ``9``; type ``10`` as ``t``), space / ``s`` / ``q`` STOP. With ``--headless`` (or when
stdin is not a terminal) the same inputs are read as lines: ``release``, ``pain``, ``rating N``,
``stop``. Exit status: 0 completed or stopped by the user, 2 ended by an alarm, 3 the recording
could not be written (the session is stopped at once; the message says what was saved and what not).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

KEYS = {"r": ("signal", "release"), "p": ("signal", "pain"), " ": ("stop", "STOP key"), "s": ("stop", "STOP key"),
        "q": ("stop", "STOP key"), "t": ("rating", 10)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pointdose.commands.cliopts import add_lsl as lsl_flag
    from pointdose.commands.cliutil import add_db_argument

    parser.add_argument("--protocol", default="tppr", metavar="NAME|FILE",
                        help="built-in (tppr, ischemic, alternating, holds, ppt) or a .toml file (default tppr)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a built-in's parameter, e.g. --set hold_s=60 (see pointdose protocols)")
    parser.add_argument("--port", metavar="P", help="serial port of the board")
    parser.add_argument("--sim", action="store_true", help="use the simulated device")
    from pointdose.commands.cliopts import add_sim_board
    add_sim_board(parser)
    parser.add_argument("--headless", action="store_true", help="text cues one line at a time; inputs as lines on stdin")
    parser.add_argument("--point", default="", metavar="NAME",
                        help="the point treated: a body-map id with its side (upper_trapezius.1:L; `pointdose clients "
                        "points` lists them: their region cautions apply) or a name of your own")
    parser.add_argument("--probe-area", type=float, default=1.0, metavar="CM2", help="probe contact area, cm² (default 1)")
    parser.add_argument("--ppt", type=float, metavar="KPA", help="use this PPT for %%PPT targets instead of the "
                        "client's own stored one")
    parser.add_argument("--unit", default="kPa", help="display unit (kPa, kgf/cm2, N/cm2, N, kgf, lbf)")
    parser.add_argument("--hand", metavar="SKILL", help="simulated device only: a virtual hand follows the cues "
                        "(novice, intermediate, expert)")
    parser.add_argument("--hand-ppt", type=float, default=250.0, metavar="KPA", help="the virtual hand's PPT (kPa)")
    parser.add_argument("--hand-release", type=float, default=8.0, metavar="S",
                        help="the virtual hand signals 'release felt' after about S seconds of holding")
    parser.add_argument("--seconds", type=float, metavar="S", help="STOP after S seconds")
    parser.add_argument("--mute", action="store_true", help="no sound")
    parser.add_argument("--volume", type=float, default=0.8, metavar="V", help="sound volume 0 … 1")
    parser.add_argument("--wav", metavar="FILE", help="also write the session's sound cues to a WAV file")
    parser.add_argument("--client", metavar="CODE", help="record the application for this client (created if new)")
    add_db_argument(parser)
    parser.add_argument("--visit", metavar="ID|new", help="the client's visit (session) this application belongs to: "
                        "a session id, or 'new'; default: the visit whose last application ended under "
                        "--visit-window minutes ago, else a new one (PPT and pain before/after pair within a visit)")
    parser.add_argument("--visit-window", type=float, default=None, metavar="MIN",
                        help="minutes after a client's last application that the next one still continues the "
                        "visit (a setting, default 30)")
    parser.add_argument("--no-record", action="store_true", help="do not keep this application in the records")
    parser.add_argument("--pain-before", metavar="0-10", help="the client's pain at the point before the start "
                        "(else asked on a terminal; Enter skips)")
    parser.add_argument("--pain-after", metavar="0-10", help="the client's pain at the point after the end "
                        "(else asked on a terminal; Enter skips)")
    parser.add_argument("--no-pain-prompt", action="store_true", help="do not ask for pain before and after")
    lsl_flag(parser)
    add_safety_arguments(parser)


# ---------------------------------------------------------------------------------------------------
# The start checks (pointdose.session.precheck: the client's own PPT, region cautions, screening).
# The app's Session tab calls the same precheck.prepare; keep this block apart from the rest.


def add_safety_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("cautions and the client's PPT (docs/protocols.md, \"Cautions\")")
    g.add_argument("--region", metavar="KEYS", help="region cautions of a point that is not on the body map, e.g. "
                   "anterior_neck,axilla (body-map points carry their own)")
    g.add_argument("--accept-caution", action="store_true", help="I have read the cautions that apply "
                   "(recorded with the application)")
    g.add_argument("--confirm-above-ppt", action="store_true", help="start although a kPa/N target is above the "
                   "ceiling of the client's PPT (recorded with the application)")
    g.add_argument("--self-massage", action="store_true", help="self-massage mode (also when the client's role is "
                   "'self'): some regions are refused")
    g.add_argument("--relative-defaults", action="store_true", help="when the client has a PPT, use the %%PPT "
                   "targets offered instead of the built-in's kPa defaults")
    g.add_argument("--points-file", metavar="FILE", help="the old points file (PPTs by name, for nobody in "
                   "particular): never used for targets, only mentioned; import it with `pointdose clients "
                   "import-points`")


def safety_precheck(args: argparse.Namespace, protocol, params: dict, out) -> tuple:
    """The client's own PPT, the cautions and the screening, decided before the device opens.

    Returns (protocol with lowered limits, PointContext, info for the records); raises a UserError
    (one line) when the application may not start or needs --accept-caution / --confirm-above-ppt."""
    from pointdose.errors import UserError
    from pointdose.protocols import resolve
    from pointdose.records.store import Store, db_exists, db_location
    from pointdose.session.precheck import prepare

    db = db_location(args.db)
    store = Store(db) if db_exists(db) else None  # writable: an older file is migrated (and kept aside) first
    try:
        client_id = session_id = None
        if store is not None and args.client:
            rows = store.query("SELECT id FROM clients WHERE code=?", (args.client,))
            client_id = rows[0]["id"] if rows else None
        if client_id is not None and not args.no_record:  # the visit it joins: its per-point cap counts there
            from pointdose.records.recording import visit_session

            session_id, _ = visit_session(store, client_id, args.visit, args.visit_window, create=False)
        pre = prepare(protocol, store=store, client_id=client_id, point_name=args.point,
                      probe_area_cm2=args.probe_area, regions=args.region, self_massage=args.self_massage,
                      explicit_ppt_kpa=args.ppt, relative_defaults=args.relative_defaults,
                      rebuild=lambda offers: resolve(args.protocol, **{**params, **offers}),
                      legacy_points_path=args.points_file, given=list(params), client_code=args.client,
                      session_id=session_id)
    finally:
        if store is not None:
            store.close()
    for line in pre.lines():
        out.note(line)
    pre.decision.check(acknowledged=True, confirmed=True)  # refusals first: nothing unlocks them
    if pre.needs_confirm and not args.confirm_above_ppt:
        pre.check(acknowledged=True, confirmed=False)
    if pre.needs_ack and not args.accept_caution:
        if sys.stdin.isatty() and not args.headless:
            if input("Type yes to acknowledge these cautions and go on: ").strip().lower() != "yes":
                raise UserError("not started: the cautions were not acknowledged")
            args.accept_caution = True
        else:
            pre.check(acknowledged=False, confirmed=True)
    info = pre.info_extra(acknowledged=args.accept_caution, confirmed=args.confirm_above_ppt)
    return pre.protocol, pre.point, info


# ---------------------------------------------------------------------------------------------------


def _params(pairs: list[str]) -> dict[str, str]:
    from pointdose.errors import UserError

    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--set {pair!r}: write KEY=VALUE, e.g. --set hold_s=60")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _check_numbers(args: argparse.Namespace) -> None:
    """Every numeric option through the one checker (finite, in range): NaN never gets through."""
    from pointdose.commands.cliopts import probe_area_cm2
    from pointdose.protocols.values import number, setting

    args.probe_area = probe_area_cm2(args.probe_area)
    args.volume = number(args.volume, "--volume", 0.0, 1.0)
    if args.ppt is not None:
        args.ppt = setting(args.ppt, "ppt_kpa", "--ppt")
    args.hand_ppt = setting(args.hand_ppt, "ppt_kpa", "--hand-ppt")
    args.hand_release = number(args.hand_release, "--hand-release", 0.5, 600.0)
    if args.seconds is not None:
        args.seconds = number(args.seconds, "--seconds", 0.0, 86400.0, lo_open=True)
    from pointdose.records.recording import VISIT_WINDOW_MIN

    args.visit_window = (VISIT_WINDOW_MIN if args.visit_window is None
                         else number(args.visit_window, "--visit-window", 0.0, 24 * 60.0))
    from pointdose.records.pain import parse_rating

    args.pain_before = parse_rating(args.pain_before)  # one line for a bad value, before anything starts
    args.pain_after = parse_rating(args.pain_after)
    if args.visit is not None and not args.client:
        from pointdose.errors import UserError

        raise UserError("--visit needs --client CODE: a visit is one client's session")


def run(args: argparse.Namespace) -> int:
    from pointdose import units
    from pointdose.cues import CueMixer, SoundPlayer, WavRecorder
    from pointdose.errors import UserError
    from pointdose.protocols import resolve
    from pointdose.commands.cliopts import check_device_choice, display_unit
    from pointdose.session.runner import SessionRunner
    from pointdose.lsl import listeners_if_asked as lsl_listeners

    check_device_choice(args.port, args.sim, getattr(args, "sim_board", None))
    if args.hand and args.port:
        raise UserError("--hand drives the simulated device only: use it with --sim")
    unit = display_unit(args.unit)
    _check_numbers(args)
    params = _params(args.set)
    protocol = resolve(args.protocol, **params)
    out = Printer(unit, args.probe_area, tty=sys.stdout.isatty() and not args.headless)
    protocol, point, safety_info = safety_precheck(args, protocol, params, out)

    sim = link = hand = runner = player = recording = None
    mixer = CueMixer(volume=args.volume, muted=args.mute)
    recorder = WavRecorder() if args.wav else None
    try:
        sim, link = _open(args)
        record = _calibration(link, args.probe_area, out)
        link.start()
        time.sleep(0.3)  # a few samples, so the session starts from the present pressure
        if not args.no_record:
            from pointdose.records.recording import open_recording

            recording = open_recording(db_path=args.db, client_code=args.client, visit=args.visit,
                                       visit_window_min=args.visit_window)
            recording.info_extra.update(safety_info)
            out.note(recording.where)
            before = ask_pain("before", args.pain_before, _pain_prompt(args))
            if before is not None:
                recording.info_extra["pain_before"] = before
        runner = SessionRunner(link, protocol, point, mixer=mixer, accept_caution=args.accept_caution,
                               on_cue=out.cue, on_event=out.event,
                               max_seconds=args.seconds, calibration_record=record,
                               listeners=([recording.listener] if recording else [])
                               + lsl_listeners(args.lsl, link, out.note),
                               info_extra=recording.info_extra if recording else None)
        if not args.mute:
            player = SoundPlayer(mixer, recorder)
            if not player.available:
                out.note(player.message)
        out.note(f"{protocol.title} — {protocol.repetitions} cycle(s); point {args.point or '(unnamed)'}; "
                 f"probe {args.probe_area:g} cm²; max {units.format_value(units.convert(runner.engine.limits.max_kpa, 'kPa', unit, args.probe_area), unit)} "
                 f"{units.unit(unit).symbol}")
        if args.hand:
            from pointdose.sim.virtual_hand import VirtualHand

            hand = VirtualHand(link, cue=lambda: runner.cue, signal=runner.signal, skill=args.hand,
                               ppt_kpa=args.hand_ppt, probe_area_cm2=args.probe_area,
                               release_after_s=(args.hand_release, args.hand_release * 1.5)).start()
        keys = KeyInput(runner, interactive=sys.stdin.isatty() and not args.headless)
        keys.start()
        last_audio = time.monotonic()
        try:
            runner.start()
            while not runner.wait(0.05):
                if recorder is not None and (player is None or not player.available):
                    now = time.monotonic()  # no audio device: render in step with real time for --wav
                    recorder.add(mixer.render(int((now - last_audio) * mixer.rate)))
                    last_audio = now
        except KeyboardInterrupt:
            runner.stop("Ctrl-C")
            runner.wait(2.0)
        finally:
            keys.close()
        out.finish(runner)
        if recording is not None:
            from pointdose.records.pain import record_after

            record_after(recording, ask_pain("after", args.pain_after, _pain_prompt(args)))
        if runner.ppt_saved is not None:
            if recording is None:
                out.note("PPT not kept (--no-record): record it with --client CODE --point P to keep it as theirs")
            elif not args.client:
                out.note("PPT recorded under 'unassigned': nobody's, never used for targets — give --client CODE "
                         "--point P to keep it as a client's")
            elif not args.point:
                out.note(f"PPT recorded for client {args.client} at an unnamed point: give --point P so %PPT "
                         "targets can use it")
            else:
                out.note(f"kept as client {args.client}'s PPT at {args.point!r} (valid with a "
                         f"{args.probe_area:g} cm² probe)")
        status = 2 if runner.end_reason.startswith("alarm") else 0
    finally:
        if hand is not None:
            hand.stop()
        if runner is not None:
            runner.close()
        if recording is not None and not _close_recording(recording):
            status = 3
        if player is not None:
            player.close()
        if recorder is not None:
            recorder.write(args.wav, mixer.rate)
        if link is not None:
            link.close()
        if sim is not None:
            sim.close()
    return status


def _pain_prompt(args) -> bool:
    """Ask on a terminal only: piped input (--headless, scripts) carries the session's signals."""
    return not args.no_pain_prompt and not args.headless and sys.stdin.isatty()


def ask_pain(stage: str, given: int | None, interactive: bool, input_fn=input, out=None) -> int | None:
    """The rating for ``stage``: ``given`` (a flag) if set, else asked until valid (Enter skips) when
    ``interactive``, else None (not rated)."""
    from pointdose.records.pain import QUESTION, SKIP_HINT, parse_rating
    from pointdose.errors import UserError

    if given is not None or not interactive:
        return given
    out = out or sys.stdout
    while True:
        try:
            text = input_fn(f"{QUESTION[stage]} ({SKIP_HINT}): ")
        except EOFError:
            return None
        try:
            value = parse_rating(text)
        except UserError as exc:
            print(str(exc), file=out, flush=True)
            continue
        print(f"pain {stage}: {value if value is not None else 'not rated'}", file=out, flush=True)
        return value


def _close_recording(recording) -> bool:
    """Write what is left and say where it went; False (a message on stderr) when any of the
    recording could not be written — never a claim that nothing was lost."""
    from pointdose.textout import clean

    recording.close()
    listener = recording.listener
    failure = recording.failure()
    if failure is not None:
        print(f"pointdose: {clean(failure)}", file=sys.stderr)
        return False
    if listener.error is not None:  # e.g. the metrics: the recording itself is saved
        print(f"pointdose: warning: {clean(listener.error)}", file=sys.stderr)
    if listener.last_application_id is not None:
        m = listener.last_metrics
        dose = f": dose {m.dose_kpa_s:.0f} kPa·s over {m.contact_s:.1f} s of contact" if m else ""
        print(f"recorded as application {listener.last_application_id}{dose}", flush=True)
    if recording.journal_note():
        print(f"pointdose: {clean(recording.journal_note())}", file=sys.stderr)
    return True


def _calibration(link, probe_area_cm2: float, out):
    """The wizard's calibration for this device (kept on it, else the host's copy) through the one
    scale (:func:`pointdose.calibration.scale.load_scale`); None: the factory scale or none."""
    from pointdose.calibration.scale import load_scale

    scale = load_scale(link, probe_area_cm2=probe_area_cm2)
    for message in scale.messages:
        out.note(message)
    return scale.record


def _open(args):
    """(simulator or None, link): the virtual hand may press the simulated device when no board is found."""
    from pointdose.device import open_device

    dev = open_device(args.port, sim=args.sim, sim_board=getattr(args, "sim_board", None), fallback_sim=bool(args.hand))
    return dev.sim, dev.link


class Printer:
    """Text cues: a status line (rewritten in place on a terminal, one line a second otherwise)."""

    def __init__(self, unit: str, area: float, tty: bool, stream=None) -> None:
        self.unit, self.area, self.tty = unit, area, tty
        self.stream = stream or sys.stdout
        self._last_line = ""
        self._last_t = 0.0
        self._lock = threading.Lock()

    def fmt(self, kpa: float | None) -> str:
        from pointdose import units

        if kpa is None:
            return "—"
        return f"{units.format_value(units.convert(kpa, 'kPa', self.unit, self.area), self.unit)} {units.unit(self.unit).key}"

    def line(self, cue) -> str:
        if cue.phase in ("off",):
            return "waiting for samples…"
        parts = [f"{(cue.label or cue.phase).upper():<12}", f"cycle {cue.cycle}/{cue.cycles}"]
        # a blinded PPT shows no pressure number until it ends (the rate guide stays)
        parts.append("now (blinded)" if getattr(cue, "blinded", False) and not cue.finished
                     else f"now {self.fmt(cue.pressure_kpa)}")
        if cue.band_lo_kpa is not None and cue.band_hi_kpa is not None and cue.phase not in ("done", "stopped", "alarm"):
            parts.append(f"band {self.fmt(cue.band_lo_kpa)}–{self.fmt(cue.band_hi_kpa)}")
        if cue.rate_target_kpa_s is not None and cue.phase in ("ramp", "ease"):
            rate = "—" if cue.rate_kpa_s is None else f"{cue.rate_kpa_s:.0f}"
            parts.append(f"rate {rate} kPa/s (guide {cue.rate_target_kpa_s:.0f} ± "
                         f"{(cue.rate_hi_kpa_s - cue.rate_target_kpa_s):.0f})")
        band = {"below": f"BELOW by {self.fmt(-cue.deviation_kpa)}", "above": f"ABOVE by {self.fmt(cue.deviation_kpa)}",
                "in": "IN BAND"}.get(cue.band, "")
        if cue.waiting_for == "pain":
            band = {"below": "TOO SLOW", "above": "TOO FAST", "in": "RATE OK"}.get(cue.band, "")
        if band:
            parts.append(band)
        if cue.time_left_s is not None:
            parts.append(f"{cue.time_left_s:.0f} s {'max ' if cue.time_left_is_max else ''}left")
        parts.append(f"| {cue.prompt}")
        if cue.alarm:
            parts.append(f"!! {cue.alarm}")
        return "  ".join(parts)

    def cue(self, cue) -> None:
        text = self.line(cue)
        now = time.monotonic()
        with self._lock:
            if self.tty:
                if text != self._last_line:
                    self.stream.write("\r\x1b[2K" + text)
                    self.stream.flush()
            elif now - self._last_t >= 1.0 or (text.split("|")[0].split()[:1] != self._last_line.split("|")[0].split()[:1]):
                self.stream.write(text + "\n")
                self.stream.flush()
                self._last_t = now
            self._last_line = text

    def event(self, ev) -> None:
        d = ev.data
        text = None
        if ev.kind == "phase_start":
            text = f">> {d['label']} (cycle {d['cycle']})"
        elif ev.kind == "step":
            text = f">> step {d['step']}/{d['steps']}: target {self.fmt(d['target_kpa'])}"
        elif ev.kind == "signal":
            text = f">> {d['signal']} signalled ({d['source']}) at {self.fmt(d['pressure_kpa'])}"
        elif ev.kind == "pain_rating":
            text = f">> pain rating {d['value']}/10"
        elif ev.kind == "ppt_trial":
            what = "tolerance" if d.get("measure") == "tolerance" else "PPT"
            value = ("recorded (blinded)" if d.get("blinded") else
                     d.get("text") if d.get("censored") else f"{self.fmt(d['ppt_kpa'])} at the signal")
            rate = "" if d.get("rate_kpa_s") is None else f", ramped at {d['rate_kpa_s']:.0f} kPa/s"
            status = (" — familiarisation, not counted" if d.get("familiarisation") else
                      f" — INVALID: {d.get('rate_check')}" if d.get("valid") is False else "")
            text = f">> {what} trial {d['trial']}: {value}{rate}{status}"
        elif ev.kind == "ppt_instructions":
            text = "".join(f">> before the first trial: {step}\n" for step in d.get("steps", [])).rstrip("\n")
        elif ev.kind == "ppt_retry":
            text = f">> the trial is repeated (retry {d['retry']} of {d['retries']})"
        elif ev.kind == "cap":
            text = (f">> per-point cap: {d.get('contact_s', 0):.0f} s of pressure on this point — release; "
                    "the application ends" if d.get("kind") == "point" else
                    f">> compression cap: {d.get('contact_s', 0):.0f} s pressed — release and rest")
        elif ev.kind == "pain_cap":
            text = (f">> pain at {self.fmt(d['pressure_kpa'])}: " +
                    ("release" if d.get("ends") else f"ease off; the band stays under {self.fmt(d['cap_kpa'])}"))
        elif ev.kind == "pain_stop":
            text = f">> pain {d['rating']}/10 (≥ {d['threshold']}): the hold ends — release"
        elif ev.kind == "device_limit" and d.get("note"):
            text = f"note: {d['note']}"
        elif ev.kind == "alarm":
            text = f"!! ALARM ({d['kind']}): {d['text']}"
        elif ev.kind == "stop":
            text = f"!! STOP: {d['reason']}"
        elif ev.kind == "end":
            text = f"== ended: {d['reason']}"
        if text:
            self.note(text)

    def note(self, text: str) -> None:
        with self._lock:
            self.stream.write(("\r\x1b[2K" if self.tty else "") + text + "\n")
            self.stream.flush()
            self._last_t = 0.0

    def finish(self, runner) -> None:
        s = runner.summary
        lines = [f"end: {runner.end_reason}; {s.get('cycles_done', 0)}/{s.get('cycles', 0)} cycles; "
                 f"time in band {s.get('time_in_band_s', 0):.1f} s; dose (descriptive) {s.get('dose_kpa_s', 0):.0f} kPa·s "
                 f"over {s.get('contact_s', 0):.1f} s of contact (≥ {s.get('contact_kpa', 0):.0f} kPa)"]
        ppt = s.get("ppt")
        if ppt and ppt.get("mean_kpa") is not None:
            what = "pressure-pain tolerance" if ppt.get("measure") == "tolerance" else "PPT"
            trials = ", ".join(self.fmt(t["ppt_kpa"]) for t in ppt["trials"] if t["ppt_kpa"] is not None)
            peaks = ", ".join(self.fmt(t["peak_kpa"]) for t in ppt["trials"] if t["ppt_kpa"] is not None)
            rates = ", ".join(f"{t['rate_kpa_s']:.0f}" for t in ppt["trials"]
                              if t["ppt_kpa"] is not None and t.get("rate_kpa_s") is not None)
            sd = f" ± {self.fmt(ppt['sd_kpa'])} (SD)" if ppt.get("sd_kpa") is not None else ""
            lines.append(f"{what} {self.fmt(ppt['mean_kpa'])}{sd}, n={ppt['n']}/{ppt['planned']}; trials {trials}; "
                         f"peaks {peaks}; measured rates {rates or '—'} kPa/s")
            if ppt.get("censored"):
                lines.append(f"censored: a trial reached the ceiling, so the {what} is above "
                             f"{self.fmt(ppt.get('ceiling_kpa'))} there — not used for %PPT targets")
            if ppt.get("invalid"):
                lines.append(f"{ppt['invalid']} trial(s) off the rate band were not counted "
                             f"({ppt.get('retries_used', 0)} repeated)")
        for err in runner.listener_errors:
            lines.append(f"warning: {err}")
        for line in lines:
            self.note(line)


class KeyInput:
    """Keys (interactive terminal, cbreak mode) or lines (pipe / --headless) → runner inputs."""

    def __init__(self, runner, interactive: bool) -> None:
        self.runner = runner
        self.interactive = interactive
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved = None

    def start(self) -> None:
        if self.interactive:
            import termios
            import tty

            fd = sys.stdin.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        self._thread = threading.Thread(target=self._keys if self.interactive else self._lines, daemon=True,
                                        name="session-input")
        self._thread.start()

    def handle(self, text: str) -> None:
        if text == " ":
            self.runner.stop("STOP key", source="keyboard")
            return
        text = text.strip().lower()
        if not text:
            return
        if text in ("release", "pain"):
            self.runner.signal(text, source="keyboard")
        elif text == "stop":
            self.runner.stop("STOP (terminal)", source="keyboard")
        elif text.startswith("rating"):
            self.runner.signal("rating", text.split()[-1], source="keyboard")
        elif len(text) == 1 and text.isdigit():
            self.runner.signal("rating", int(text), source="keyboard")
        elif text in KEYS:
            what, arg = KEYS[text]
            if what == "stop":
                self.runner.stop(arg, source="keyboard")
            elif what == "rating":
                self.runner.signal("rating", arg, source="keyboard")
            else:
                self.runner.signal(arg, source="keyboard")

    def _keys(self) -> None:
        import select

        while not self._halt.is_set():
            ready, _, _ = select.select([sys.stdin], [], [], 0.1)
            if ready:
                self.handle(sys.stdin.read(1))

    def _lines(self) -> None:
        try:
            for line in sys.stdin:
                if self._halt.is_set():
                    return
                self.handle(line)
        except (OSError, ValueError):
            return

    def close(self) -> None:
        self._halt.set()
        if self._saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
