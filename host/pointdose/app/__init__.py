"""The DearPyGui app: ``model`` (no DearPyGui), ``view`` (the only module importing it),
``controller`` (link, port scan, board-or-simulator choice) and ``main`` (``pointdose app``)."""
