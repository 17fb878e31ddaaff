"""The emulator process of `pointdose sim --board pico` dies with its host, and its folder goes (issue 13)."""

from __future__ import annotations

import signal

import pytest
from e2e.test_sim_lifetime import _kill_and_check, _start_host

PICO_CLI = """
    import sys
    from pointdose.cli import main
    sys.exit(main(["sim", "--board", "pico"]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name)
def test_emulated_pico_dies_with_its_host(sig):
    proc, folder = _start_host(PICO_CLI)
    _kill_and_check(proc, folder, sig)
