"""Which device a command works with, and opening it: one policy for every command.

:func:`choose_device` decides (no I/O beyond listing serial ports); :func:`open_device` starts the
simulated device if that was chosen and opens the :class:`~pointdose.link.DeviceLink` (hello).

* ``--port P``: that port. The board behind it is still looked up by USB vendor/product id, so an
  ESP32 behind a USB–UART bridge gets the bridge's line handling (DTR/RTS left alone) and a native
  USB board gets DTR, whichever way it was named.
* ``--sim``: the real firmware on this computer (the unix port); ``--sim --board pico``: in the
  emulated Pico (:mod:`pointdose.sim.pico`, the MicroPython ``.uf2`` from ``$POINTDOSE_PICO_UF2``).
* neither: the first board found (native USB first); none found → the simulated device when the
  command allows it (``fallback_sim``: the app, the monitor), else one line saying what to do.

    with open_device(args.port, sim=args.sim) as dev:
        dev.link.start()
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

from pointdose.errors import UserError

SIM_BOARDS = ("unix", "pico")  # unix: the unix-port firmware; pico: the emulated RP2040 (needs a .uf2)
NO_BOARD = "no board found: plug one in, give --port, or use --sim"


@dataclass(frozen=True)
class DeviceChoice:
    """What to open: ``port`` with its ``board`` (None when not a USB board we know), or the simulator."""

    port: str | None  # None: start the simulated device
    board: Any = None  # pointdose.link.Board found at that port
    sim_board: str | None = None
    note: str = ""  # what to tell the user about the choice ("" when it is what they asked for)

    @property
    def simulated(self) -> bool:
        return self.port is None


def _same_port(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.realpath(a) == os.path.realpath(b)  # /dev/serial/by-id/... names the same tty
    except (OSError, ValueError):
        return False


def _boards(boards: Sequence[Any] | None) -> list:
    if boards is not None:
        return list(boards)
    from pointdose.link.discovery import find_boards

    return find_boards()


def check_choice(port: str | None, sim: bool, sim_board: str | None = None) -> None:
    """The options' own consistency (no port listing): UserError saying what to write instead."""
    if port and sim:
        raise UserError("choose either --port or --sim, not both")
    if sim_board is not None and not sim:
        raise UserError("--board chooses the simulated board: add --sim, or give the real board's --port")
    if sim_board is not None and sim_board not in SIM_BOARDS:
        raise UserError(f"--sim --board {sim_board}: the simulated boards are {', '.join(SIM_BOARDS)}")


def scan(boards: Sequence[Any] | None = None) -> list[DeviceChoice]:
    """Every board found, in the order they are tried (native USB first), as choices to open."""
    return [DeviceChoice(b.port, b) for b in _boards(boards)]


def choose_device(port: str | None = None, *, sim: bool = False, sim_board: str | None = None,
                  fallback_sim: bool = False, several: str = "first", boards: Sequence[Any] | None = None,
                  no_board: str = NO_BOARD) -> DeviceChoice:
    """The device a command should use (see the module docstring). ``several="refuse"``: with more
    than one board found and no ``--port``, a UserError asking to choose. ``boards``: for tests."""
    check_choice(port, sim, sim_board)
    if sim:
        return DeviceChoice(None, sim_board=sim_board or SIM_BOARDS[0], note="using the simulated device")
    if port:
        try:
            found = _boards(boards)
        except Exception:  # no port listing on this system: open the port as named
            found = []
        return DeviceChoice(port, next((b for b in found if _same_port(b.port, port)), None))
    found = _boards(boards)
    if len(found) > 1 and several == "refuse":
        raise UserError(f"several boards found ({', '.join(b.port for b in found)}): choose one with --port")
    if found:
        more = f" ({len(found) - 1} more found)" if len(found) > 1 else ""
        return DeviceChoice(found[0].port, found[0], note=f"using {found[0]}{more}")
    if fallback_sim:
        return DeviceChoice(None, sim_board=SIM_BOARDS[0], note="no board found: using the simulated device")
    raise UserError(no_board)


class OpenDevice:
    """An open link and, for the simulated device, the simulator behind it; closes both."""

    def __init__(self, choice: DeviceChoice, link, sim=None) -> None:
        self.choice = choice
        self.link = link
        self.sim = sim

    @property
    def port(self) -> str:
        return self.link.port

    def close(self) -> None:
        try:
            if self.link is not None:
                self.link.close()
        finally:
            if self.sim is not None:
                self.sim.close()

    def __enter__(self) -> "OpenDevice":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_link(choice: DeviceChoice, port: str | None = None, **link_kwargs):
    """A DeviceLink for ``choice`` (at ``port`` for the simulator) with the line settings of its board."""
    from pointdose.link import DeviceLink

    if choice.board is not None:
        return DeviceLink.for_board(choice.board, **link_kwargs)
    return DeviceLink(port or choice.port, **link_kwargs)


def start_sim(choice: DeviceChoice):
    """Start the simulated device for ``choice``: the unix-port firmware, or the emulated Pico (its
    ``.uf2`` from ``$POINTDOSE_PICO_UF2``; one line saying what is missing otherwise)."""
    if choice.sim_board == "pico":
        from pointdose.sim.pico import EmulatedPico

        return EmulatedPico().start()
    from pointdose.sim import SimulatedDevice

    return SimulatedDevice().start()


def open_device(port: str | None = None, *, sim: bool = False, sim_board: str | None = None,
                fallback_sim: bool = False, out=None, **link_kwargs) -> OpenDevice:
    """Choose (:func:`choose_device`) and open the device; ``out`` gets the choice's note, if any."""
    choice = choose_device(port, sim=sim, sim_board=sim_board, fallback_sim=fallback_sim)
    simulator = None
    try:
        if choice.simulated:
            simulator = start_sim(choice)
        link = open_link(choice, simulator.port if simulator is not None else None, **link_kwargs)
    except BaseException:
        if simulator is not None:
            simulator.close()
        raise
    if choice.note and out is not None:
        extra = f" ({getattr(simulator, 'label', '')}) on {simulator.port}" if simulator is not None else ""
        print(choice.note + extra, file=out)
    return OpenDevice(choice, link, simulator)
