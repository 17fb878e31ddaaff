"""The Session tab's pain question: "pain 0–10" before Start and after the end, with Skip.

View code only; the workflow is :class:`pointdose.records.pain.PainPrompt` (no GUI). The Session
panel calls :meth:`PainPromptView.ask_before` from its Start button (the start waits for the
answer), :meth:`PainPromptView.arm` once the run started, and :meth:`PainPromptView.update` every
frame, which asks again when that run has ended and stores the answer against its application.
"""

from __future__ import annotations

from dataclasses import dataclass

import dearpygui.dearpygui as dpg

from pointdose.app import view
from pointdose.records.pain import PainPrompt, record_after


@dataclass(frozen=True)
class PainTags:
    enabled: str = "pd.pain.enabled"
    row: str = "pd.pain.row"
    question: str = "pd.pain.question"
    error: str = "pd.pain.error"
    skip: str = "pd.pain.skip"

    def button(self, value: int) -> str:
        return f"pd.pain.btn.{value}"


PT = PainTags()


class PainPromptView:
    def __init__(self) -> None:
        self.prompt = PainPrompt()
        self._armed = None  # (runner, recording) whose end is still to be asked about
        self._asked = False  # this start was asked about (the Start button with the box ticked)
        self.saved_after: list[int | None] = []  # what was stored after each run (tests)

    def build_checkbox(self, before: str | None = None, parent=None) -> None:
        """The "ask pain" switch (the Session tab puts it beside Mute)."""
        kwargs = {"before": before} if before else ({"parent": parent} if parent else {})
        dpg.add_checkbox(label="ask pain", tag=PT.enabled, default_value=True, **kwargs)
        with dpg.tooltip(PT.enabled):
            dpg.add_text(view._text("Ask pain 0–10 at the point before Start and after the end (Skip leaves it "
                                    "unrated). docs/clinical.md"))

    def build(self) -> None:
        """The question row, hidden until a question is open."""
        with dpg.group(tag=PT.row, show=False):
            dpg.add_text("", tag=PT.question, color=view.CYAN)
            with dpg.group(horizontal=True):
                for v in range(11):
                    dpg.add_button(label=str(v), tag=PT.button(v), width=30, user_data=v,
                                   callback=lambda s, a, u: self.answer(u))
                dpg.add_button(label="Skip", tag=PT.skip, width=52, callback=lambda: self.answer(""))
            dpg.add_text("", tag=PT.error, color=view.AMBER, show=False)

    # ---- the Session panel's hooks
    def wanted(self) -> bool:
        return bool(dpg.get_value(PT.enabled)) if dpg.does_item_exist(PT.enabled) else self.prompt.enabled

    def ask_before(self, start) -> None:
        """Hold ``start`` until "pain before" is answered or skipped."""
        self.prompt.enabled = True
        self._asked = True
        if self.prompt.asking == "after":  # Start pressed with the last question open: that one is skipped
            self.prompt.skip()
        self.prompt.before_start(start)

    def settle(self) -> None:
        """Before a new start closes the last recording: an open "pain after" is skipped (nothing
        stored) and a run not yet asked about is forgotten."""
        self._armed = None
        if self.prompt.asking == "after":
            self.prompt.skip()

    def take_before(self) -> dict:
        """The rating before for the recording's info (once), {} when none was given."""
        info = self.prompt.info_extra()
        self.prompt.before = None
        return info

    def arm(self, runner, recording) -> None:
        """Ask "pain after" when this run ends, and store the answer with its application — when its
        start was asked about (not a demo or a script's start)."""
        if self._asked:
            self._armed = (runner, recording)
        self._asked = False

    def answer(self, value) -> bool:
        return self.prompt.answer(value)

    def update(self) -> None:
        armed = self._armed
        if armed is not None and armed[0].done.is_set() and self.prompt.asking is None:
            self._armed = None
            recording = armed[1]

            def save(v):
                self.saved_after.append(v)
                record_after(recording, v)
            self.prompt.ended(save)
        asking = self.prompt.asking is not None
        dpg.configure_item(PT.row, show=asking)
        if asking:
            dpg.set_value(PT.question, view._text(self.prompt.question))
            dpg.set_value(PT.error, view._text(self.prompt.error))
            dpg.configure_item(PT.error, show=bool(self.prompt.error))
