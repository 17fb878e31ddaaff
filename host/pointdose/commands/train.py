"""``pointdose train`` (run a drill, progress, CSV export/import) and ``pointdose class`` (students, classes).

::

    pointdose class student S-01 S-02           # students (clients rows with role 'student')
    pointdose class add "Spring 2025" && pointdose class enrol "Spring 2025" S-01 S-02
    pointdose train run --student S-01 --preset moderate --schedule intermittent:2 --seed 7 --plan standard --sim --virtual-student
    pointdose train progress --student S-01
    pointdose class compare "Spring 2025" --block retention
    pointdose train export --class "Spring 2025" class.csv   # on each laptop
    pointdose train import other-laptop.csv                   # merged by trial UUID, no duplicates

With feedback off the terminal prints the phase and the countdown only, never a number that
reveals the pressure; the result after a trial is printed only when the schedule shows it.
"""

from __future__ import annotations

import argparse
import sys
import threading


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pointdose.commands.cliopts import add_lsl as lsl_flag
    from pointdose.commands.cliutil import add_db_argument
    add_db_argument(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="run a drill on a board or the simulated device, with text cues")
    r.add_argument("--student", required=True, help="the student's code")
    r.add_argument("--class", dest="class_name", help="the class this session belongs to")
    r.add_argument("--preset", default="moderate", help="light, moderate or deep (Chaves 2020 P25/median/P75)")
    r.add_argument("--target", type=float, help="target in --unit instead of the preset's")
    r.add_argument("--unit", default="kPa", help="unit of --target: kPa, kgf/cm2, N/cm2 (pressure) or N, kgf, lbf (force)")
    r.add_argument("--probe-area", type=float, default=1.0, metavar="CM2", help="probe area, cm² (default 1)")
    r.add_argument("--tolerance", type=float, default=10.0, metavar="PCT", help="band ± %% of the target (default 10)")
    r.add_argument("--ramp", type=float, default=2.0, metavar="S")
    r.add_argument("--hold", type=float, default=5.0, metavar="S")
    r.add_argument("--release", type=float, default=1.0, metavar="S")
    r.add_argument("--rest", type=float, default=3.0, metavar="S")
    r.add_argument("--trials", type=int, default=6)
    r.add_argument("--test-trials", type=int, default=3, help="trials in each test block (default 3)")
    r.add_argument("--surface", default="pad", help="pad, force-plate, partner or self")
    r.add_argument("--schedule", default="constant",
                   help="constant, intermittent:N, faded[:START:END], bandwidth[:PCT], "
                        "self[:before|after|both][:kr|concurrent] (feedback only when the student asks), "
                        "yoked (with --yoke-to) or yoked:TRIALS, none")
    r.add_argument("--seed", type=int, help="seed of an intermittent schedule (default: drawn and recorded)")
    r.add_argument("--kr", default=None, help="result after each trial: always, with-feedback, never "
                                              "(fixed schedules; self-controlled and yoked decide it themselves)")
    r.add_argument("--practice-blocks", type=int, default=1, metavar="K",
                   help="practice blocks of --trials each (default 1); a faded schedule fades across all of them")
    r.add_argument("--yoke-to", metavar="CODE",
                   help="--schedule yoked: replay the feedback this self-controlled student asked for")
    r.add_argument("--yoke-block", metavar="UID", help="… from this block of theirs (default: their latest)")
    r.add_argument("--plan", default="practice", choices=("practice", "standard", "transfer", "retention", "test"),
                   help="practice only; standard = pre/practice/post; transfer adds a transfer test at "
                        "--transfer-target; retention / test = one block without feedback")
    r.add_argument("--transfer-target", type=float, help="transfer test target in --unit (default 60 %% of the target)")
    r.add_argument("--port", help="serial port of the board")
    r.add_argument("--sim", action="store_true", help="use the simulated device")
    from pointdose.commands.cliopts import add_sim_board
    add_sim_board(r)
    r.add_argument("--virtual-student", action="store_true", help="let the virtual hand press (simulated device only)")
    r.add_argument("--get-ready", type=float, default=3.0, metavar="S", help="countdown before the first trial")
    r.add_argument("--yes", action="store_true", help="accept the warnings (target above typical PPTs on a person)")
    lsl_flag(r)
    f = sub.add_parser("follow", help="follow an expert's curve: a recorded application's pressure trace is the "
                                      "target, scored by CE/AE/VE over the trace")
    f.add_argument("application", metavar="APPLICATION_ID", help="the expert's application in the records (--db)")
    f.add_argument("--probe-area", type=float, default=1.0, metavar="CM2", help="probe area, cm² (default 1)")
    f.add_argument("--port", help="serial port of the board")
    f.add_argument("--sim", action="store_true", help="use the simulated device")
    f.add_argument("--wait", type=float, default=120.0, metavar="S", help="how long to wait for the first contact")
    f.add_argument("--student", metavar="CODE", help="keep the attempt in this student's training records "
                                                     "(a 'follow' block, as the app's Training tab does)")
    f.add_argument("--class", dest="class_name", metavar="NAME", help="with --student: the class of the session")
    p = sub.add_parser("progress", help="a student's block scores across sessions")
    p.add_argument("--student", required=True)
    e = sub.add_parser("export", help="trials to CSV (one student, one class, or all)")
    e.add_argument("file")
    e.add_argument("--student")
    e.add_argument("--class", dest="class_name")
    i = sub.add_parser("import", help="merge another station's export (no duplicates)")
    i.add_argument("file")


def add_class_arguments(parser: argparse.ArgumentParser) -> None:
    from pointdose.commands.cliutil import add_db_argument

    add_db_argument(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("student", help="add students by code")
    s.add_argument("codes", nargs="+")
    a = sub.add_parser("add", help="add a class")
    a.add_argument("name")
    en = sub.add_parser("enrol", help="put students in a class")
    en.add_argument("name")
    en.add_argument("codes", nargs="+")
    sub.add_parser("list", help="classes and students")
    c = sub.add_parser("compare", help="the students of a class side by side")
    c.add_argument("name")
    c.add_argument("--block", default="post-test", help="pre-test, practice, post-test, retention or transfer")


def _store(args):
    from pointdose.training.store import TrainingStore

    return TrainingStore.open(args.db)


def _fmt(v, digits=1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _score_line(label: str, s, unit: str) -> str:
    """CE, |CE|, AE, VE and E as Schmidt & Lee define them (VE with n, so E² = CE² + VE²)."""
    return (f"{label:24s} n={s.n:<2d} CE {_fmt(s.constant_error):>7s}  |CE| {_fmt(s.abs_constant_error):>6s}  "
            f"AE {_fmt(s.absolute_error):>6s}  VE {_fmt(s.variable_error):>6s}  E {_fmt(s.total_error):>6s}  "
            f"CV {_fmt(s.cv_pct):>5s} %  in band {_fmt(s.mean_in_band_pct, 0):>4s} %  ({unit})")


def run(args: argparse.Namespace) -> int:
    from pointdose.errors import UserError
    from pointdose.training import DrillError, ScheduleError, BlockError

    try:
        if args.action == "run":
            return _run_drill(args)
        if args.action == "follow":
            return _follow(args)
        ts = _store(args)
        try:
            if args.action == "progress":
                for e in ts.progress(args.student):
                    print(_score_line(f"{e['session_started_at'][:10]} {e['block']}", e["score"],
                                      "kPa" if e["quantity"] == "pressure" else "N"))
                    for note in e["score"].notes:
                        print(f"{'':24s} note: {note}")
            elif args.action == "export":
                n = ts.export_csv(args.file, student=args.student, class_name=args.class_name)
                print(f"{n} trial(s) written to {args.file}")
            elif args.action == "import":
                print(ts.import_csv(args.file).describe())
        finally:
            ts.close()
    except (DrillError, ScheduleError, BlockError, ValueError) as exc:
        raise UserError(str(exc)) from None
    return 0


def run_class(args: argparse.Namespace) -> int:
    ts = _store(args)
    try:
        if args.action == "student":
            for code in args.codes:
                ts.add_student(code)
            print(f"added {', '.join(args.codes)}")
        elif args.action == "add":
            ts.add_class(args.name)
            print(f"class {args.name!r} added")
        elif args.action == "enrol":
            ts.enrol(args.name, args.codes)
            print(f"{', '.join(args.codes)} in {args.name!r}")
        elif args.action == "list":
            for c in ts.classes():
                print(f"{c['name']}: {', '.join(s['code'] for s in ts.students(c['name'])) or '(no students)'}")
            print(f"all students: {', '.join(s['code'] for s in ts.students()) or '(none)'}")
        elif args.action == "compare":
            for row in ts.class_comparison(args.name, args.block):
                if row["score"] is None:
                    print(f"{row['student']:24s} no {args.block} yet")
                else:
                    print(_score_line(row["student"], row["score"], "kPa" if row["quantity"] == "pressure" else "N"))
    finally:
        ts.close()
    return 0


# ``pointdose train run``'s numeric options and their ranges (settings; the drill's own checks in
# ``pointdose train run``'s numeric options: the drill's ranges (pointdose.protocols.values.RANGES,
# the same ones Drill checks for the Training tab), through the one number checker
RUN_NUMBERS = {  # option attribute: (flag, range key)
    "tolerance": ("--tolerance", "drill_tolerance_pct"),
    "ramp": ("--ramp", "drill_ramp_s"),
    "hold": ("--hold", "drill_hold_s"),
    "release": ("--release", "drill_release_s"),
    "rest": ("--rest", "drill_rest_s"),
    "trials": ("--trials", "drill_trials"),
    "test_trials": ("--test-trials", "drill_test_trials"),
    "practice_blocks": ("--practice-blocks", "drill_practice_blocks"),
    "get_ready": ("--get-ready", "drill_get_ready_s"),
}


def _check_numbers(args) -> None:
    """Finite and in range, one line naming the option otherwise (NaN, inf, negative, huge)."""
    from pointdose.commands.cliopts import probe_area_cm2
    from pointdose.protocols.values import number, setting

    args.probe_area = probe_area_cm2(args.probe_area)
    for attr, (flag, key) in RUN_NUMBERS.items():
        if getattr(args, attr, None) is not None:
            setattr(args, attr, setting(getattr(args, attr), key, flag))
    if args.seed is not None:
        args.seed = number(args.seed, "--seed", 0, 2 ** 32 - 1, integer=True)
    for attr, flag in (("target", "--target"), ("transfer_target", "--transfer-target")):
        if getattr(args, attr, None) is not None:  # finite, above 0 in the unit typed; the range once converted
            setattr(args, attr, number(getattr(args, attr), flag, 0.0, 1e9, lo_open=True))


def _check_target(value: float, flag: str, quantity: str) -> None:
    """A target converted to kPa (pressure) or N (force) within the drill's range."""
    from pointdose.protocols.values import setting

    setting(value, "drill_target_kpa" if quantity == "pressure" else "drill_target_n", f"{flag} (converted)")


def _practice_schedule(args, ts):
    """The practice schedule from --schedule (a bare ``yoked`` reads the partner's from ``ts``)."""
    from pointdose.errors import UserError
    from pointdose.training import Schedule

    if args.schedule.strip().lower() == "yoked":
        if not args.yoke_to:
            raise UserError("--schedule yoked needs --yoke-to CODE: the self-controlled student whose requests to replay")
        schedule, n = ts.yoked_schedule(args.yoke_to, args.yoke_block)
        if n != args.trials:
            raise UserError(f"{args.yoke_to}'s self-controlled block had {n} trials: add --trials {n} so the yoked "
                            "student gets the same practice")
        return schedule
    if args.yoke_to or args.yoke_block:
        raise UserError("--yoke-to and --yoke-block go with --schedule yoked")
    return Schedule.parse(args.schedule, seed=args.seed, kr=args.kr)


def _build_blocks(args, ts=None):
    from pointdose import units
    from pointdose.training import Block, Schedule, preset, standard_plan
    from pointdose.training.drill import Drill, from_user
    from pointdose.training.runner import practice_blocks

    u = units.unit(args.unit)
    quantity = "pressure" if u.kind == "pressure" else "force"
    fields = dict(tolerance_pct=args.tolerance, ramp_s=args.ramp, hold_s=args.hold, release_s=args.release,
                  rest_s=args.rest, trials=args.trials, surface=args.surface, probe_area_cm2=args.probe_area)
    if args.target is not None:
        target = from_user(args.target, u.key, quantity, args.probe_area)
        _check_target(target, "--target", quantity)
        drill = Drill(target=target, quantity=quantity, **fields)
    else:
        drill = preset(args.preset, quantity=quantity, **fields)
    schedule = _practice_schedule(args, ts)
    if args.plan == "practice":
        return drill, practice_blocks(drill, schedule, args.practice_blocks)
    if args.plan in ("retention", "test"):
        kind = "retention" if args.plan == "retention" else "post-test"
        return drill, [Block(kind, drill.with_(trials=args.test_trials), Schedule.none())]
    transfer = None
    if args.plan == "transfer":
        t = (from_user(args.transfer_target, u.key, quantity, args.probe_area) if args.transfer_target is not None
             else drill.target * 0.6)
        _check_target(t, "--transfer-target", quantity)
        transfer = drill.with_(target=t)
    return drill, standard_plan(drill, schedule, test_trials=args.test_trials, transfer=transfer,
                                practice_count=args.practice_blocks)


def _run_drill(args) -> int:
    from pointdose.errors import UserError
    from pointdose.training import warnings
    from pointdose.training.live import LiveTrainer

    if args.port and args.sim:
        raise UserError("choose either --port or --sim, not both")
    if args.virtual_student and not args.sim:
        raise UserError("--virtual-student presses the simulated device: add --sim")
    _check_numbers(args)
    ts = _store(args)
    try:
        ts.student(args.student)  # fails early, with the known students, before a device is touched
        drill, blocks = _build_blocks(args, ts)
        for w in warnings(drill):
            print(f"warning: {w.text}", file=sys.stderr)
            if not args.yes:
                raise UserError("the drill was not started: read the warning above, then add --yes to go ahead")
    except BaseException:
        ts.close()
        raise
    unit = drill.unit
    sim = link = student = trainer = lsl = None
    try:
        from pointdose.device import open_device

        dev = open_device(args.port, sim=args.sim, sim_board=getattr(args, "sim_board", None))
        sim, link = dev.sim, dev.link
        link.start()
        from pointdose.calibration import load_scale

        scale = load_scale(link, probe_area_cm2=drill.probe_area_cm2)
        conv = scale.require()  # before the session row: an uncalibrated device leaves no empty session
        for note in scale.messages:
            print(f"note: {note}", file=sys.stderr)
        session = ts.start_session(args.student, class_name=args.class_name)
        print(f"session {session} · {drill.describe()}")
        for b in blocks:
            plan = b.plan()
            chosen = (f", feedback on trials {list(plan.chosen)}" if b.schedule.kind in ("intermittent", "faded", "yoked")
                      else "")
            print(f"  block {b.kind}: {b.drill.trials} trials, feedback {b.schedule.describe()}{chosen}")
        printer = _Printer(unit)
        trainer = LiveTrainer(link, blocks, store=ts, session_uid=session, conv=conv, get_ready_s=args.get_ready,
                              on_cue=printer.cue, on_trial=printer.trial)
        from pointdose.lsl import stream_link_if_asked
        lsl = stream_link_if_asked(args.lsl, link, drill.probe_area_cm2, trainer)
        if args.virtual_student:
            from pointdose.training.hand import SimulatedStudent

            student = SimulatedStudent(trainer, seed=args.seed or 1).start()
        elif any(b.schedule.kind == "self" for b in blocks) and sys.stdin is not None and sys.stdin.isatty():
            print("self-controlled: type b + Enter to ask for feedback on the next trial, a + Enter for the "
                  "result of the trial just done (as the schedule allows)")
            threading.Thread(target=_read_requests, args=(trainer,), daemon=True).start()
        try:
            trainer.run()
        except KeyboardInterrupt:
            trainer.stop("interrupted")
            print("\nstopped; the finished trials are saved")
        for run in trainer.runs:
            print(_score_line(run.block.kind, run.block_score(), unit))
            for note in run.block_score().notes:
                print(f"{'':24s} note: {note}")
    finally:
        if student is not None:
            student.stop()
        if trainer is not None:
            trainer.close()
        if lsl is not None:
            lsl.close()
        if link is not None:
            link.close()
        if sim is not None:
            sim.close()
        ts.close()
    return 0


def _follow(args) -> int:
    """``train follow APPLICATION_ID``: the expert's curve from the records, followed on a device."""
    from pointdose.commands.cliopts import probe_area_cm2
    from pointdose.errors import UserError
    from pointdose.protocols.values import number
    from pointdose.records.store import Store
    from pointdose.training.follow import curve_from_records, follow_live
    from pointdose.training.live import RingRows, converter

    if args.port and args.sim:
        raise UserError("choose either --port or --sim, not both")
    text = str(args.application).strip()
    if not text.isdigit():
        raise UserError(f"APPLICATION_ID {args.application!r} is not a number: give an application's id "
                        "(pointdose history lists them)")
    area = probe_area_cm2(args.probe_area)
    wait = number(args.wait, "--wait", 1.0, 3600.0)
    with Store(args.db, readonly=True, create=False) as store:
        curve = curve_from_records(store, int(text))
    ts = session_uid = None
    if args.student:  # checked before the device opens: an unknown student is one line, nothing recorded
        ts = _store(args)
        try:
            ts.student(args.student)
            if args.class_name:
                ts.class_(args.class_name)
        except BaseException:
            ts.close()
            raise
    from pointdose.training.follow import FollowAttempt

    attempt = FollowAttempt(curve)
    sim = link = None
    try:
        from pointdose.device import open_device

        dev = open_device(args.port, sim=args.sim)
        sim, link = dev.sim, dev.link
        link.start()
        rows = RingRows(link.ring, converter(link, area), area)
        try:
            score, _, _ = follow_live(rows, curve, wait_s=wait, on_line=lambda s: print(s, flush=True),
                                      attempt=attempt)
        except KeyboardInterrupt:
            print("\nstopped: nothing scored")
            return 130
        if ts is not None:
            session_uid = ts.start_session(args.student, class_name=args.class_name)
            ts.save_follow(session_uid, curve, score, attempt.rows(), probe_area_cm2=area)
            ts.end_session(session_uid)
    finally:
        if link is not None:
            link.close()
        if sim is not None:
            sim.close()
        if ts is not None:
            ts.close()
    print(f"followed {curve.source} ({curve.duration_s:.1f} s): n={score.n}  CE {_fmt(score.constant_error)}  "
          f"|CE| {_fmt(score.abs_constant_error)}  AE {_fmt(score.absolute_error)}  VE {_fmt(score.variable_error)}  "
          f"E {_fmt(score.total_error)}  (kPa)")
    for note in score.notes:
        print(f"  note: {note}")
    if session_uid is not None:
        print(f"kept in {args.student}'s training records (pointdose train export lists it as block 'follow')")
    return 0


def _read_requests(trainer) -> None:
    """The terminal's request buttons: a line "b" asks before the next trial, "a" after the last."""
    for line in sys.stdin:
        word = line.strip().lower()[:1]
        moment = {"b": "before", "a": "after"}.get(word)
        if moment is None:
            print("  type b (feedback on the next trial) or a (result of the last trial), then Enter")
        elif not trainer.request(moment):
            print(f"  no request {moment} now (not allowed by the schedule, or not at this moment)")
        if trainer.finished:
            return


class _Printer:
    """Text cues: a line when the phase, trial or band changes, and the countdown each second.
    Built only from ``cue.terminal_line()`` and the shown result: nothing else about the pressure."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.last = None
        self.last_kr = ""

    def cue(self, cue) -> None:
        key = (cue.block, cue.trial, cue.phase, cue.band, None if cue.time_left_s is None else int(cue.time_left_s))
        if key != self.last:
            self.last = key
            print(cue.terminal_line(self.unit), flush=True)
        if cue.kr and cue.kr != self.last_kr:
            self.last_kr = cue.kr
            print(f"  result: {cue.kr}", flush=True)

    def trial(self, run, rec) -> None:
        pass
