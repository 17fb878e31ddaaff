"""Simulated device: the real firmware behind a serial port, for use without hardware."""

from pointdose.sim.device import (
    BACKEND_SHIM,
    BACKEND_UNIX,
    SimSettings,
    SimulatedDevice,
    SimulatorError,
    firmware_dir,
)

__all__ = ["BACKEND_SHIM", "BACKEND_UNIX", "SimSettings", "SimulatedDevice", "SimulatorError", "firmware_dir"]
