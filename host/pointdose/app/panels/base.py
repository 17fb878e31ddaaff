"""What a feature panel gets from the app, and what it must provide."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PanelContext:
    """Handed to every panel on the render thread.

    ``controller`` owns the link (``controller.link`` is the live :class:`DeviceLink` or None;
    slow work goes through ``controller.submit(label, fn)``, which runs ``fn(link)`` on the
    controller's worker thread); ``model`` is the :class:`LiveModel` (current unit, probe area,
    calibration scale); ``frame`` is this frame's :class:`FrameView`; ``now_s`` is host
    monotonic time.
    """

    controller: Any
    model: Any
    frame: Any = None
    now_s: float = 0.0


class Panel:
    """A tab beside the live trace. Build once, update every frame; both on the render thread."""

    title = "Panel"

    def build(self, ctx: PanelContext) -> None:
        """Create this panel's DearPyGui items (the tab is the current container)."""
        raise NotImplementedError

    def update(self, ctx: PanelContext) -> None:
        """Refresh from the model/engine; must be cheap (it runs every frame)."""

    def close(self) -> None:
        """Release what the panel holds (threads, files) when the app quits."""
