"""The Session tab's workflow without DearPyGui: from the picked point to a running, recorded application.

The tab reads its widgets and calls these; a test (``tests/e2e/test_therapist_day.py``) calls the same
functions with the values a user would give, on the controller's real link:

    pre = prepare_start("ischemic", params, probe_area_cm2=1.0)          # the start checks
    check_start(pre, acknowledged=…, confirmed=…)                        # refusals, boxes to tick
    app = open_application(controller, model, pre, acknowledged=…, confirmed=…, mixer=mixer,
                           pain_before=6)                                # recorded into the visit
    app.runner.start(); app.start_hand("expert", probe_area_cm2=1.0)     # (demo: the virtual hand)
    … app.runner.done.wait() …
    app.record_pain_after(3); app.close()

The point and client are the Points tab's pick (:mod:`pointdose.records.selection`); the recording
joins the client's visit by the terminal's rule (:func:`pointdose.records.recording.visit_session`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def prepare_start(protocol: str, params: dict | None = None, *, point_name: str = "", probe_area_cm2: float = 1.0,
                  self_massage: bool = False, relative_defaults: bool = False, protocol_obj=None):
    """The one start decision (the same as ``pointdose session``'s) for the picked point:
    :class:`pointdose.session.precheck.Prepared`. ``protocol_obj``: an already built protocol
    (the Session tab's edited settings), else ``protocol`` with ``params``."""
    from pointdose.protocols import resolve
    from pointdose.records import selection
    from pointdose.session.precheck import prepare_for_selection

    params = dict(params or {})
    proto = protocol_obj if protocol_obj is not None else resolve(protocol, **params)
    return prepare_for_selection(proto, selection.current(), point_name=point_name, probe_area_cm2=probe_area_cm2,
                                 self_massage=self_massage, relative_defaults=relative_defaults,
                                 rebuild=lambda offers: resolve(protocol, **{**params, **offers}))


def check_start(pre, *, acknowledged: bool = False, confirmed: bool = False,
                ack_hint: str = "the box 'I have read these cautions'",
                confirm_hint: str = "the box 'start above the PPT ceiling'") -> tuple[bool, bool]:
    """Refusals first (nothing unlocks them), then the boxes the start needs; UserError naming what is
    missing. Returns (acknowledged, confirmed) as recorded: True only where it was needed and given."""
    pre.decision.check(acknowledged=True, confirmed=True)
    confirmed = bool(confirmed) and pre.needs_confirm
    acknowledged = bool(acknowledged) and pre.needs_ack
    pre.check(acknowledged=acknowledged or not pre.needs_ack, confirmed=confirmed or not pre.needs_confirm,
              ack_hint=ack_hint, confirm_hint=confirm_hint)
    return acknowledged, confirmed


@dataclass
class Application:
    """A recorded application: the runner, where it is recorded, the demo's virtual hand."""

    link: Any
    runner: Any
    recording: Any
    prepared: Any
    hand: Any = None
    pain: dict = field(default_factory=dict)

    def start_hand(self, skill: str, *, probe_area_cm2: float, release_after_s=(8.0, 14.0)):
        """The demo: a virtual hand follows the cues on the simulated device."""
        from pointdose.sim.virtual_hand import VirtualHand

        self.hand = VirtualHand(self.link, cue=lambda: self.runner.cue, signal=self.runner.signal, skill=skill,
                                probe_area_cm2=probe_area_cm2, release_after_s=release_after_s).start()
        return self.hand

    def stop_hand(self) -> None:
        if self.hand is not None:
            self.hand.stop()
            self.hand = None

    def record_pain_after(self, value: int | None) -> int | None:
        """The rating after the application (None: skipped, nothing stored); call once it has ended."""
        from pointdose.records.pain import record_after

        self.pain["after"] = value
        return record_after(self.recording, value)

    def close(self) -> None:
        """Stop the hand and the runner, write what is buffered, close the database (twice is safe)."""
        self.stop_hand()
        try:
            self.runner.close()
        finally:
            recording, self.recording = self.recording, None
            if recording is not None:
                recording.close()


def open_application(controller, model, pre, *, acknowledged: bool = False, confirmed: bool = False,
                     mixer=None, pain_before: int | None = None) -> Application:
    """Open the recording (the picked client's visit, else 'unassigned') and build the runner on the
    controller's link; the demo presses stop (they would fight the session). Nothing runs yet:
    ``app.runner.start()``. UserError when there is no device or the records cannot be written."""
    from pointdose.errors import UserError
    from pointdose.records.recording import open_recording
    from pointdose.session import SessionRunner

    link = controller.link
    if link is None:
        raise UserError("no device yet: wait for the connection")
    recording = open_recording()
    try:
        recording.info_extra.update(pre.info_extra(acknowledged, confirmed))
        if pain_before is not None:
            recording.info_extra["pain_before"] = int(pain_before)  # stored with the application (records/pain.py)
        runner = SessionRunner(link, pre.protocol, pre.point, mixer=mixer, accept_caution=True,
                               calibration_record=getattr(model, "calibration_record", None),
                               listeners=[recording.listener], info_extra=recording.info_extra)
    except BaseException:
        recording.close()
        raise
    controller.stop_sim_demo()
    return Application(link, runner, recording, pre, pain={"before": pain_before})
