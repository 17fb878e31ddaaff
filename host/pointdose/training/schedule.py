"""Feedback schedules: on which trials the student sees (hears, feels) their pressure.

*Concurrent feedback* is everything that reveals the pressure during a trial: the live trace and
readout, the band tones, the device's LED and buzzer, the terminal's numbers. *Knowledge of
results* (KR) is the trial's outcome shown after it ends. The fixed schedules decide concurrent
feedback, and KR is configured apart (``kr``: ``"always"``, ``"with-feedback"`` — only after trials
that had feedback — or ``"never"``). Self-controlled and yoked schedules decide both: their
``feedback`` says which one a requested (or yoked) trial gets. Definitions and sources:
docs/training.md, "Feedback schedules".

``constant``
    every trial.
``intermittent``
    exactly ``count`` of the block's trials, chosen by ``random.Random(seed).sample``; the seed
    and the chosen trial numbers are recorded with the block, so a block can be replayed.
``faded``
    the share of trials with feedback falls linearly from ``start`` (default 1) to ``end``
    (default 0) across a series of trials that may span several practice blocks (``offset``:
    this block's first trial's place in the series; ``total``: the series' length, default this
    block). A trial gets feedback when the rounded running sum of the shares steps up at it, so
    each block gets exactly ``round(Σ its shares)`` trials, bunched early. No randomness.
``bandwidth``
    during each trial the pressure is revealed only while the error of the readout (mean of the
    last 0.1 s) is outside ``± bandwidth`` (% of the target) — silence means "within the
    bandwidth"; KR is shown after a trial only when its outcome's error is outside it. (Under
    ``constant`` every channel keeps reporting inside the band too: the sound plays an in-band
    tone, so silence never means "in the band" there.)
``self``
    self-controlled: feedback **only** when the learner asks for it, never otherwise (``kr`` does
    not apply). ``when`` says only *when* the learner may ask — ``"before"`` a trial (for that
    trial) or ``"after"`` it (for the trial just done), or ``"both"`` — while ``feedback`` says
    what a request gives, the same either way: ``"kr"`` (the trial's result after it,
    Chiviacowsky & Wulf 2005) or ``"concurrent"`` (feedback during it; asked for before only).
    Requests are recorded.
``yoked``
    the feedback schedule of a self-controlled partner, replayed: ``trials`` (1-based) are the
    trials on which the partner asked, ``feedback`` the kind they got, ``partner`` the partner's
    block id. The yoked learner cannot ask; ``kr`` does not apply.
``none``
    no feedback (pre-test, post-test, retention, transfer).

    >>> s = Schedule.intermittent(2, seed=7)
    >>> s.plan(6).concurrent
    (False, True, True, False, False, False)
    >>> [Schedule.faded(total=12).for_block(k, 6).plan(6).chosen for k in (0, 1)]  # two 6-trial blocks
    [(1, 2, 3, 5, 6), (2,)]
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

KINDS = ("constant", "intermittent", "faded", "bandwidth", "self", "yoked", "none")
KR_MODES = ("always", "with-feedback", "never")
SELF_WHEN = ("before", "after", "both")
FEEDBACK_KINDS = ("kr", "concurrent")  # what a self-controlled request / a yoked trial gives
ON_REQUEST = ("self", "yoked")  # schedules that decide KR themselves
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
    chosen: tuple[int, ...] = ()  # 1-based trial numbers with feedback (intermittent, faded, constant, yoked)


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    count: int | None = None  # intermittent: trials with feedback per block
    seed: int | None = None  # intermittent: the shuffle's seed (drawn and recorded when None)
    start: float = 1.0  # faded: share of feedback at the first trial of the series
    end: float = 0.0  # faded: … and at its last
    bandwidth_pct: float = DEFAULT_BANDWIDTH_PCT  # bandwidth: ± % of the target
    when: str = "after"  # self-controlled: the learner may ask before / after a trial / both
    kr: str = "always"  # fixed schedules only (self and yoked decide KR themselves)
    feedback: str = "kr"  # self / yoked: what a requested (yoked) trial gets
    trials: tuple[int, ...] = ()  # yoked: the partner's trials with feedback, 1-based
    partner: str = ""  # yoked: the partner's block id (where ``trials`` came from)
    offset: int = 0  # faded: this block's first trial's place in the fading series (0-based)
    total: int | None = None  # faded: trials in the whole series (None: this block alone)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trials", tuple(self.trials))
        if self.kind not in KINDS:
            raise ScheduleError(f"unknown feedback schedule {self.kind!r}: choose one of {', '.join(KINDS)}")
        if self.kr not in KR_MODES:
            raise ScheduleError(f"knowledge of results must be one of {', '.join(KR_MODES)}, not {self.kr!r}")
        if self.feedback not in FEEDBACK_KINDS:
            raise ScheduleError(f"the feedback a request gives is 'kr' (the result after the trial) or 'concurrent' "
                                f"(during it), not {self.feedback!r}")
        if self.kind == "intermittent":
            if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 0:
                raise ScheduleError(f"an intermittent schedule needs a count of feedback trials (0 or more), got {self.count!r}")
        if self.kind == "faded":
            if not (0.0 <= self.end <= 1.0 and 0.0 <= self.start <= 1.0):
                raise ScheduleError(f"faded shares are fractions 0 … 1, got start {self.start!r}, end {self.end!r}")
            if not (isinstance(self.offset, int) and self.offset >= 0 and
                    (self.total is None or (isinstance(self.total, int) and self.total >= 1))):
                raise ScheduleError(f"a faded series needs offset >= 0 and total >= 1, got {self.offset!r}, {self.total!r}")
        if self.kind == "bandwidth" and not (0 < self.bandwidth_pct < 100):
            raise ScheduleError(f"bandwidth must be between 0 and 100 % of the target, got {self.bandwidth_pct!r}")
        if self.kind == "self":
            if self.when not in SELF_WHEN:
                raise ScheduleError(f"self-controlled feedback is asked for 'before', 'after' or 'both', not {self.when!r}")
            if self.feedback == "concurrent" and self.when != "before":
                raise ScheduleError("concurrent feedback can only be asked for before a trial: use self:before:concurrent, "
                                    "or self:after (the trial's result)")
        if self.kind == "yoked":
            if any(not isinstance(k, int) or isinstance(k, bool) or k < 1 for k in self.trials):
                raise ScheduleError(f"a yoked schedule's trials are trial numbers from 1, got {list(self.trials)!r}")

    # ---- constructors
    @classmethod
    def constant(cls, **kw) -> "Schedule":
        return cls("constant", **kw)

    @classmethod
    def intermittent(cls, count: int, seed: int | None = None, **kw) -> "Schedule":
        return cls("intermittent", count=count, seed=seed, **kw)

    @classmethod
    def faded(cls, start: float = 1.0, end: float = 0.0, *, total: int | None = None, **kw) -> "Schedule":
        return cls("faded", start=start, end=end, total=total, **kw)

    @classmethod
    def bandwidth(cls, pct: float = DEFAULT_BANDWIDTH_PCT, **kw) -> "Schedule":
        return cls("bandwidth", bandwidth_pct=pct, **kw)

    @classmethod
    def self_controlled(cls, when: str = "after", feedback: str = "kr", **kw) -> "Schedule":
        return cls("self", when=when, feedback=feedback, **kw)

    @classmethod
    def yoked(cls, trials, feedback: str = "kr", partner: str = "") -> "Schedule":
        return cls("yoked", trials=tuple(sorted(int(k) for k in trials)), feedback=feedback, partner=partner)

    @classmethod
    def none(cls, kr: str = "never") -> "Schedule":
        return cls("none", kr=kr)

    @classmethod
    def parse(cls, text: str, *, seed: int | None = None, kr: str | None = None) -> "Schedule":
        """``constant``, ``intermittent:3``, ``faded[:1.0:0.0]``, ``bandwidth[:10]``,
        ``self[:before|after|both][:kr|concurrent]``, ``yoked:2,3,5[:kr|concurrent]`` (replay a
        partner's requests), ``none`` (the command line's ``--schedule``)."""
        parts = [p.strip() for p in str(text).strip().lower().split(":")]
        kind, args = parts[0], parts[1:]
        extra: dict[str, Any] = {}
        if kr is not None:
            if kind in ("self", "self-controlled", "yoked"):
                raise ScheduleError(f"{kind}: feedback is given only on the learner's requests (or the partner's), "
                                    "so --kr does not apply; leave it out")
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
            if kind in ("self", "self-controlled") and len(args) <= 2:
                when = next((a for a in args if a in SELF_WHEN), "after")
                fb = next((a for a in args if a in FEEDBACK_KINDS), "kr")
                if len([a for a in args if a in SELF_WHEN or a in FEEDBACK_KINDS]) == len(args):
                    return cls.self_controlled(when, fb)
            if kind == "yoked" and 1 <= len(args) <= 2 and (len(args) == 1 or args[1] in FEEDBACK_KINDS):
                trials = [int(k) for k in args[0].split(",") if k.strip()] if args[0] not in ("", "-") else []
                return cls.yoked(trials, *args[1:])
        except ValueError as exc:
            if isinstance(exc, ScheduleError):
                raise
            raise ScheduleError(f"schedule {text!r}: {exc}") from None
        raise ScheduleError(f"schedule {text!r} not understood: use constant, intermittent:N, faded[:START:END], "
                            "bandwidth[:PCT], self[:before|after|both][:kr|concurrent], yoked:TRIALS[:kr|concurrent] "
                            "(e.g. yoked:2,5,6) or none")

    # ---- what it means for a block
    def with_seed(self) -> "Schedule":
        """This schedule with its seed fixed (drawn now for an intermittent one without one)."""
        if self.kind == "intermittent" and self.seed is None:
            return Schedule(**{**asdict(self), "seed": random.SystemRandom().randrange(1, 2**31)})
        return self

    def for_block(self, index: int, trials_per_block: int) -> "Schedule":
        """This schedule for practice block ``index`` (0-based) of several with ``trials_per_block``
        trials each: a faded one continues its series there (``offset``); an intermittent one gets
        its own seed per block (``seed + index``); the others are the same in every block."""
        if self.kind == "faded":
            return replace(self, offset=index * trials_per_block)
        if self.kind == "intermittent" and self.seed is not None and index:
            return replace(self, seed=self.seed + index)
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
            total = self.total if self.total is not None else n
            if self.offset + n > total:
                raise ScheduleError(f"this block's trials {self.offset + 1}–{self.offset + n} run past the faded "
                                    f"series of {total} trials")
            share = lambda i: self.start + (self.end - self.start) * (i / (total - 1) if total > 1 else 0.0)  # noqa: E731
            on, running, given = [], 0.0, 0
            for i in range(self.offset, self.offset + n):
                running += share(i)
                step = math.floor(running + 0.5 + 1e-9) - given
                on.append(step > 0)
                given += step
            return BlockPlan(self.kind, tuple(on), chosen=tuple(i + 1 for i, v in enumerate(on) if v))
        if self.kind == "bandwidth":
            return BlockPlan(self.kind, (None,) * n)
        if self.kind == "yoked":
            if self.trials and max(self.trials) > n:
                raise ScheduleError(f"the yoked partner's feedback came on trial {max(self.trials)}, beyond this "
                                    f"block's {n} trials: give the yoked block the partner's number of trials")
            on = tuple(i in self.trials and self.feedback == "concurrent" for i in range(1, n + 1))
            return BlockPlan(self.kind, on, chosen=self.trials)
        # self-controlled: a "before" request may turn concurrent feedback on live; otherwise never on
        return BlockPlan(self.kind, (None,) * n if self.feedback == "concurrent" else (False,) * n)

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
            return self.feedback == "concurrent" and requested_before
        return False

    def kr_after(self, *, had_feedback: bool, requested_after: bool, error: float | None, target: float,
                 requested_before: bool = False, trial: int | None = None) -> bool:
        """Whether the trial's result is shown once it ends."""
        if self.kind == "self":  # only when asked for, before or after the trial
            return self.feedback == "kr" and (requested_before or requested_after)
        if self.kind == "yoked":  # exactly where the partner asked
            return self.feedback == "kr" and trial in self.trials
        if self.kr == "never":
            return False
        if self.kind == "bandwidth":
            return error is not None and abs(error) > self.bandwidth_pct / 100.0 * target
        if self.kr == "with-feedback":
            return had_feedback
        return True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["trials"] = list(self.trials)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Schedule":
        """A stored schedule (JSON); older records lack the newer fields, which then take their
        defaults — except a self-controlled one, recorded when requests could turn concurrent
        feedback on: without a ``feedback`` field it was ``concurrent`` when asked before."""
        data = dict(data)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ScheduleError(f"unknown schedule field(s) {', '.join(unknown)}")
        if data.get("kind") == "self" and "feedback" not in data:
            data["feedback"] = "concurrent" if data.get("when") == "before" else "kr"
        return cls(**data)

    def describe(self) -> str:
        if self.kind == "intermittent":
            return f"intermittent ({self.count} per block, seed {self.seed})"
        if self.kind == "faded":
            span = "" if self.total is None else f", trials {self.offset + 1}… of a {self.total}-trial series"
            return f"faded ({self.start:.0%} → {self.end:.0%}{span})"
        if self.kind == "bandwidth":
            return f"bandwidth (± {self.bandwidth_pct:g} %)"
        what = "the result after the trial" if self.feedback == "kr" else "feedback during the trial"
        if self.kind == "self":
            when = {"before": "before a trial", "after": "after a trial", "both": "before or after a trial"}[self.when]
            return f"self-controlled ({what}, only when asked {when})"
        if self.kind == "yoked":
            return f"yoked ({what} on trials {', '.join(map(str, self.trials)) or 'none'}, as the partner asked)"
        return self.kind
