"""Pain 0–10 at the point before an application starts and after it ends, each skippable.

The workflow part shared by the Session tab and ``pointdose session`` (no GUI here):

    prompt = PainPrompt()
    prompt.before_start(lambda: start_the_runner(info_extra={**extra, **prompt.info_extra()}))
    prompt.answer("6")          # or prompt.skip(): the start goes on either way
    ...                         # the application runs and ends
    prompt.ended(lambda v: record_after(recording, v))
    prompt.answer("")           # Enter skips: nothing is stored, reports say "not rated"

A rating before is handed to the recording as ``info_extra["pain_before"]`` (the listener stores it
with the application, stage ``before``); a rating after is stored against the application that just
ended (:func:`record_after`). Only a rating given is stored; a skipped one leaves no row.
"""

from __future__ import annotations

import math
from typing import Callable

from pointdose.errors import UserError
from pointdose.records.store import Store, StoreError, shown

QUESTION = {"before": "Pain at this point now, 0–10", "after": "Pain at this point after the application, 0–10"}
SKIP_HINT = "Enter to skip"


def parse_rating(text) -> int | None:
    """A typed rating: '' (or 'skip', '-') → None (skipped); '0'…'10' → the number; else UserError."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise UserError("a pain rating is a whole number from 0 to 10")
    if isinstance(text, (int, float)):
        value = text
    else:
        t = str(text).strip().lower()
        if t in ("", "skip", "s", "-", "n/a"):
            return None
        try:
            value = float(t)
        except ValueError:
            raise UserError(f"pain {shown(text)}: type a whole number from 0 (none) to 10 (worst), "
                            f"or press Enter to skip") from None
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= 10:  # 'nan', 'inf' too
        raise UserError(f"pain {shown(text)}: type a whole number from 0 (none) to 10 (worst), or press Enter to skip")
    return int(value)


def record_pain(store: Store, application_id: int, value: int, stage: str) -> int:
    """Store a rating against an application (its session and point); returns the row id."""
    rows = store.query("SELECT session_id, point_id FROM applications WHERE id=?", (application_id,))
    if not rows:
        raise StoreError(f"there is no application {application_id} in the records")
    return store.add_pain(rows[0]["session_id"], value, stage, point_id=rows[0]["point_id"],
                          application_id=application_id)


def record_after(recording, value: int | None) -> int | None:
    """Store the rating after the application that ``recording`` (records.recording.Recording) just
    wrote; None when skipped or when nothing was recorded."""
    if value is None or recording is None:
        return None
    recording.listener.flush()  # the application's end, so its id is known
    app_id = recording.listener.last_application_id
    if app_id is None:
        return None
    return record_pain(recording.store, app_id, value, "after")


class PainPrompt:
    """Asks before the start and after the end; the caller shows :attr:`question` while
    :attr:`asking` is set and calls :meth:`answer` or :meth:`skip`."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.asking: str | None = None  # "before" / "after" while a question is open
        self.before: int | None = None
        self.after: int | None = None
        self.error = ""  # the last refused entry, one line
        self._then: Callable | None = None

    @property
    def question(self) -> str:
        return f"{QUESTION[self.asking]} ({SKIP_HINT})" if self.asking else ""

    def before_start(self, then: Callable[[], None]) -> None:
        """Ask before an application; ``then()`` starts it once answered or skipped (at once when off)."""
        self.before = self.after = None
        self.error = ""
        if not self.enabled:
            then()
            return
        self.asking, self._then = "before", then

    def ended(self, save: Callable[[int | None], None]) -> None:
        """The application ended: ask after; ``save(value)`` is called with the rating (None: skipped)."""
        if not self.enabled or self.asking is not None:
            return
        self.error = ""
        self.asking, self._then = "after", save

    def answer(self, text) -> bool:
        """Take a rating ('' skips). False (``error`` set, the question stays open) for a bad entry."""
        if self.asking is None:
            return False
        try:
            value = parse_rating(text)
        except UserError as exc:
            self.error = str(exc)
            return False
        stage, then = self.asking, self._then
        self.asking, self._then, self.error = None, None, ""
        if stage == "before":
            self.before = value
            if then is not None:
                then()
        else:
            self.after = value
            if then is not None:
                then(value)
        return True

    def skip(self) -> bool:
        return self.answer("")

    def cancel(self) -> None:
        """Drop an open question without starting or saving anything."""
        self.asking, self._then, self.error = None, None, ""

    def info_extra(self) -> dict:
        """What the recording needs at the start: the rating before, when one was given."""
        return {} if self.before is None else {"pain_before": self.before}
