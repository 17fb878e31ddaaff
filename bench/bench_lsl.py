"""LSL (``--lsl``): time-stamp jitter and delivery through an inlet, on the real firmware's simulated device.

The device streams through the pty to a DeviceLink; a RingStreamer pushes the ring to the outlet
(as ``monitor --lsl`` does) and an inlet in this process pulls it back over loopback. Figures:

* device jitter: ``|Δt_dev − 1/rate|`` of the device's own µs time stamps: the simulated
  device samples when the unix port's loop gets the CPU, so on a shared machine this is large.
* mapping jitter: ``|Δstamp − Δt_dev|``, what the host adds on top of the device clock. The
  outlet adds only a constant (tests/host/test_lsl.py holds it to 1 µs); what remains is the
  link's device→host mapping stepping as its lower envelope improves (pointdose.link.clock).
  Both after the first 2 s.
* delivered: LSL samples received per device sample put in the ring (1 means none lost).
* latency: inlet ``local_clock()`` when a chunk is pulled − the newest stamp in it (device
  sample → LSL consumer, including the streamer's 20 ms poll).

Set ``POINTDOSE_BENCH_LSL_S`` to change the 15 s run.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np


def run() -> list[tuple[str, float, str]]:
    os.environ.pop("LSLAPICFG", None)  # loopback only
    from pointdose import lsl
    from pointdose.link import DeviceLink
    from pointdose.sim import SimulatedDevice

    pylsl = lsl.load_pylsl()
    seconds = float(os.environ.get("POINTDOSE_BENCH_LSL_S", "15"))
    stamps, lat, dev_us = [], [], []
    with SimulatedDevice() as sim, DeviceLink(sim.port) as link:
        unwrap = link.clock.unwrap

        def tap(*a, **k):  # the device's own µs times, in ring order
            u = unwrap(*a, **k)
            dev_us.append(np.asarray(u.t_dev_us, dtype=np.int64))
            return u

        link.clock.unwrap = tap
        rate = link.device.rate_hz or 0.0
        outlet = lsl.open_outlet(link, name="pointdose-bench")
        streams = pylsl.resolve_byprop("source_id", outlet.source_id, 1, 30.0)
        inlet = pylsl.StreamInlet(streams[0], max_buflen=60, recover=False)
        inlet.open_stream(30.0)
        link.start()
        first = link.ring.total_appended
        streamer = lsl.RingStreamer(link, outlet)
        streamer.start()
        halt = threading.Event()

        def pull():
            while not halt.is_set():
                _, ts = inlet.pull_chunk(timeout=0.2)
                if ts:
                    lat.append(pylsl.local_clock() - ts[-1])
                    stamps.extend(ts)

        reader = threading.Thread(target=pull, daemon=True)
        reader.start()
        time.sleep(seconds)
        link.stop()
        time.sleep(0.5)
        streamer.step()
        sent = outlet.samples_pushed
        fed = link.ring.total_appended - first
        deadline = time.monotonic() + 10
        while len(stamps) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        halt.set()
        reader.join(2)
        streamer.close()
    ts = np.asarray(stamps)
    t_dev = np.concatenate(dev_us)[:len(ts)] / 1e6
    keep = ts > ts[0] + 2.0
    d_lsl, d_dev = np.diff(ts[keep]), np.diff(t_dev[keep])
    device = np.abs(d_dev - 1.0 / rate) * 1e6
    mapping = np.abs(d_lsl - d_dev) * 1e6
    return [
        ("device rate", rate, "Hz"),
        ("delivered (LSL samples / device samples)", len(ts) / max(fed, 1), ""),
        ("device jitter p50", float(np.percentile(device, 50)), "µs"),
        ("device jitter p99", float(np.percentile(device, 99)), "µs"),
        ("mapping jitter p50", float(np.percentile(mapping, 50)), "µs"),
        ("mapping jitter p99", float(np.percentile(mapping, 99)), "µs"),
        ("mapping jitter max", float(mapping.max()), "µs"),
        ("steps equal to the device's within 1 µs", float(np.mean(mapping <= 1.0)) * 100, "%"),
        ("latency to inlet p50", float(np.percentile(lat, 50)) * 1e3, "ms"),
        ("latency to inlet p99", float(np.percentile(lat, 99)) * 1e3, "ms"),
    ]
