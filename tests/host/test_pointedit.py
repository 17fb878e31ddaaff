"""Renaming and placing a free-text point through the app's editor (no GUI)."""

import pytest

from pointdose.app.pointedit import PointEditor
from pointdose.records import Store, StoreError, clinical


def test_rename_now_and_place_on_the_next_click(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        cid = store.add_client("E-1")
        other = store.add_client("E-2")
        pid = store.point(cid, "unplaced", "R", label="levator")
        body = store.point(cid, "upper_trapezius.1", "L")
        ed = PointEditor()
        assert ed.place(store, "back", 0.6, 0.2) is None  # nothing waits: a click is a normal pick
        ed.rename(store, pid, "levator scapulae")
        assert store.point_row(pid)["label"] == "levator scapulae" and "history stays" in ed.message
        with pytest.raises(StoreError, match="body-map location"):
            ed.request_move(store, body)
        ed.request_move(store, pid)
        assert ed.pending(cid).point_id == pid and ed.pending(other) is None  # another client's map: not this
        with pytest.raises(StoreError, match="right side"):
            ed.place(store, "back", 0.3, 0.2)  # the viewer's left in the back view is the patient's left
        assert ed.pending() is not None  # refused: the request waits for a click on the right side
        row = ed.place(store, "back", 0.62, 0.2)
        assert (row["location"], row["side"], row["view"]) == ("custom", "R", "back") and ed.pending() is None
        assert len(clinical.point_changes(store, pid)) == 2
        ed.request_move(store, pid)
        ed.cancel()
        assert ed.pending() is None
