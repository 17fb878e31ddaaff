"""Renaming and moving a free-text point from the app, without DearPyGui.

The Clinical tab asks to rename the chosen point (at once) or to place/move it: the request waits
here until the next click on the Points tab's figure, which then moves the point there instead of
picking one (:meth:`PointEditor.place`). The store work is :mod:`pointdose.records.clinical`; the
point keeps its id, so its history follows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pointdose.records import clinical
from pointdose.records.store import Store


@dataclass(frozen=True)
class MoveRequest:
    client_id: int
    point_id: int
    label: str


class PointEditor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._move: MoveRequest | None = None
        self.message = ""  # the last outcome, one line for the view

    def rename(self, store: Store, point_id: int, name: str) -> dict:
        """Rename now; StoreError (one line) when refused. Returns the point's row."""
        row = clinical.rename_point(store, point_id, name)
        self.message = f"renamed to {row['label']} ({row['side']}); its history stays with it"
        return row

    def request_move(self, store: Store, point_id: int) -> MoveRequest:
        """The next click on the figure places this point (a free-text one; StoreError otherwise)."""
        row = store.point_row(point_id)
        if row["location"] not in clinical.FREE_TEXT:
            clinical.check_free_text(row, "moved")
        req = MoveRequest(row["client_id"], point_id, f"{row['label']} ({row['side']})")
        with self._lock:
            self._move = req
        self.message = f"click its place on the figure (Points tab) to put {req.label} there"
        return req

    def pending(self, client_id: int | None = None) -> MoveRequest | None:
        with self._lock:
            req = self._move
        if req is not None and client_id is not None and req.client_id != client_id:
            return None
        return req

    def cancel(self) -> None:
        with self._lock:
            self._move = None
        self.message = ""

    def place(self, store: Store, view: str, x: float, y: float) -> dict | None:
        """Carry out the waiting move at (x, y) of ``view``; None when none waits. StoreError when refused
        (the request stays, so the user can click again on the right side)."""
        req = self.pending()
        if req is None:
            return None
        row = clinical.move_point(store, req.point_id, view, x, y)
        with self._lock:
            self._move = None
        self.message = f"{row['label']} ({row['side']}) placed on the {view} view"
        return row


EDITOR = PointEditor()  # the app's one editor, shared by the Clinical and Points tabs
