"""Find pointdose-capable boards among the serial ports, by USB vendor/product id.

Two kinds of port need opposite handling of the modem lines:

* **USB–UART bridge** (CP210x, CH340, CH9102, FTDI in front of an ESP32): 115200 baud, and DTR/RTS
  must stay de-asserted: on ESP32 dev boards they drive the EN/IO0 auto-reset circuit, so toggling
  them resets the chip (or drops it into the ROM bootloader).
* **Native USB CDC** (RP2040, ESP32-S2/S3): the baud rate is ignored, and DTR must be asserted:
  MicroPython's USB CDC only sends while the host has DTR set.

This is metadata only; :class:`~pointdose.link.device_link.DeviceLink` acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass

# (vid, pid or None for any) → (chip, is_bridge)
USB_IDS: dict[tuple[int, int | None], tuple[str, bool]] = {
    (0x2E8A, None): ("Raspberry Pi RP2040 (native USB)", False),
    (0x303A, None): ("Espressif native USB", False),
    (0x10C4, 0xEA60): ("Silicon Labs CP210x bridge", True),
    (0x1A86, 0x7523): ("WCH CH340 bridge", True),
    (0x1A86, 0x55D4): ("WCH CH9102 bridge", True),
    (0x0403, 0x6001): ("FTDI FT232R bridge", True),
    (0x0403, 0x6015): ("FTDI FT231X bridge", True),
}
BRIDGE_BAUDRATE = 115200


@dataclass(frozen=True)
class Board:
    port: str  # device path, e.g. /dev/ttyACM0 or COM5
    vid: int
    pid: int
    chip: str
    bridge: bool  # True: USB-UART bridge (115200, leave DTR/RTS alone); False: native USB CDC (assert DTR)
    uid: str | None  # USB serial number (MicroPython on rp2 reports the flash unique id)
    description: str = ""

    @property
    def baudrate(self) -> int:
        return BRIDGE_BAUDRATE if self.bridge else 115200  # ignored by CDC, but pyserial wants one

    def __str__(self) -> str:
        uid = f" uid={self.uid}" if self.uid else ""
        return f"{self.port} ({self.chip}{uid})"


def classify(vid: int | None, pid: int | None) -> tuple[str, bool] | None:
    if vid is None:
        return None
    return USB_IDS.get((vid, pid)) or USB_IDS.get((vid, None))


def find_boards(ports=None) -> list[Board]:
    """Boards among ``ports`` (default: ``serial.tools.list_ports.comports()``), sorted by port name.

    Native USB boards come first: with both kinds attached, a Pico is the likelier pointdose.
    """
    if ports is None:
        from serial.tools import list_ports

        ports = list_ports.comports()
    boards = []
    for p in ports:
        hit = classify(getattr(p, "vid", None), getattr(p, "pid", None))
        if hit is None:
            continue
        chip, bridge = hit
        boards.append(Board(p.device, p.vid, p.pid, chip, bridge, getattr(p, "serial_number", None) or None,
                            getattr(p, "description", "") or ""))
    return sorted(boards, key=lambda b: (b.bridge, b.port))


def find_board_by_uid(uid: str, ports=None) -> Board | None:
    """The board whose USB serial number is ``uid`` (case-insensitive), e.g. after it re-enumerated."""
    for b in find_boards(ports):
        if b.uid and b.uid.lower() == uid.lower():
            return b
    return None
