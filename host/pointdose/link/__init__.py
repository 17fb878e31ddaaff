"""Host side of the live stream: port discovery, the reader thread, the sample ring and the device clock."""

from pointdose.link.clock import DeviceClock, Unwrapped
from pointdose.link.device_link import (
    ButtonPress,
    CommandTimeout,
    DeviceCommandError,
    DeviceLink,
    LinkError,
    LinkLost,
    LinkState,
    LinkStats,
    NotAPointdoseDevice,
    link_load,
)
from pointdose.link.discovery import Board, find_board_by_uid, find_boards
from pointdose.link.info import DeviceInfo, FactoryScale, device_info
from pointdose.link.ring import RING_DTYPE, SampleRing

__all__ = [name for name in dir() if not name.startswith("_")]
