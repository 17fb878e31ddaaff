"""The Clinical tab under Xvfb: a client's point with findings, norms, asymmetry and a Bland–Altman
plot, at 1280×800, 1280×720 and 1024×768; renaming and placing a free-text point from the tab.

Each run is its own process (DearPyGui keeps one context per process): this file, run as a script,
opens the app on the synthetic FakeLink with the records database given by $POINTDOSE_DB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pngread import read_png  # noqa: E402

pytestmark = pytest.mark.gui

needs_display = pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="no X display: run under xvfb-run -a -s '-screen 0 1280x800x24' (make test does)",
)

TRIALS = [([210, 222, 216], [262, 275, 270], [300, 312, 306]),
          ([236, 230, 244], [280, 268, 277], [330, 318, 327]),
          ([250, 262, 249], [290, 301, 288], [341, 350, 333])]


def make_db(db: Path) -> None:
    from pointdose.records import RecordingListener, Store, clinical
    from pointdose.records.demo import hold_profile, record, synth_rows

    with Store(db) as store:
        cid = store.add_client("CL-7")
        for n, tr in enumerate(TRIALS):
            sid = store.start_session(cid, started_at=f"2025-09-{1 + 7 * n:02d}T10:00:00+00:00")
            listener = RecordingListener(store, session_id=sid, autoflush=False)
            for k, (point, t) in enumerate(zip(("upper_trapezius.1:L", "upper_trapezius.1:R", "infraspinatus.1:L"),
                                               tr)):
                rows = synth_rows(hold_profile(0.8 * sum(t) / 3, hold_s=6.0), 50.0, seed=n * 10 + k)
                record(listener, point, rows, events=[(float(rows["t_s"][0]), "ppt",
                                                       {"kpa": sum(t) / 3, "stage": "before", "ramp_kpa_s": 50.0,
                                                        "repeats": t})])
            listener.close()
        utl = store.find_point(cid, "upper_trapezius.1:L")
        clinical.set_reference(store, utl, store.find_point(cid, "upper_trapezius.1:R"))
        store.point(cid, "unplaced", "L", label="rhomboid")


def shoot(tmp_path: Path, size: tuple[int, int] = (1280, 800)) -> tuple[np.ndarray, dict]:
    db = tmp_path / "records.sqlite"
    if not db.exists():
        make_db(db)
    png = tmp_path / f"clinical-{size[0]}.png"
    env = dict(os.environ, POINTDOSE_DB=str(db),
               PYTHONPATH=os.pathsep.join([str(HERE)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run([sys.executable, str(Path(__file__)), str(png), str(size[0]), str(size[1])],
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, f"app failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    img = read_png(png)
    assert img.shape[:2] == (size[1], size[0])
    return img, json.loads(png.with_suffix(".json").read_text())


def colour_mask(img, colour, tol=30):
    return (np.abs(img[:, :, :3].astype(int) - np.array(colour)) <= tol).all(axis=2)


@needs_display
@pytest.mark.parametrize("size", [(1280, 800), (1280, 720), (1024, 768)])
def test_clinical_tab_shows_the_record_and_a_bland_altman_plot(tmp_path, size):
    from pointdose.app.panels.clinical import BA_BIAS, BA_POINTS
    from pointdose.records import Store, clinical

    img, report = shoot(tmp_path, size)
    w = size[0]
    right = img[:, w // 3:]
    # the Bland–Altman plot: the bias line in red across the plot, and three trial pairs as cyan dots
    red = colour_mask(right, BA_BIAS, tol=25)
    assert (red.sum(axis=1) > 150).any(), "no bias line"
    assert colour_mask(right, BA_POINTS, tol=25).sum() > 30, "no pairs drawn"
    assert "ICC(2,1)" in report["rel_text"] and "MDC95" in report["rel_text"]
    assert "Upper trapezius TrP1: L" in report["asym"] and "L/R" in report["asym"]
    assert report["norm"].startswith("PPT ") and "Bordachar" in report["norm"]
    assert report["reference_line"].startswith("Upper trapezius TrP1 (R): PPT")
    assert report["last_finding"].startswith("last: latent TrP · taut band yes · local twitch not examined")
    # renaming from the tab; the move waits for a click on the figure, which the Points tab carries out
    assert report["renamed"] == "rhomboid major"
    with Store(tmp_path / "records.sqlite", readonly=True) as store:
        row = store.point_row(report["rhomboid_id"])
        assert (row["label"], row["side"], row["location"], row["view"]) == ("rhomboid major", "L", "custom", "back")
        assert [c["old_label"] for c in clinical.point_changes(store, row["id"])] == ["rhomboid", "rhomboid major"]
        f = clinical.latest_finding(store, report["point_id"])
        assert (f.kind, f.taut_band, f.local_twitch, f.referred_region) == ("latent", True, None, "head")


def _main(argv: list[str]) -> int:
    png, width, height = argv[0], int(argv[1]), int(argv[2])
    from fake_link import FakeLink

    import dearpygui.dearpygui as dpg

    from pointdose.app.controller import BoardChoice, Controller, SimHandle
    from pointdose.app.main import run_app
    from pointdose.app.panels import clinical as clin_mod
    from pointdose.app.panels import records as rec_mod
    from pointdose.app.pointedit import EDITOR

    CT = clin_mod.CT
    base = clin_mod.ClinicalPanel
    base.open_on_start = True
    out = Path(png).with_suffix(".json")

    class Driven(base):
        step = "wait"
        report: dict = {}

        def settled(self):
            return self.shown is not None and not self._data.busy()

        def update(self, ctx):
            super().update(ctx)
            if Driven.step == "wait" and self.settled():  # as a user would: the form, a rename, a place
                pid = self.store.find_point(self.client_id, "upper_trapezius.1:L")
                rh = self.store.find_point(self.client_id, "rhomboid L")
                self.point_id = pid
                dpg.set_value(CT.kind, "latent")
                dpg.set_value(CT.taut, "yes")
                dpg.set_value(CT.region, "head")
                self.save_finding()
                self.point_id = rh
                dpg.set_value(CT.rename, "rhomboid major")
                self._on_rename()
                renamed = self.store.point_row(rh)["label"]
                self._on_move()
                bm = rec_mod.BodyMapPanel()  # the Points tab's click handler, on the same store
                bm.store, bm.client_id, bm.session_id = self.store, self.client_id, None
                bm.pick_at("back", 0.36, 0.25)  # patient's left in the back view
                assert EDITOR.pending() is None
                from pointdose.records import selection

                selection.update(point_id=pid)  # the Points tab's pick: this tab follows it
                dpg.set_value(CT.mode, clin_mod.MODES[0])
                Driven.report = {"renamed": renamed, "rhomboid_id": rh, "point_id": pid}
                Driven.step, Driven.frames = "asked", 0
            elif Driven.step == "asked":
                Driven.frames += 1
                if Driven.frames > 3 and self.settled() and self.point_id == Driven.report["point_id"]:
                    Driven.report.update({k: dpg.get_value(getattr(CT, k)) for k in
                                          ("rel_text", "asym", "norm", "reference_line", "last_finding")})
                    out.write_text(json.dumps(Driven.report))
                    Driven.step = "done"

    clin_mod.ClinicalPanel = Driven
    controller = Controller(
        find_boards=lambda: [BoardChoice(port="fake://board")],
        start_sim=lambda: SimHandle(port="fake://sim", backend_label="synthetic", close=lambda: None),
        open_link=lambda choice: FakeLink(rate_hz=200.0, calibrated=True, history_s=25.0),
    )
    run_app(controller, seconds=5.0, screenshot=png, max_fps=60.0, size=(width, height))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
