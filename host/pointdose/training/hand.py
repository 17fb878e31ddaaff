"""A simulated student for demos and tests: the protocol package's virtual hand, plus learning.

The hand (``pointdose.sim.virtual_hand.VirtualHand``) presses the simulated device through its own
``sim profile`` commands, with reaction delay, overshoot, tremor and fatigue; it corrects towards
the band only while the cue shows the band — that is, only while feedback is on. On top of it the
student keeps a *belief* of the target: it starts off by ``initial_bias`` (a share of the target)
and, after a trial whose result the student saw (concurrent feedback or knowledge of results),
moves ``learn_rate`` of the way to where the outcome says it should be. Without feedback it stays
(plus a little forgetting noise). So accuracy improves with feedback, as in Snodgrass 2010.
Under a self-controlled schedule it asks for feedback after a trial (or, where only "before" is
allowed, for the next trial) with probability ``ask_p``, drawn from its seed: a demo of the
schedule, and a partner whose requests a yoked student can replay.
"""

from __future__ import annotations

import random
from dataclasses import replace

from pointdose import units


class SimulatedStudent:
    def __init__(self, trainer, *, skill: str = "intermediate", initial_bias: float = 0.25,
                 learn_rate: float = 0.6, drift: float = 0.02, seed: int = 1, ask_p: float = 0.5) -> None:
        from pointdose.sim.virtual_hand import VirtualHand

        self.trainer = trainer
        self.bias = float(initial_bias)  # belief = target × (1 + bias)
        self.learn_rate = learn_rate
        self.drift = drift
        self.rng = random.Random(seed)
        self.ask_p = float(ask_p)
        self.asked: list[tuple[str, int, str]] = []  # (block, trial, "before"/"after") requests granted
        self.area = trainer.blocks[0].drill.probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2
        self.history: list[tuple[str, int, float, bool]] = []  # (block, trial, bias before, saw result)
        previous = trainer.on_trial
        def on_trial(run, rec, _prev=previous):
            self.ask(run, rec)
            self.learn(run, rec)
            if _prev is not None:
                _prev(run, rec)
        trainer.on_trial = on_trial
        self.hand = VirtualHand(trainer.link, cue=self.perceived, skill=skill, probe_area_cm2=self.area,
                                seed=seed, use_buttons=False)

    def perceived(self):
        cue = self.trainer.hand_cue
        if cue is None or cue.target_kpa is None:
            run = self.trainer.current
            if cue is None or run is None:
                return cue
            d = run.drill
            cue = replace(cue, target_kpa=float(units.pressure_kpa(d.target, self.area)) if d.quantity == "force" else d.target)
        return replace(cue, target_kpa=cue.target_kpa * (1.0 + self.bias))

    def ask(self, run, rec) -> None:
        """Self-controlled: ask for the result of the trial just done, or for the next trial."""
        sch = run.schedule
        if sch.kind != "self" or self.rng.random() >= self.ask_p:
            return
        if sch.allows_request("after"):
            if self.trainer.request("after"):
                self.asked.append((run.block.kind, rec.number, "after"))
        elif rec.number < run.drill.trials and self.trainer.request("before"):
            self.asked.append((run.block.kind, rec.number + 1, "before"))

    def learn(self, run, rec) -> None:
        s = rec.score
        saw = rec.feedback_s > 0 or rec.kr_shown
        self.history.append((run.block.kind, rec.number, self.bias, saw))
        if rec.feedback_s > 0:  # felt the right pressure while the band guided the hand
            self.bias *= 1.0 - self.learn_rate
        elif rec.kr_shown and s is not None and s.outcome is not None and s.target:
            self.bias -= self.learn_rate * s.error / s.target
        else:
            self.bias += self.rng.gauss(0.0, self.drift)

    def start(self) -> "SimulatedStudent":
        self.hand.start()
        return self

    def stop(self) -> None:
        self.hand.stop()
