"""Lab Streaming Layer outlets (``--lsl``): the pressure beside EMG or EEG in a lab's recorder.

Two streams, both with source id ``pointdose-<device uid>``:

* ``pointdose pressure`` (type ``Pressure``): two ``double64`` channels, pressure in kPa and the
  raw sensor counts, at the device's nominal rate. Each sample carries its device time as mapped
  by the link (:mod:`pointdose.link.clock`, host monotonic seconds) moved onto LSL's clock by one
  constant offset (``pylsl.local_clock() − time.monotonic()``, measured once), so the gaps between
  time stamps are the device's own sample intervals, whatever the host's load.
* ``pointdose markers`` (type ``Markers``): one string channel, irregular rate: ``KIND {json}``
  for phases, cues, buttons, pain ratings, alarms and STOP, as the engine reports them
  (docs/protocols.md, "Events"), stamped the same way.

:class:`LslOutlet` is a :class:`pointdose.listeners.SessionListener`, so a session or a drill
hands it rows and events like any other listener; :class:`RingStreamer` feeds it from a link's
sample ring where no session runs (``monitor``, the app between applications). Nothing here is
imported by the engine: the outlet depends on the engine's public events, never the reverse.

Network: unless ``LSLAPICFG`` names a configuration of the user's own (to reach another
computer), liblsl gets :data:`LOOPBACK_CONFIG`: discovery stays on this machine (no multicast or
broadcast on the network, IPv6 off, the only known peer is 127.0.0.1). Without ``--lsl`` pylsl is
never loaded and nothing listens.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, Callable

import numpy as np

from pointdose.errors import UserError

# liblsl settings: discovery only on this machine. Read by liblsl once, before its first use.
LOOPBACK_CONFIG = """\
[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
ListenAddress = 127.0.0.1
MachineAddresses = {127.0.0.1}
[lab]
KnownPeers = {127.0.0.1}
[log]
level = -2
"""

# A setting (env POINTDOSE_LSL_WAIT_S): how long session and train wait for a recorder to connect
# before the first marker (LabRecorder re-resolves every 0.5 s, liblsl's ContinuousResolveInterval).
CONSUMER_WAIT_S = 2.0


def consumer_wait_s() -> float:
    text = os.environ.get("POINTDOSE_LSL_WAIT_S")
    if text is None:
        return CONSUMER_WAIT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise UserError(f"POINTDOSE_LSL_WAIT_S={text!r} is not a number of seconds from 0 to 3600: fix or unset it")
    return value

_configured = False
_config_lock = threading.Lock()


def load_pylsl():
    """``pylsl``, configured for this machine only (or for the user's ``LSLAPICFG``)."""
    global _configured
    try:
        import pylsl
    except (ImportError, OSError, RuntimeError) as exc:  # no package, or its liblsl would not load
        raise UserError(f"--lsl needs pylsl with its liblsl ({exc}): pip install 'pylsl>=1.18'") from exc
    with _config_lock:
        if not _configured:
            if not os.environ.get("LSLAPICFG"):
                pylsl.set_config_content(LOOPBACK_CONFIG)
            _configured = True
    return pylsl


def clock_offset(local_clock: Callable[[], float], monotonic: Callable[[], float] = time.monotonic,
                 tries: int = 9) -> float:
    """``local_clock − monotonic``, from the read pair with the tightest bracket."""
    best = None
    for _ in range(tries):
        m0 = monotonic()
        lsl = local_clock()
        m1 = monotonic()
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, lsl - (m0 + m1) / 2)
    return best[1]


def marker_text(kind: str, data: dict[str, Any] | None = None) -> str:
    """``KIND`` or ``KIND {json}``: one line a recorder's user can read and a script can parse."""
    return f"{kind} {json.dumps(data, sort_keys=True, default=str)}" if data else kind


class LslOutlet:
    """The pressure and marker outlets; a SessionListener. Thread-safe (one lock around pushes)."""

    def __init__(self, *, rate_hz: float, uid: str = "", name: str = "pointdose", pylsl=None) -> None:
        self.pylsl = pylsl or load_pylsl()
        self.source_id = f"pointdose-{uid or 'device'}"
        self.rate_hz = float(rate_hz)
        self.offset_s = clock_offset(self.pylsl.local_clock)
        self._lock = threading.Lock()
        self.samples_pushed = 0
        self.markers_pushed = 0
        info = self.pylsl.StreamInfo(f"{name} pressure", "Pressure", 2, self.rate_hz, "double64", self.source_id)
        channels = info.desc().append_child("channels")
        for label, unit in (("pressure", "kPa"), ("raw", "counts")):
            ch = channels.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", unit)
            ch.append_child_value("type", "Pressure" if unit == "kPa" else "Raw")
        info.desc().append_child_value("manufacturer", "pointdose")
        self.pressure = self.pylsl.StreamOutlet(info)
        minfo = self.pylsl.StreamInfo(f"{name} markers", "Markers", 1, self.pylsl.IRREGULAR_RATE, "string",
                                      self.source_id + "-markers")
        self.markers = self.pylsl.StreamOutlet(minfo)

    def wait_for_consumers(self, timeout_s: float) -> bool:
        """True once both streams have a consumer, False when ``timeout_s`` passes first."""
        end = time.monotonic() + timeout_s
        return all(o.wait_for_consumers(max(0.0, end - time.monotonic())) for o in (self.pressure, self.markers))

    def lsl_time(self, t_s):
        """Host monotonic (device-mapped) seconds → LSL seconds."""
        return np.asarray(t_s, dtype=np.float64) + self.offset_s

    def push_samples(self, t_s, pressure_kpa, raw) -> None:
        n = len(t_s)
        if n == 0:
            return
        data = np.empty((n, 2), np.float64)
        data[:, 0] = pressure_kpa
        data[:, 1] = raw
        with self._lock:
            self.pressure.push_chunk(data, self.lsl_time(t_s).tolist())
            self.samples_pushed += n

    def marker(self, kind: str, data: dict[str, Any] | None = None, t_s: float | None = None) -> None:
        stamp = float(self.lsl_time(time.monotonic() if t_s is None else t_s))
        with self._lock:
            self.markers.push_sample([marker_text(kind, data)], stamp)
            self.markers_pushed += 1

    # ---- SessionListener
    def on_application_start(self, info: dict[str, Any]) -> None:
        keep = {k: info[k] for k in ("protocol", "point", "probe_area_cm2", "device_uid") if k in info}
        self.marker("application_start", keep, info.get("t_s"))

    def on_samples(self, rows: np.ndarray) -> None:
        self.push_samples(rows["t_s"], rows["pressure_kpa"], rows["raw"])

    def on_event(self, t_s: float, kind: str, data: dict[str, Any]) -> None:
        self.marker(kind, data, t_s)

    def on_application_end(self, t_s: float, reason: str, summary: dict[str, Any]) -> None:
        self.marker("application_end", {"reason": reason}, t_s)

    def close(self) -> None:
        with self._lock:
            self.pressure = self.markers = None  # liblsl closes an outlet when it is released


def open_outlet(link: Any, **kwargs) -> LslOutlet:
    """An outlet at ``link``'s rate, named after its device (``hello`` rate / uid)."""
    from pointdose.link.info import device_info

    dev = device_info(link)
    return LslOutlet(rate_hz=dev.rate_hz or 0.0, uid=dev.uid or "", **kwargs)


def where() -> str:
    cfg = os.environ.get("LSLAPICFG")
    return f"as configured in {cfg}" if cfg else "on this machine only"


def listeners_if_asked(enabled: bool, link: Any, note: Callable[[str], None] | None = None,
                       wait_s: float | None = None) -> list:
    """``[outlet]`` for a session's listeners when ``--lsl`` was given, else ``[]``.

    Waits up to ``wait_s`` for a consumer: LSL keeps nothing for inlets that connect later, and a
    recorder already watching for the stream needs a moment to connect before the first marker.
    """
    if not enabled:
        return []
    wait_s = consumer_wait_s() if wait_s is None else wait_s
    outlet = open_outlet(link)
    say = note or (lambda s: print(s, file=sys.stderr, flush=True))
    say(f"LSL: streaming {outlet.source_id} (pressure kPa + raw at {outlet.rate_hz:g} Hz, markers) {where()}")
    if wait_s > 0 and not outlet.wait_for_consumers(wait_s):
        say(f"LSL: no recorder connected within {wait_s:g} s; streaming anyway (a recorder that connects "
            "later gets the samples from then on)")
    return [outlet]


class EventForwarder:
    """Markers from objects that keep their events in lists that only grow: a SessionRunner
    (``events``) or a LiveTrainer (``runs[i].events``, one list per block)."""

    def __init__(self, outlet: LslOutlet) -> None:
        self.outlet = outlet
        self._seen: dict[int, tuple[Any, list[int]]] = {}  # id → (the object, kept alive; counts)

    def forward(self, source: Any) -> None:
        if source is None:
            return
        entry = self._seen.get(id(source))
        if entry is None or entry[0] is not source:
            entry = self._seen[id(source)] = (source, [])
        counts = entry[1]
        runs = getattr(source, "runs", None)
        runs = list(runs) if runs is not None else None
        lists = [run.events for run in runs] if runs is not None else [getattr(source, "events", [])]
        for i, events in enumerate(lists):
            if i == len(counts):
                counts.append(0)
                if runs is not None:
                    self.outlet.marker("block_start", {"block": getattr(runs[i].block, "kind", "")})
            new = list(events[counts[i]:])
            for t_s, kind, data in new:
                self.outlet.marker(kind, dict(data or {}), t_s)
            counts[i] += len(new)


class RingStreamer:
    """Pushes every new row of ``link.ring`` to an outlet from its own thread (no session needed).

    ``to_kpa(raw) -> kPa`` converts counts when a scale is known; otherwise the pressure channel is
    NaN and only the raw counts are meaningful.
    """

    POLL_S = 0.02

    def __init__(self, link: Any, outlet: LslOutlet, to_kpa: Callable[[np.ndarray], np.ndarray] | None = None,
                 trainer: Any = None) -> None:
        self.link, self.outlet, self.to_kpa = link, outlet, to_kpa
        self.events = EventForwarder(outlet)
        self.sources: Callable[[], list] = (lambda: [trainer]) if trainer is not None else (lambda: [])
        self._seen = link.ring.total_appended
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> int:
        self._seen, rows = self.link.ring.since(self._seen)
        if len(rows):
            raw = rows["raw"]
            kpa = self.to_kpa(raw) if self.to_kpa is not None else np.full(len(rows), np.nan)
            self.outlet.push_samples(rows["t_dev_s"], kpa, raw)
        for source in self.sources():
            self.events.forward(source)
        return len(rows)

    def _run(self) -> None:
        while not self._halt.wait(self.POLL_S):
            self.step()

    def start(self) -> "RingStreamer":
        self._thread = threading.Thread(target=self._run, daemon=True, name="lsl-ring")
        self._thread.start()
        return self

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self.step()  # what arrived since the last poll
        self.outlet.close()


def kpa_converter(link: Any, probe_area_cm2: float | Callable[[], float]) -> Callable[[np.ndarray], np.ndarray] | None:
    """raw → kPa through the device's scale (:func:`pointdose.calibration.load_scale`: the wizard's
    calibration, else the factory scale), or None (raw only) when it has none. Reads the device.
    ``probe_area_cm2`` may be a callable (the app's setting, read at each conversion)."""
    area = probe_area_cm2 if callable(probe_area_cm2) else (lambda: float(probe_area_cm2))
    from pointdose import units
    from pointdose.calibration.scale import load_scale, scale_for

    try:
        conv = load_scale(link).converter
    except UserError:  # a calibration that cannot be read: the factory scale, if any
        conv = scale_for(link).converter
    if conv is None:
        return None
    return lambda raw: units.pressure_kpa(conv.force_n(raw), area())


def stream_link_if_asked(enabled: bool, link: Any, probe_area_cm2: float = 1.0, trainer: Any = None,
                         note: Callable[[str], None] | None = None) -> "RingStreamer | None":
    """For ``monitor``, ``train`` and the app: a started :class:`RingStreamer` when ``--lsl`` was given.

    With ``trainer`` (a :class:`pointdose.training.live.LiveTrainer`) its trial events become markers.
    """
    if not enabled:
        return None
    outlet = listeners_if_asked(True, link, note, wait_s=None if trainer is not None else 0.0)[0]
    return RingStreamer(link, outlet, kpa_converter(link, probe_area_cm2), trainer=trainer).start()


class AppStreamer:
    """For the app: streams whichever link the controller has open (a new outlet when the source
    changes) and forwards the events of the session runners and trainers ``sources()`` returns."""

    POLL_S = 0.02

    def __init__(self, get_link: Callable[[], Any], probe_area_cm2: Callable[[], float] | float = 1.0,
                 sources: Callable[[], list] = lambda: [], note: Callable[[str], None] | None = None) -> None:
        load_pylsl()  # a missing pylsl is said before the window opens
        self.get_link, self.sources, self.note = get_link, sources, note
        self.area = probe_area_cm2
        self.streamer: RingStreamer | None = None
        self._link = None
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="lsl-app")

    def start(self) -> "AppStreamer":
        self._thread.start()
        return self

    def step(self) -> None:
        link = self.get_link()
        if link is not self._link:
            if self.streamer is not None:
                self.streamer.close()
            self._link, self.streamer = link, None
            if link is not None:
                outlet = listeners_if_asked(True, link, self.note, wait_s=0.0)[0]
                self.streamer = RingStreamer(link, outlet, kpa_converter(link, self.area))
                self.streamer.sources = self.sources
        if self.streamer is not None:
            self.streamer.step()

    def _run(self) -> None:
        while not self._halt.wait(self.POLL_S):
            try:
                self.step()
            except Exception as exc:  # never take the app down; say it once and stop streaming
                (self.note or (lambda s: print(s, file=sys.stderr)))(f"LSL stopped: {exc}")
                return

    def close(self) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self.streamer is not None:
            self.streamer.close()
