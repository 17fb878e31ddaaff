"""Checks of the options several commands share (device choice, display unit, probe area).

Each returns the checked value or raises :class:`UserError` saying what to write instead, so
``pointdose app``, ``pointdose session`` and the others word the same mistake the same way.
"""

from __future__ import annotations

from pointdose import units
from pointdose.errors import UserError


def check_device_choice(port: str | None, sim: bool, sim_board: str | None = None) -> None:
    """--port / --sim / --board together (:func:`pointdose.device.check_choice`)."""
    from pointdose.device import check_choice

    check_choice(port, sim, sim_board)


def add_sim_board(parser) -> None:
    """``--board`` for commands that take ``--sim`` (see :func:`pointdose.device.choose_device`)."""
    parser.add_argument("--board", metavar="unix|pico", dest="sim_board", default=None,
                        help="with --sim: unix (default, the firmware on this computer) or pico (the emulated "
                             "RP2040; its MicroPython .uf2 from $POINTDOSE_PICO_UF2)")


def add_lsl(parser) -> None:
    """The ``--lsl`` flag (:mod:`pointdose.lsl`), the same for every command that has it."""
    parser.add_argument("--lsl", action="store_true",
                        help="stream pressure (kPa, raw counts) and markers as Lab Streaming Layer outlets, "
                             "on this machine unless LSLAPICFG says otherwise (docs/lsl.md)")


def display_unit(key: str) -> str:
    """The unit's canonical key (``kgf/cm2`` → its table key); UserError listing the choices."""
    try:
        return units.unit(key).key
    except ValueError as exc:
        raise UserError(str(exc)) from None


def probe_area_cm2(value: float) -> float:
    """The probe area through the one number checker (finite, in range; docs/protocols.md)."""
    from pointdose.protocols.values import setting

    try:
        return float(setting(value, "probe_area_cm2", "--probe-area"))
    except UserError as exc:
        raise UserError(f"{exc} (1 for a standard algometer probe)") from None
