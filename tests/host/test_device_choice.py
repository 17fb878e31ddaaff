"""One policy for choosing the device (pointdose.device): every command gets the same answers."""

from __future__ import annotations

import pytest

from pointdose.device import choose_device, open_device, scan
from pointdose.errors import UserError
from pointdose.link.discovery import Board

PICO = Board("/dev/ttyACM0", 0x2E8A, 0x0005, "Raspberry Pi RP2040 (native USB)", False, "e6614c311b7c8a2f")
ESP = Board("/dev/ttyUSB0", 0x10C4, 0xEA60, "Silicon Labs CP210x bridge", True, "0001")


def test_a_named_port_is_still_looked_up_so_a_bridge_keeps_its_line_handling():
    choice = choose_device("/dev/ttyUSB0", boards=[PICO, ESP])
    assert choice.port == "/dev/ttyUSB0" and choice.board is ESP and choice.board.bridge
    unknown = choose_device("socket://127.0.0.1:5000", boards=[PICO, ESP])
    assert unknown.port == "socket://127.0.0.1:5000" and unknown.board is None and not unknown.simulated


def test_a_symlink_to_the_port_finds_its_board(tmp_path):
    link = tmp_path / "usb-Silicon_Labs_CP2102-if00"
    link.symlink_to(tmp_path / "ttyUSB7")
    board = Board(str(tmp_path / "ttyUSB7"), 0x10C4, 0xEA60, "Silicon Labs CP210x bridge", True, None)
    assert choose_device(str(link), boards=[board]).board is board


def test_scan_takes_the_first_board_and_says_so():
    choice = choose_device(None, boards=[PICO, ESP])
    assert choice.board is PICO and choice.port == PICO.port
    assert choice.note.startswith("using /dev/ttyACM0") and "1 more found" in choice.note
    assert [(c.port, c.board) for c in scan([PICO, ESP])] == [(PICO.port, PICO), (ESP.port, ESP)]  # the app tries each
    with pytest.raises(UserError, match=r"several boards found \(/dev/ttyACM0, /dev/ttyUSB0\).*--port"):
        choose_device(None, boards=[PICO, ESP], several="refuse")


def test_no_board_is_an_error_unless_the_command_falls_back_to_the_simulator():
    with pytest.raises(UserError, match="no board found.*--port.*--sim"):
        choose_device(None, boards=[])
    choice = choose_device(None, boards=[], fallback_sim=True)
    assert choice.simulated and "simulated device" in choice.note


def test_sim_and_its_board():
    assert choose_device(sim=True, boards=[PICO]).simulated
    assert choose_device(sim=True, sim_board="unix").sim_board == "unix"
    assert choose_device(sim=True, sim_board="pico").sim_board == "pico"
    with pytest.raises(UserError, match="simulated boards are unix, pico"):
        choose_device(sim=True, sim_board="esp32")
    with pytest.raises(UserError, match="--port or --sim"):
        choose_device("/dev/ttyACM0", sim=True)
    with pytest.raises(UserError, match="add --sim"):
        choose_device(None, sim_board="unix", boards=[])


@pytest.mark.needs_unix_port
def test_open_device_runs_the_simulator_and_closes_it(tmp_path):
    with open_device(sim=True) as dev:
        assert dev.sim is not None and dev.link.device.uid
        sim = dev.sim
    assert dev.link.state.name == "CLOSED"
    assert sim._proc is None or sim._proc.poll() is not None


def test_sim_board_pico_without_a_uf2_says_what_to_do(monkeypatch):
    monkeypatch.delenv("POINTDOSE_PICO_UF2", raising=False)
    with pytest.raises(UserError, match="POINTDOSE_PICO_UF2"):
        open_device(sim=True, sim_board="pico")
