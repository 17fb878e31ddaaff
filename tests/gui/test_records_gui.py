"""The Points (body map) and History tabs under Xvfb: screenshots of a demo client's records.

Each run is its own process (DearPyGui keeps one context per process): this file, run as a
script, opens the app on the synthetic FakeLink with the records database given by
$POINTDOSE_DB and the named tab shown first.
"""

from __future__ import annotations

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


def colour_mask(img, colour, tol=30):
    return (np.abs(img[:, :, :3].astype(int) - np.array(colour)) <= tol).all(axis=2)


def runs_of(indices: np.ndarray, gap: int = 3) -> list[np.ndarray]:
    if indices.size == 0:
        return []
    return np.split(indices, np.flatnonzero(np.diff(indices) > gap) + 1)


def shoot(tmp_path: Path, tab: str, seconds: float = 5.0) -> np.ndarray:
    from pointdose.records import Store
    from pointdose.records.demo import make_demo

    db = tmp_path / "records.sqlite"
    if not db.exists():
        with Store(db) as store:
            make_demo(store, "DEMO-01", sessions=4)
    png = tmp_path / f"{tab}.png"
    env = dict(os.environ, POINTDOSE_DB=str(db),
               PYTHONPATH=os.pathsep.join([str(HERE)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run([sys.executable, str(Path(__file__)), tab, str(seconds), str(png)], capture_output=True,
                          text=True, timeout=90, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, f"app failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert png.is_file() and png.stat().st_size > 10_000
    img = read_png(png)
    assert img.shape[:2] == (800, 1280)
    return img


@needs_display
def test_history_view_screenshot(tmp_path):
    from pointdose.app.panels.records import DOSE_BAR, DURATION, PPT_AFTER, PPT_BEFORE

    img = shoot(tmp_path, "History")
    right = img[:, 450:]  # right of the live side panel
    # four weekly sessions → four dose bars: runs of amber columns in the dose plot
    bars = colour_mask(right, DOSE_BAR, tol=20)
    cols = np.flatnonzero(bars.sum(axis=0) > 15)
    assert len(runs_of(cols)) == 4, [(r[0], r[-1]) for r in runs_of(cols)]
    # the bars grow then shrink with the alternating 30/45 s holds: the second is taller than the first
    heights = [bars[:, r].sum(axis=0).max() for r in runs_of(cols)]
    assert heights[1] > heights[0] and heights[3] > heights[2]
    # PPT before and after: two rising lines in the upper plot
    before, after = colour_mask(right, PPT_BEFORE), colour_mask(right, PPT_AFTER)
    for m in (before, after):
        ys = np.flatnonzero(m.any(axis=1))
        assert ys.size > 20 and ys.max() < 400  # drawn in the PPT plot, the top one
        # the markers (and the legend swatch, leftmost) are the columns thicker than the 2 px line
        thick = runs_of(np.flatnonzero(m.sum(axis=0) >= 6), gap=1)
        markers = thick[-4:]
        assert len(thick) == 5, [(r[0], r[-1]) for r in thick]
        assert markers[-1][0] - markers[0][0] > 300  # across the weeks
        heights = [np.flatnonzero(m[:, r].any(axis=1)).mean() for r in markers]
        assert all(b < a for a, b in zip(heights, heights[1:])), heights  # PPT rises: markers climb the screen
    # after lies above before (PPT after > before in each session)
    assert np.flatnonzero(after.any(axis=1)).mean() < np.flatnonzero(before.any(axis=1)).mean()
    assert colour_mask(right, DURATION).sum() > 100  # duration line drawn


@needs_display
def test_history_report_and_export_buttons_write_the_files_off_the_render_thread(tmp_path):
    import json

    from pointdose.app.view import GREEN

    img = shoot(tmp_path, "HistoryReport", seconds=60.0)  # it quits once both files are written
    rep = json.loads((tmp_path / "HistoryReport.json").read_text())
    assert rep["running_seen"] is True  # the button returned at once: the PDF was still being written
    assert rep["session"].startswith("#4 ")  # the newest session is chosen
    report, export = rep["Report"], rep["Export"]
    assert report["ok"] and report["fraction"] == 1.0, report
    pdf = Path(report["line"].removeprefix("report written to "))
    assert pdf.parent == tmp_path / "out" and pdf.name.startswith("pointdose-DEMO-01-session4-")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert export["ok"] and export["line"].startswith("exported DEMO-01: ") and export["line"].endswith(
        str(tmp_path / "out" / "DEMO-01")), export
    assert (tmp_path / "out" / "DEMO-01" / "points.csv").is_file()
    # the result line, in green, right under the buttons (top of the tab), and the full progress bar
    top = img[60:200, 450:, :3]
    assert colour_mask(top, GREEN, tol=25).sum() > 200
    bar = colour_mask(top, (20, 91, 142), tol=20)  # the progress bar's fill, full width (160 px)
    assert bar.sum() > 150 * 15, bar.sum()


@needs_display
def test_body_map_screenshot_colours_treated_points(tmp_path):
    from pointdose import bodymap
    from pointdose.app.panels.records import FIG_GAP, FIG_H, FIG_W, UNTREATED, dose_colour

    img = shoot(tmp_path, "Points")
    import json

    from pointdose.records import Store

    picks = json.loads((tmp_path / "Points.json").read_text())
    assert picks["placed"]["point_label"] == "scar, left lumbar"
    assert picks["placed"]["caution"].startswith("placed by hand: no region caution is known")
    picked = picks["picked"]
    assert picked["point_label"] == "Gastrocnemius TrP3 (medial, behind the knee) (L)"
    assert "Back of the knee" in picked["caution"] and "This client: not screened yet" in picked["caution"]
    assert picked["client_code"] == "DEMO-01"
    assert picked["session_id"] == 4 and picked["visit"] == 4 and picked["point_id"] is not None
    with Store(tmp_path / "records.sqlite", readonly=True) as store:
        custom = store.query("SELECT side, view, x, y FROM points WHERE location='custom'")
        assert custom == [{"side": "L", "view": "back", "x": 0.42, "y": 0.36}]
        assert store.point_row(picked["point_id"])["location"] == "gastrocnemius.3"
    # the picked point has a white ring and its caution shows in amber on the right
    amber = colour_mask(img[:, 1030:], (255, 190, 40), tol=20)
    assert amber.sum() > 200
    # the drawlist's top-left: find the outline's head circle is brittle; use the untreated grey dots
    grey = colour_mask(img, UNTREATED, tol=12)
    ys, xs = np.nonzero(grey[:, 440:])
    assert ys.size > 50
    # every treated point of the latest session is a coloured disc at its figure position: find the
    # drawlist origin as the offset that best aligns the untreated locations with grey pixels
    treated = {("upper_trapezius.1", "L"), ("upper_trapezius.1", "R"), ("infraspinatus.1", "L")}
    expect = []
    for k, name in enumerate(("front", "back")):
        for loc, side, x, y in bodymap.placed(name):
            expect.append(((loc.id, side) in treated, k * (FIG_W + FIG_GAP) + x * FIG_W, y * FIG_H))
    best, best_score = None, -1
    for oy in range(60, 200, 1):
        for ox in range(440, 480, 1):
            score = sum(grey[int(round(oy + py)), int(round(ox + px))] for t, px, py in expect if not t
                        if 0 <= oy + py < 800)
            if score > best_score:
                best, best_score = (ox, oy), score
    untreated_n = sum(1 for t, _, _ in expect if not t)
    assert best_score > 0.8 * untreated_n, (best, best_score, untreated_n)
    ox, oy = best
    ramp = [dose_colour(f) for f in np.linspace(0, 1, 21)]
    for t, px, py in expect:
        if not t:
            continue
        patch = img[int(oy + py) - 3:int(oy + py) + 4, int(ox + px) - 3:int(ox + px) + 4, :3].reshape(-1, 3).astype(int)
        near = min(np.abs(patch - np.array(c)).max(axis=1).min() for c in ramp)
        assert near <= 25, (px, py)  # a dose colour, not grey
        # beside it, its time under pressure: white digits on a dark label
        x, y = int(round(ox + px)), int(round(oy + py))
        label = img[y - 7:y + 6, x + 9:x + 40, :3].astype(int)
        assert colour_mask(label, (20, 20, 22), tol=8).sum() > 60, (px, py)
        assert colour_mask(label, (240, 240, 240), tol=60).sum() > 15, (px, py)


def _picking(base, report: Path):
    """The body-map panel, made to place a new point and then pick a point behind the knee as a user would."""
    import json

    import dearpygui.dearpygui as dpg

    from pointdose import bodymap
    from pointdose.records import selection

    class Picking(base):
        frames = 0

        def update(self, ctx):
            super().update(ctx)
            Picking.frames += 1
            if Picking.frames == 3:
                from pointdose.app.panels.records import _session_label

                # the demo's last visit was a week ago (automatic would start a new one): review it
                self._on_session(None, _session_label(self._sessions[-1]))
                dpg.set_value(records_tags().session, _session_label(self._sessions[-1]))
                dpg.set_value(records_tags().place, True)
                dpg.set_value(records_tags().place_name, "scar, left lumbar")
                self.pick_at("back", 0.42, 0.36)  # placed by hand: patient's left in the back view
                placed = selection.current()
                x, y = bodymap.location("gastrocnemius.3").xy("L")
                self.pick_at("back", x + 0.004, y - 0.003)  # a click near a drawn point picks it
                report.write_text(json.dumps({"placed": placed.__dict__, "picked": selection.current().__dict__}))

    return Picking


def _reporting(base, report: Path):
    """The History panel, made to press Report PDF and then Export CSV as a user would."""
    import json

    import dearpygui.dearpygui as dpg

    from pointdose.app import view

    png = report.with_suffix(".png")

    class Reporting(base):
        frames = 0
        statuses: dict = {}
        shot_at = None

        def update(self, ctx):
            super().update(ctx)
            Reporting.frames += 1
            if Reporting.shot_at is not None:  # both done and on screen: a screenshot, then quit
                if Reporting.frames == Reporting.shot_at:
                    view.request_screenshot(str(png))
                elif Reporting.frames > Reporting.shot_at and png.is_file() and png.stat().st_size > 10_000:
                    Reporting.shot_at = 10**9
                    view.stop()
                return
            if Reporting.frames == 3:
                dpg.set_value(records_tags().h_folder, str(report.parent / "out"))
                self.report()
                Reporting.statuses["running_seen"] = self.job.status().running
                Reporting.statuses["session"] = dpg.get_value(records_tags().h_session)
            job = self.job
            if job is not None and job.done.is_set() and job.what not in Reporting.statuses:
                Reporting.statuses[job.what] = job.status().__dict__
                if job.what == "Report":
                    self.export()
                else:
                    Reporting.shot_at = Reporting.frames + 5
                report.write_text(json.dumps(Reporting.statuses))

    return Reporting


def records_tags():
    from pointdose.app.panels.records import TAGS

    return TAGS


def _main(argv: list[str]) -> int:
    tab, seconds, png = argv[0], float(argv[1]), argv[2]
    from fake_link import FakeLink

    from pointdose.app.controller import BoardChoice, Controller, SimHandle
    from pointdose.app.main import run_app
    from pointdose.app.panels import records

    {"History": records.HistoryPanel, "Points": records.BodyMapPanel,
     "HistoryReport": records.HistoryPanel}[tab].open_on_start = True
    if tab == "HistoryReport":
        records.HistoryPanel = _reporting(records.HistoryPanel, Path(png).with_suffix(".json"))
    if tab == "Points":
        records.BodyMapPanel = _picking(records.BodyMapPanel, Path(png).with_suffix(".json"))
    controller = Controller(
        find_boards=lambda: [BoardChoice(port="fake://board")],
        start_sim=lambda: SimHandle(port="fake://sim", backend_label="synthetic", close=lambda: None),
        open_link=lambda choice: FakeLink(rate_hz=200.0, calibrated=True, history_s=25.0),
    )
    run_app(controller, seconds=seconds, screenshot=png, max_fps=60.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
