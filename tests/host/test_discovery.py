"""find_boards over fake comports() entries."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pointdose.link import discovery


def port(device, vid=None, pid=None, serial_number=None, description="n/a"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial_number, description=description)


PORTS = [
    port("/dev/ttyS0"),
    port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001"),
    port("/dev/ttyACM0", 0x2E8A, 0x0005, "E6614C311B4A5D2F"),
    port("/dev/ttyUSB1", 0x1A86, 0x7523),
    port("/dev/ttyUSB2", 0x1A86, 0x55D4),
    port("/dev/ttyUSB3", 0x0403, 0x6001),
    port("/dev/ttyUSB4", 0x0403, 0x6015),
    port("/dev/ttyACM1", 0x303A, 0x4001),
    port("/dev/ttyUSB5", 0x0403, 0x6010),  # FT2232: not a board we know
    port("/dev/ttyACM2", 0x2341, 0x0043),  # an Arduino Uno
]


@pytest.fixture
def fake_comports(monkeypatch):
    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: list(PORTS))


def test_filters_by_vid_pid_and_sorts_native_first(fake_comports):
    boards = discovery.find_boards()
    assert [b.port for b in boards] == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyUSB0", "/dev/ttyUSB1",
                                        "/dev/ttyUSB2", "/dev/ttyUSB3", "/dev/ttyUSB4"]


def test_bridge_or_native(fake_comports):
    by_port = {b.port: b for b in discovery.find_boards()}
    assert not by_port["/dev/ttyACM0"].bridge and not by_port["/dev/ttyACM1"].bridge
    assert all(by_port[p].bridge for p in ("/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2", "/dev/ttyUSB3"))
    assert by_port["/dev/ttyUSB0"].baudrate == 115200
    assert "RP2040" in str(by_port["/dev/ttyACM0"]) and "E6614C311B4A5D2F" in str(by_port["/dev/ttyACM0"])


def test_find_by_uid_is_case_insensitive(fake_comports):
    assert discovery.find_board_by_uid("e6614c311b4a5d2f").port == "/dev/ttyACM0"
    assert discovery.find_board_by_uid("nope") is None


def test_no_ports():
    assert discovery.find_boards([]) == []
