"""Feature panels: one tab each beside the live trace (calibration, sessions, records, training).

A panel is view code (it may import DearPyGui); its logic lives in the feature's own pure package
(``pointdose.calibration``, ``pointdose.protocols``, ``pointdose.records`` …), so the engine never
knows about the GUI. To add a panel, write a :class:`~pointdose.app.panels.base.Panel` subclass in
its own module here and list it in ``PANELS``; tabs appear in this order after "Live".
"""

from __future__ import annotations

import importlib

from pointdose.app.panels.base import Panel, PanelContext

# "module:Class", in tab order
# (a session is what the product is for; choosing the point comes next, then its history;
# calibration and training are less frequent visits)
PANELS: list[str] = [
    "pointdose.app.panels.session:SessionPanel",
    "pointdose.app.panels.records:BodyMapPanel",
    "pointdose.app.panels.records:HistoryPanel",
    "pointdose.app.panels.clinical:ClinicalPanel",
    "pointdose.app.panels.calibrate:CalibratePanel",
    "pointdose.app.panels.training:TrainingPanel",
]


def load_panels() -> list[Panel]:
    panels = []
    for spec in PANELS:
        module_name, class_name = spec.split(":")
        panels.append(getattr(importlib.import_module(module_name), class_name)())
    return panels


__all__ = ["PANELS", "Panel", "PanelContext", "load_panels"]
