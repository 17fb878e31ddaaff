"""Feedback schedules: on which trials the student sees (hears, feels) their pressure.

*Concurrent feedback* is everything that reveals the pressure during a trial: the live trace and
readout, the band tones, the device's LED and buzzer, the terminal's numbers. *Knowledge of
results* (KR) is the trial's outcome shown after it ends. A schedule decides the first; KR is
configured apart (``kr``: ``"always"``, ``"with-feedback"`` — only after trials that had feedback —
or ``"never"``), except where a schedule itself is about KR (self-controlled "after").

Kinds (domain notes, "Training with force feedback": JOSPT 2012;42:114, Chiviacowsky & Wulf 2005):

``constant``
    every trial.
``intermittent``
    exactly ``count`` of the block's trials, chosen by ``random.Random(seed).sample``; the seed
    and the chosen trial numbers are recorded with the block, so a block can be replayed.
``faded``
    the share of trials with feedback falls linearly from ``start`` (default 1) on the first
    trial to ``end`` (default 0) on the last. Trial *i* gets feedback when the rounded running
    sum of the shares steps up at *i*, so the count is exactly ``round(Σ shares)`` and the
    feedback trials bunch early. No randomness.
``bandwidth``
    during each trial the pressure is revealed only while the error of the readout (mean of the
    last 0.1 s) is outside ``± bandwidth`` (% of the target) — silence means "within the
    bandwidth"; KR is shown after a trial only when its outcome's error is outside it.
``self``
    self-controlled: the student asks. ``when="before"``: a request made before a trial turns
    concurrent feedback on for that trial. ``when="after"``: a request made after a trial shows
    that trial's KR (no concurrent feedback). ``when="both"`` allows both. Requests are recorded.
``none``
    no feedback (pre-test, post-test, retention, transfer).

    >>> s = Schedule.intermittent(2, seed=7)
    >>> s.plan(6).concurrent
    (False, True, True, False, False, False)
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("constant", "intermittent", "faded", "bandwidth", "self", "none")
KR_MODES = ("always", "with-feedback", "never")
SELF_WHEN = ("before", "after", "both")
DEFAULT_BANDWIDTH_PCT = 10.0


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class BlockPlan:
    """A schedule applied to ``n`` trials: ``concurrent[i]`` is None where it is decided live
    (bandwidth, self-controlled before)."""

    kind: str
    concurrent: tuple[bool | None, ...]
    seed: int | None = None
    chosen: tuple[int, ...] = ()  # 1-based trial numbers with feedback (intermittent, faded, constant)


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    count: int | None = None  # intermittent: trials with feedback per block
    seed: int | None = None  # intermittent: the shuffle's seed (drawn and recorded when None)
    start: float = 1.0  # faded: share of feedback at the first trial
    end: float = 0.0  # faded: … and at the last
    bandwidth_pct: float = DEFAULT_BANDWIDTH_PCT  # bandwidth: ± % of the target
    when: str = "both"  # self-controlled: before / after / both
    kr: str = "always"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ScheduleError(f"unknown feedback schedule {self.kind!r}: choose one of {', '.join(KINDS)}")
        if self.kr not in KR_MODES:
            raise ScheduleError(f"knowledge of results must be one of {', '.join(KR_MODES)}, not {self.kr!r}")
        if self.kind == "intermittent":
            if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 0:
                raise ScheduleError(f"an intermittent schedule needs a count of feedback trials (0 or more), got {self.count!r}")
        if self.kind == "faded" and not (0.0 <= self.end <= 1.0 and 0.0 <= self.start <= 1.0):
            raise ScheduleError(f"faded shares are fractions 0 … 1, got start {self.start!r}, end {self.end!r}")
        if self.kind == "bandwidth" and not (0 < self.bandwidth_pct < 100):
            raise ScheduleError(f"bandwidth must be between 0 and 100 % of the target, got {self.bandwidth_pct!r}")
        if self.kind == "self" and self.when not in SELF_WHEN:
            raise ScheduleError(f"self-controlled feedback is asked for 'before', 'after' or 'both', not {self.when!r}")

    # ---- constructors
    @classmethod
    def constant(cls, **kw) -> "Schedule":
        return cls("constant", **kw)

    @classmethod
    def intermittent(cls, count: int, seed: int | None = None, **kw) -> "Schedule":
        return cls("intermittent", count=count, seed=seed, **kw)

    @classmethod
    def faded(cls, start: float = 1.0, end: float = 0.0, **kw) -> "Schedule":
        return cls("faded", start=start, end=end, **kw)

    @classmethod
    def bandwidth(cls, pct: float = DEFAULT_BANDWIDTH_PCT, **kw) -> "Schedule":
        return cls("bandwidth", bandwidth_pct=pct, **kw)

    @classmethod
    def self_controlled(cls, when: str = "both", **kw) -> "Schedule":
        return cls("self", when=when, **kw)

    @classmethod
    def none(cls, kr: str = "never") -> "Schedule":
        return cls("none", kr=kr)

    @classmethod
    def parse(cls, text: str, *, seed: int | None = None, kr: str | None = None) -> "Schedule":
        """``constant``, ``intermittent:3``, ``faded[:1.0:0.0]``, ``bandwidth[:10]``,
        ``self[:before|after|both]``, ``none`` (the command line's ``--schedule``)."""
        parts = [p.strip() for p in str(text).strip().lower().split(":")]
        kind, args = parts[0], parts[1:]
        extra: dict[str, Any] = {}
        if kr is not None:
            extra["kr"] = kr
        try:
            if kind == "constant" and not args:
                return cls.constant(**extra)
            if kind == "none" and not args:
                return cls.none(kr=kr or "never")
            if kind == "intermittent" and len(args) == 1:
                return cls.intermittent(int(args[0]), seed=seed, **extra)
            if kind == "faded" and len(args) in (0, 2):
                return cls.faded(*(float(a) for a in args), **extra)
            if kind == "bandwidth" and len(args) <= 1:
                return cls.bandwidth(*(float(a) for a in args), **extra)
            if kind in ("self", "self-controlled") and len(args) <= 1:
                return cls.self_controlled(*args, **extra)
        except ValueError as exc:
            if isinstance(exc, ScheduleError):
                raise
            raise ScheduleError(f"schedule {text!r}: {exc}") from None
        raise ScheduleError(f"schedule {text!r} not understood: use constant, intermittent:N, faded[:START:END], "
                            "bandwidth[:PCT], self[:before|after|both] or none")

    # ---- what it means for a block
    def with_seed(self) -> "Schedule":
        """This schedule with its seed fixed (drawn now for an intermittent one without one)."""
        if self.kind == "intermittent" and self.seed is None:
            return Schedule(**{**asdict(self), "seed": random.SystemRandom().randrange(1, 2**31)})
        return self

    def plan(self, n: int) -> BlockPlan:
        if n < 1:
            raise ScheduleError("a block needs at least one trial")
        if self.kind == "constant":
            return BlockPlan(self.kind, (True,) * n, chosen=tuple(range(1, n + 1)))
        if self.kind == "none":
            return BlockPlan(self.kind, (False,) * n)
        if self.kind == "intermittent":
            if self.count > n:
                raise ScheduleError(f"intermittent feedback on {self.count} trials does not fit a block of {n}")
            if self.seed is None:
                raise ScheduleError("an intermittent schedule needs its seed fixed first (Schedule.with_seed())")
            chosen = sorted(random.Random(self.seed).sample(range(1, n + 1), self.count))
            return BlockPlan(self.kind, tuple(i in chosen for i in range(1, n + 1)), seed=self.seed,
                             chosen=tuple(chosen))
        if self.kind == "faded":
            shares = [self.start + (self.end - self.start) * (i / (n - 1) if n > 1 else 0.0) for i in range(n)]
            on, running, given = [], 0.0, 0
            for s in shares:
                running += s
                step = math.floor(running + 0.5 + 1e-9) - given
                on.append(step > 0)
                given += step
            return BlockPlan(self.kind, tuple(on), chosen=tuple(i + 1 for i, v in enumerate(on) if v))
        if self.kind == "bandwidth":
            return BlockPlan(self.kind, (None,) * n)
        # self-controlled: "before" requests decide concurrent feedback live; "after" alone: never on
        return BlockPlan(self.kind, (None,) * n if self.when in ("before", "both") else (False,) * n)

    # ---- live decisions
    def allows_request(self, moment: str) -> bool:
        """Whether the student may ask for feedback ``moment`` ("before" or "after") a trial."""
        return self.kind == "self" and (self.when == "both" or self.when == moment)

    def concurrent_now(self, planned: bool | None, *, requested_before: bool, error: float | None,
                       target: float) -> bool:
        """Whether the pressure is revealed at this instant of a trial."""
        if planned is not None:
            return planned
        if self.kind == "bandwidth":
            return error is not None and abs(error) > self.bandwidth_pct / 100.0 * target
        if self.kind == "self":
            return requested_before
        return False

    def kr_after(self, *, had_feedback: bool, requested_after: bool, error: float | None, target: float) -> bool:
        """Whether the trial's result is shown once it ends."""
        if self.kind == "self" and self.when in ("after", "both") and requested_after:
            return True
        if self.kr == "never":
            return False
        if self.kind == "bandwidth":
            return error is not None and abs(error) > self.bandwidth_pct / 100.0 * target
        if self.kr == "with-feedback":
            return had_feedback
        return True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Schedule":
        return cls(**data)

    def describe(self) -> str:
        if self.kind == "intermittent":
            return f"intermittent ({self.count} per block, seed {self.seed})"
        if self.kind == "faded":
            return f"faded ({self.start:.0%} → {self.end:.0%})"
        if self.kind == "bandwidth":
            return f"bandwidth (± {self.bandwidth_pct:g} %)"
        if self.kind == "self":
            return f"self-controlled ({self.when})"
        return self.kind
