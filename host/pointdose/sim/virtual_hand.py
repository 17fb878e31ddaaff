"""A virtual hand that follows the session's cues on the simulated device, as a person would.

It reads the cue state (what the screen and the beeps say) with a reaction delay (~200 ms), aims
at the band with a skill-dependent error, moves like a damped second-order system (so it
overshoots), trembles at 8–12 Hz, drifts down as it tires during long holds and corrects when the
cue says "harder". In a PPT ramp it follows the rate guide and, when its own simulated PPT is
reached, presses the "pain" signal one reaction time later (the pressure keeps rising meanwhile,
as a real person's does: domain notes, ~250 ms ≈ +12 kPa at 50 kPa/s), then lets go. In a hold
that waits for "release felt" it signals after a while.

It drives the simulated sensor only through the device's own commands — ``sim profile T:N,…``
(the next ~0.25 s of its force, sent every 0.1 s; the tremor is drawn into the profile unless the
firmware has ``sim tremor AMP_N HZ``) — and signals through the same path a user would: the
device's buttons (``sim button NAME``, reaching the host as a BUTTON event) when the firmware has
them, else the same ``signal(kind)`` call the keyboard and the app use.

::

    hand = VirtualHand(link, cue=lambda: runner.cue, signal=runner.signal, skill="intermediate", ppt_kpa=260)
    hand.start() … hand.stop()
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from pointdose import units


@dataclass(frozen=True)
class Skill:
    reaction_s: float  # cue → movement, and pain → button
    zeta: float  # damping ratio: lower overshoots more
    omega: float  # natural frequency, rad/s (how briskly it moves)
    aim_error_pct: float  # SD of the misjudged level at each new target
    tremor_n: float  # tremor amplitude, N
    fatigue_pct_s: float  # % of the force lost per second of holding
    rate_error_pct: float  # SD of the misjudged ramp rate
    correct_pct_s: float  # how fast it corrects, % of the target per second, when the cue says so


SKILLS: dict[str, Skill] = {
    "novice": Skill(0.30, 0.40, 5.0, 12.0, 0.8, 0.6, 20.0, 25.0),
    "intermediate": Skill(0.22, 0.55, 6.0, 6.0, 0.4, 0.3, 10.0, 30.0),
    "expert": Skill(0.18, 0.80, 7.0, 2.0, 0.15, 0.12, 4.0, 40.0),
}
UPDATE_S = 0.1
HORIZON_POINTS = 5  # points per `sim profile` line (the device takes lines of at most 80 bytes)
TREMOR_HALF_PERIODS = (0.05, 0.06)  # profile spacing = half a tremor period: 10 Hz or 8.3 Hz


class VirtualHand:
    def __init__(self, link: Any, cue: Callable[[], Any], signal: Callable[..., None] | None = None, *,
                 skill: str = "intermediate", ppt_kpa: float = 250.0, ppt_sd_kpa: float = 15.0,
                 release_after_s: tuple[float, float] = (12.0, 20.0), probe_area_cm2: float = 1.0,
                 seed: int = 1, use_buttons: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        if skill not in SKILLS:
            raise ValueError(f"skill must be one of {', '.join(SKILLS)}, not {skill!r}")
        self.link = link
        self.cue_source = cue
        self.signal_cb = signal
        self.skill = SKILLS[skill]
        self.skill_name = skill
        self.ppt_kpa = ppt_kpa
        self.ppt_sd_kpa = ppt_sd_kpa
        self.release_after_s = release_after_s
        self.area = probe_area_cm2
        self.rng = random.Random(seed)
        self.clock = clock
        self.half_period = self.rng.choice(TREMOR_HALF_PERIODS)
        self.tremor_hz = 1.0 / (2 * self.half_period)
        self.use_buttons = use_buttons
        self.buttons = False  # the firmware has `sim button`
        self.device_tremor = False  # the firmware has `sim tremor`
        self.f = 0.0  # force, N
        self.v = 0.0  # N/s
        self.log: list[tuple[float, float, float]] = []  # (t, aim N, force N)
        self.signals: list[tuple[float, str, str]] = []  # (t, kind, path)
        self.errors: list[str] = []
        self._seen: deque[tuple[float, Any]] = deque()
        self._last_t: float | None = None
        self._key = None  # (phase, cycle, index, step) of the phase being followed
        self._phase_t0 = 0.0
        self._bias = 0.0  # fraction of the target the hand misjudges by
        self._rate_factor = 1.0
        self._ramp_aim = 0.0
        self._trial_ppt = None
        self._pain_at = None
        self._released = False
        self._release_at = None
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

    # ------------------------------------------------------------------ thread

    def start(self) -> "VirtualHand":
        self._thread = threading.Thread(target=self._loop, name="virtual-hand", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        try:
            self.link.command("sim force 0 0.5", timeout=1.0)
        except Exception:
            pass

    def _loop(self) -> None:
        self._probe_features()  # on this thread: the GUI that starts a hand never waits for the device
        while not self._halt.is_set():
            started = self.clock()
            try:
                self.tick(started)
            except Exception as exc:  # the link may be reconnecting: keep trying, note it
                self.errors.append(str(exc))
            self._halt.wait(max(0.0, UPDATE_S - (self.clock() - started)))

    def _probe_features(self) -> None:
        try:
            self.link.command(f"sim tremor {self.skill.tremor_n:.2f} {self.tremor_hz:.1f}", timeout=1.0)
            self.device_tremor = True
        except Exception:
            self.device_tremor = False
        self.buttons = self.use_buttons and hasattr(self.link, "on_button")

    # ------------------------------------------------------------------ one update

    def tick(self, now: float) -> str | None:
        """Advance to ``now``, decide, send the next profile; returns the command sent (for tests)."""
        cue = self.cue_source()
        self._seen.append((now, cue))
        seen = None  # the newest cue at least one reaction time old
        while self._seen and self._seen[0][0] <= now - self.skill.reaction_s:
            seen = self._seen.popleft()[1]
        if seen is not None:
            self._seen.appendleft((now - self.skill.reaction_s, seen))
        dt = 0.0 if self._last_t is None else min(0.5, max(0.0, now - self._last_t))
        self._last_t = now
        aim = self._aim(seen, now, dt)
        self._integrate(aim, dt)
        self.log.append((now, aim, self.f))
        self._maybe_signal(cue, now)
        return self._send_profile(aim, now)

    def _aim(self, cue, now: float, dt: float) -> float:
        """Force (N) the hand is trying to reach now, from the cue it perceived."""
        if cue is None or cue.phase not in ("ramp", "hold", "ease", "rest"):
            self._key = None
            return 0.0
        key = (cue.phase, cue.cycle, cue.phase_index, cue.step)
        sk = self.skill
        if key != self._key:  # a new phase or step: misjudge the new level afresh
            self._key = key
            self._phase_t0 = now
            self._bias = self.rng.gauss(0.0, sk.aim_error_pct / 100.0)
            self._rate_factor = 1.0 + self.rng.gauss(0.0, sk.rate_error_pct / 100.0)
            self._ramp_aim = units.pressure_kpa(self.f, self.area)
            self._released = False
            self._release_at = now + self.rng.uniform(*self.release_after_s)
            self._pain_at = None
            self._trial_ppt = self.rng.gauss(self.ppt_kpa, self.ppt_sd_kpa) if cue.waiting_for == "pain" else None
        if cue.waiting_for == "pain":  # PPT ramp: follow the rate guide until it hurts
            if self._released:
                return 0.0
            rate = (cue.rate_target_kpa_s or 50.0) * self._rate_factor
            if cue.rate_state == "slow":
                self._rate_factor += sk.correct_pct_s / 100.0 * dt
            elif cue.rate_state == "fast":
                self._rate_factor -= sk.correct_pct_s / 100.0 * dt
            self._ramp_aim += rate * dt
            return float(units.force_n(self._ramp_aim, self.area))
        if cue.target_kpa is None or cue.target_kpa <= 0 or cue.phase == "rest":
            return 0.0
        # correct towards the band as the (delayed) cue says, once the movement has settled
        settled = now - self._phase_t0 > 3.0 / sk.omega
        if not settled:
            pass
        elif cue.band == "below":
            self._bias += sk.correct_pct_s / 100.0 * dt
        elif cue.band == "above":
            self._bias -= sk.correct_pct_s / 100.0 * dt
        held = now - self._phase_t0 if cue.phase == "hold" else 0.0
        tired = max(0.5, 1.0 - sk.fatigue_pct_s / 100.0 * held)
        return float(units.force_n(cue.target_kpa * (1.0 + self._bias) * tired, self.area))

    def _integrate(self, aim: float, dt: float, step: float = 0.005) -> None:
        sk = self.skill
        t = 0.0
        while t < dt - 1e-12:
            h = min(step, dt - t)
            acc = sk.omega ** 2 * (aim - self.f) - 2 * sk.zeta * sk.omega * self.v
            self.v += acc * h
            self.f = max(0.0, self.f + self.v * h)
            t += h

    def _predict(self, aim: float, seconds: float) -> float:
        f, v = self.f, self.v
        sk = self.skill
        t = 0.0
        while t < seconds - 1e-12:
            h = min(0.005, seconds - t)
            v += (sk.omega ** 2 * (aim - f) - 2 * sk.zeta * sk.omega * v) * h
            f = max(0.0, f + v * h)
            t += h
        return f

    def _send_profile(self, aim: float, now: float) -> str:
        pts = []
        for k in range(1, HORIZON_POINTS + 1):
            t = round(k * self.half_period, 2)
            f = self._predict(aim, t)
            if not self.device_tremor and f > 0.5:  # tremor extremes, in step with absolute time
                f += self.skill.tremor_n * (1 if int(round((now + t) / self.half_period)) % 2 else -1)
            pts.append(f"{t:.2f}:{max(0.0, f):.1f}")
        line = "sim profile " + ",".join(pts)
        try:
            self.link.command(line, timeout=1.0)
        except Exception as exc:
            self.errors.append(f"{line}: {exc}")
        return line

    # ------------------------------------------------------------------ signals

    def _maybe_signal(self, cue, now: float) -> None:
        if cue is None or cue.phase not in ("ramp", "hold"):
            return
        if self._key != (cue.phase, cue.cycle, cue.phase_index, cue.step):
            return  # the hand has not yet perceived this phase
        if cue.waiting_for == "pain" and self._trial_ppt is not None and not self._released:
            felt = units.pressure_kpa(self.f, self.area)
            if self._pain_at is None and felt >= self._trial_ppt:
                self._pain_at = now + self.skill.reaction_s  # it hurts now; the thumb presses later
            if self._pain_at is not None and now >= self._pain_at:
                self._send_signal("pain", now)
                self._released = True
        elif cue.phase == "hold" and cue.waiting_for == "release" and not self._released and \
                self._release_at is not None and now >= self._release_at and cue.band == "in":
            self._send_signal("release", now)
            self._released = True

    def _send_signal(self, kind: str, now: float) -> None:
        if self.buttons:
            try:
                self.link.command(f"sim button {kind}", timeout=1.0)
                self.signals.append((now, kind, "device button"))
                return
            except Exception as exc:
                self.errors.append(f"sim button {kind}: {exc}")
                self.buttons = False
        if self.signal_cb is not None:
            self.signal_cb(kind, source="virtual hand")
            self.signals.append((now, kind, "input"))

