"""Open what a guided application is recorded into: the store, its listener, the runner's extra info.

The session runner and the records store do not know each other (``pointdose.listeners``); the
places that start a session — the Session tab and ``pointdose session`` — call
:func:`open_recording` and hand ``recording.listener`` and ``recording.info_extra`` to the runner.

Which client and point: an explicit ``client_code`` (command line) wins; else the body-map
selection (:mod:`pointdose.records.selection`) when a client and a point are chosen there; else the
listener files the application under the "unassigned" client, so nothing is dropped. Either way a
client's application joins a visit by one rule, :func:`visit_session` (a session chosen by the
user — ``--visit ID`` or the Points tab's session list — else the client's open visit, else a new
one), so PPT and pain before/after pair in the app as in the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pointdose.records import selection
from pointdose.records.listener import RecordingListener
from pointdose.records.store import Store, StoreError


@dataclass
class Recording:
    store: Store
    listener: RecordingListener
    session_id: int | None
    info_extra: dict[str, Any] = field(default_factory=dict)
    where: str = ""  # one line for the user: which database, which client
    left_in_journal: int = 0  # a records server away at the end: rows waiting in the station's journal

    def close(self) -> None:
        """Write what is buffered and close the database (safe to call twice)."""
        try:
            self.listener.close()
            if self.store.backend != "sqlite":
                try:
                    self.left_in_journal = self.store.sync()
                except StoreError:
                    self.left_in_journal = self.store.pending()
        finally:
            self.store.close()

    def journal_note(self) -> str | None:
        """After :meth:`close`: one line when the recording waits in the journal for the server."""
        if not self.left_in_journal:
            return None
        return (f"the records server {self.store.path} is away: this recording is kept in this station's journal "
                f"({self.left_in_journal} rows) and sent when the server is back (or: pointdose records sync)")

    def failure(self) -> str | None:
        """After :meth:`close`: None when the whole recording was written, else one line saying it
        failed, why, what was saved and what was NOT (never a claim that nothing was lost). The
        terminal session prints it; the Session tab shows it."""
        listener = self.listener
        unsaved = listener.unsaved()
        problem = listener.fault or (listener.error if unsaved else None)
        if problem is None:
            return None
        saved = f"{listener.samples_written} samples were saved" if listener.samples_written else "nothing was saved"
        lost = f"NOT saved: {unsaved}" if unsaved else "what was left was written when the session ended"
        return f"the recording failed, so the session was stopped at once: {problem} — {saved}; {lost}"


VISIT_WINDOW_MIN = 30.0  # a setting: a client's next application within this many minutes continues the visit


def visit_session(store: Store, client_id: int, visit: str | int | None = None,
                  window_min: float = VISIT_WINDOW_MIN, *, create: bool = True) -> tuple[int | None, str]:
    """The session (visit) a client's next application belongs to, and how it was chosen.

    ``visit``: a session id (it must be this client's), ``"new"`` (always a new one), or None: the
    client's open visit (:meth:`Store.open_visit`, last application ended under ``window_min`` ago),
    else a new one. ``create=False`` only looks (None where a new one would be made)."""
    if visit is not None and str(visit).strip().lower() != "new":
        try:
            session_id = int(str(visit).strip())
        except ValueError:
            raise StoreError(f"--visit {visit!r}: give a session id (`pointdose history --client CODE` lists "
                             "them) or 'new'") from None
        row = store.session(session_id)
        if row["client_id"] != client_id:
            raise StoreError(f"session {session_id} is another client's: give one of this client's sessions "
                             "(`pointdose history --client CODE`) or 'new'")
        return session_id, f"visit {session_id} (continued)"
    if visit is None:
        found = store.open_visit(client_id, window_min * 60.0)
        if found is not None:
            return found, f"visit {found} (continued: the last application ended under {window_min:g} min ago)"
    if not create:
        return None, "a new visit"
    session_id = store.start_session(client_id)
    return session_id, f"visit {session_id} (new)"


def selection_visit(store: Store, sel, window_min: float = VISIT_WINDOW_MIN) -> tuple[int | None, str]:
    """The visit the app's next application would join (None: a new one), without making one."""
    if sel.client_id is None:
        return None, "no client"
    return visit_session(store, sel.client_id, getattr(sel, "visit", None), window_min, create=False)


def open_recording(*, db_path: str | Path | None = None, client_code: str | None = None,
                   visit: str | int | None = None, visit_window_min: float = VISIT_WINDOW_MIN) -> Recording:
    """Raises :class:`StoreError` (a UserError) when the database cannot be opened.

    With ``client_code``, or a client picked in the app, the application joins the client's visit
    (:func:`visit_session`; the app's choice is ``selection.visit``)."""
    sel = selection.current()
    use_selection = client_code is None and sel.ready and (db_path is None or _same(db_path, sel.db_path))
    store = Store(db_path or (sel.db_path if use_selection else None))
    try:
        store.check_writable()  # a file that cannot record is refused before the session starts
        session_id, extra, who = None, {}, "unassigned (choose a client on the Points tab to file it)"
        if client_code is not None:
            try:
                client_id = store.client(client_code)["id"]
            except StoreError:
                client_id = store.add_client(client_code)
            session_id, how = visit_session(store, client_id, visit, visit_window_min)
            extra = {"session_id": session_id}
            who = f"client {client_code}, {how}"
        elif use_selection:
            session_id, how = visit_session(store, sel.client_id, sel.visit, visit_window_min)
            extra = {"session_id": session_id, "point_id": sel.point_id}
            who = f"client {sel.client_code}, {sel.point_label or 'point ' + str(sel.point_id)}, {how}"
        listener = RecordingListener(store, session_id=session_id)
    except BaseException:
        store.close()
        raise
    return Recording(store, listener, session_id, extra, f"recording to {store.path} — {who}")


def _same(a, b) -> bool:
    if b is None:
        return False
    if "://" in str(a) or "://" in str(b):  # server URLs
        return str(a) == str(b)
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
