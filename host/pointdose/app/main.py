"""The live pressure window: :func:`run_app` (``pointdose app``'s command line is :mod:`pointdose.commands.app`).

DearPyGui is imported inside :func:`run_app` only (through :mod:`pointdose.app.view`), so that
importing this module never loads it.

The render loop, once per frame: ask the controller for its status (a snapshot), let the model
turn the ring's newest window into a FrameView, show it, render. Nothing is queued between the
reader and the screen, so a slow frame never leaves a backlog behind it.
"""

from __future__ import annotations

import time
from pathlib import Path

SCREENSHOT_LEAD_S = 0.8  # ask for the screenshot this long before --seconds ends
SCREENSHOT_DEFAULT_AT_S = 4.0  # with --screenshot but no --seconds
SCREENSHOT_WAIT_S = 3.0  # how long past the end to wait for DearPyGui to write it


def run_app(controller, *, seconds: float | None = None, screenshot: str | None = None,
            max_fps: float = 120.0, settings=None, lsl=None, size: tuple[int, int] = (1280, 800),
            on_frame=None) -> dict:
    """Open the window on ``controller``'s source and run until closed or ``seconds`` pass.

    ``size`` is the window's (width, height); ``on_frame(panels)``, if given, runs after each
    frame's panel updates (tests use it to pick a tab). Returns frame statistics: frames, samples displayed, median fps, sample-to-screen latency.
    """
    from pointdose.app import view
    from pointdose.app.model import FrameStats, LiveModel

    from pointdose.app.panels import PanelContext, load_panels

    view.check_display()
    model = LiveModel(settings)
    stats = FrameStats()
    panels = load_panels()
    ctx = PanelContext(controller=controller, model=model)
    view.setup(view.Callbacks(on_unit=model.set_unit, on_area=model.set_probe_area,
                              on_tare=controller.request_tare, on_start=controller.request_start,
                              on_stop=controller.request_stop),
               unit=model.settings.unit, probe_area_cm2=model.settings.probe_area_cm2,
               panels=panels, panel_context=ctx, width=size[0], height=size[1])
    controller.start()
    if lsl is not None:  # --lsl: samples of the open link, events of the session and training panels
        lsl.sources = lambda: [getattr(p, a, None) for p in panels for a in ("runner", "trainer")]
        lsl.area = lambda: model.settings.probe_area_cm2
        lsl.start()
    t_start = time.monotonic()
    deadline = t_start + seconds if seconds else None
    shot_at = None
    if screenshot:
        Path(screenshot).unlink(missing_ok=True)
        shot_at = t_start + (max(0.0, seconds - SCREENSHOT_LEAD_S) if seconds else SCREENSHOT_DEFAULT_AT_S)
    shot_requested = False
    shot_seen_at = None
    min_period = 1.0 / max_fps if max_fps and max_fps > 0 else 0.0
    try:
        while view.is_running():
            frame_start = time.monotonic()
            frame = model.frame(controller.status(), frame_start, view.plot_columns())
            view.show_frame(frame)
            ctx.frame, ctx.now_s = frame, frame_start
            for panel in panels:
                panel.update(ctx)
            if on_frame is not None:
                on_frame(panels)
            view.render()
            stats.record(time.monotonic(), frame.new_rx_s)
            now = time.monotonic()
            if shot_at is not None and not shot_requested and now >= shot_at:
                view.request_screenshot(screenshot)
                shot_requested = True
            if shot_requested and shot_seen_at is None and _written(screenshot):
                shot_seen_at = now  # give DearPyGui a few more frames to finish the file
            if deadline is not None and now >= deadline:
                shot_done = shot_seen_at is not None and now - shot_seen_at > 0.2
                if not screenshot or shot_done or now >= deadline + SCREENSHOT_WAIT_S:
                    break
            if min_period:
                spare = min_period - (time.monotonic() - frame_start)
                if spare > 0:
                    time.sleep(spare)
    finally:
        for panel in panels:
            panel.close()
        if lsl is not None:
            lsl.close()
        controller.close()
        view.teardown()
    report = stats.report()
    report["seconds"] = time.monotonic() - t_start
    report["screenshot"] = screenshot if screenshot and _written(screenshot) else None
    return report


def _written(path: str) -> bool:
    p = Path(path)
    return p.is_file() and p.stat().st_size > 0
