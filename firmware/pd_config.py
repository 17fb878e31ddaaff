"""The device configuration: one dict, built once at boot.

Order of precedence (later wins):

1. ``COMMON`` defaults;
2. the named device profile: ``DEVICE`` below, or ``"device"`` in
   config.json, or the board's default (rp2 -> ``pico-hx711``, esp32 ->
   ``esp32-hx711``, unix -> ``unix-sim``);
3. ``config.json`` in the store folder (written by the host), any key below;
4. on the unix port, the ``POINTDOSE_*`` environment variables.

Problems are collected, not raised: the device boots with the default for a
bad setting and reports each problem in an ERROR frame (code 4).

Usage::

    cfg, problems = load(board)
    cfg["rate"], cfg["batch_us"], cfg["watchdog_ms"]
"""
import json

try:
    import os
except ImportError:     # pragma: no cover
    import uos as os

DEVICE = None   # edit to pin this firmware to one profile, e.g. "pico-fsr"

COMMON = {
    "sensor": "sim",        # hx711 | adc | sim | sim-hx711
    "rate": 200,            # Hz
    "gain": 128,            # HX711: 128 / 64 (channel A), 32 (channel B)
    "dout": None,           # HX711 DOUT pin
    "sck": None,            # HX711 PD_SCK pin
    "rate_pin": None,       # HX711 RATE pin, when wired to the board (else fixed by the breakout)
    "adc_pin": None,        # ADC pin (FSR divider)
    "oversample": 8,        # ADC readings averaged per sample
    "led": None,            # cue LED pin (docs/firmware.md, "Cues")
    "buzzer": None,         # passive piezo buzzer pin (PWM tones)
    "buttons": None,        # {"release": PIN, "pain": PIN, "stop": PIN, ...}: to GND, pull-up
    "link": "usb",          # usb | uart:BAUD
    "batch_us": None,       # None: 4000 on USB, 20000 on a UART
    "watchdog_ms": 3000,
    "ring": 512,            # samples held while the host does not read
    "tare_max": 1000,       # most samples one `tare` may average
    "cal": None,            # "linear:COUNTS_PER_N:ZERO" when known
}

PROFILES = {
    # Raspberry Pi Pico + HX711 breakout (RATE tied to 10 SPS on most boards).
    "pico-hx711": {"sensor": "hx711", "dout": 16, "sck": 17, "rate": 10, "led": "LED", "buzzer": 15,
                   "buttons": {"release": 10, "pain": 11, "stop": 12}},
    # Raspberry Pi Pico + FSR 402 in a divider on ADC0 (GP26).
    "pico-fsr": {"sensor": "adc", "adc_pin": 26, "oversample": 8, "rate": 200, "led": "LED",
                 "buzzer": 15, "buttons": {"release": 10, "pain": 11, "stop": 12}},
    # ESP32 DevKit + HX711 behind the USB-UART bridge.
    # No "led": 2 -- Espressif's DevKitC has no user LED on GPIO 2 (clones do): an external LED on 25.
    "esp32-hx711": {"sensor": "hx711", "dout": 4, "sck": 5, "rate": 10, "led": 25, "buzzer": 26,
                    "buttons": {"release": 32, "pain": 33, "stop": 27}, "link": "uart:115200"},
    # Unix port: simulated load cell; LED, buzzer and buttons are fake pins (`io`, `sim button`).
    "unix-sim": {"sensor": "sim", "rate": 200, "led": "LED", "buzzer": 15,
                 "buttons": {"release": 10, "pain": 11, "stop": 12}},
}

_BOARD_DEFAULT = {"rp2": "pico-hx711", "esp32": "esp32-hx711", "unix": "unix-sim"}
_SENSORS = ("hx711", "adc", "sim", "sim-hx711")
_INTS = ("rate", "gain", "oversample", "batch_us", "watchdog_ms", "ring", "tare_max")
CONFIG_FILE = "config.json"
STATE_FILE = "pd_state.json"
CAL_FILE = "pd_cal.bin"
BUTTON_NAMES = ("release", "pain", "stop", "mark", "up", "down")    # pd_cue.BUTTON_IDS


def _join(folder, name):
    if not folder or folder == ".":
        return name
    return folder.rstrip("/") + "/" + name


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def parse_link(link):
    """'usb' -> 0; 'uart:BAUD' -> BAUD; ValueError otherwise."""
    if link == "usb":
        return 0
    if link.startswith("uart:"):
        baud = int(link[5:])
        if 300 <= baud <= 10000000:
            return baud
    raise ValueError(link)


def load(board, env=None):
    """Returns (cfg, problems): the configuration dict and a list of texts."""
    problems = []
    store = board.store
    override = _read_json(_join(store, CONFIG_FILE))
    if override is not None and not isinstance(override, dict):
        problems.append("config.json: not a JSON object, ignored")
        override = None
    name = DEVICE
    if override and "device" in override:
        name = override["device"]
    if name is None:
        name = _BOARD_DEFAULT.get(board.name, "unix-sim")
    cfg = dict(COMMON)
    if name not in PROFILES:
        problems.append("device=%s: unknown profile, using %s" % (name, _BOARD_DEFAULT.get(board.name)))
        name = _BOARD_DEFAULT.get(board.name, "unix-sim")
    cfg.update(PROFILES[name])
    cfg["device"] = name
    if board.name == "esp32":
        cfg["link"] = board.default_link    # UART bridge, or native USB on S2/S3
    if override:
        for k in override:
            if k == "device":
                continue
            if k not in COMMON:
                problems.append("config.json: unknown setting %s, ignored" % k)
                continue
            cfg[k] = override[k]
    if board.name == "unix":
        e = board.env
        cfg["sensor"] = e("POINTDOSE_SENSOR", cfg["sensor"])
        if cfg["sensor"] == "sim-hx711" and (override is None or "rate" not in override):
            cfg["rate"] = 80
        cfg["rate"] = e("POINTDOSE_RATE", cfg["rate"])
        cfg["link"] = e("POINTDOSE_LINK", cfg["link"])
        cfg["watchdog_ms"] = e("POINTDOSE_WATCHDOG_MS", cfg["watchdog_ms"])
        cfg["ticks_start"] = e("POINTDOSE_TICKS_START", None)
        cfg["replay"] = e("POINTDOSE_REPLAY", None)     # a recorded force profile (pd_simsensor)
    _validate(cfg, problems)
    return cfg, problems


def _validate(cfg, problems):
    for k in _INTS:
        v = cfg[k]
        if v is None:
            continue
        try:
            cfg[k] = int(v)
        except (ValueError, TypeError):
            problems.append("%s=%s: not a whole number, using %s" % (k, v, COMMON[k]))
            cfg[k] = COMMON[k]
    if cfg["sensor"] not in _SENSORS:
        problems.append("sensor=%s: must be one of %s, using sim" % (cfg["sensor"], "/".join(_SENSORS)))
        cfg["sensor"] = "sim"
    try:
        baud = parse_link(cfg["link"])
    except (ValueError, AttributeError):
        problems.append("link=%s: must be usb or uart:BAUD, using usb" % cfg["link"])
        cfg["link"] = "usb"
        baud = 0
    if cfg["batch_us"] is None:
        cfg["batch_us"] = 20000 if baud else 4000
    if not 0 <= cfg["batch_us"] <= 1000000:
        problems.append("batch_us=%d: must be 0..1000000, using 4000" % cfg["batch_us"])
        cfg["batch_us"] = 4000
    if not 200 <= cfg["watchdog_ms"] <= 300000:
        problems.append("watchdog_ms=%d: must be 200..300000, using 3000" % cfg["watchdog_ms"])
        cfg["watchdog_ms"] = 3000
    if not 64 <= cfg["ring"] <= 8192:
        problems.append("ring=%d: must be 64..8192, using 512" % cfg["ring"])
        cfg["ring"] = 512
    if not 1 <= cfg["tare_max"] <= 8192:
        problems.append("tare_max=%d: must be 1..8192, using 1000" % cfg["tare_max"])
        cfg["tare_max"] = 1000
    hx = cfg["sensor"] in ("hx711", "sim-hx711")
    if hx and cfg["rate"] not in (10, 80):
        problems.append("rate=%d: the HX711 runs at 10 or 80 Hz, using 10" % cfg["rate"])
        cfg["rate"] = 10
    if not hx and not 1 <= cfg["rate"] <= 1000:
        problems.append("rate=%d: must be 1..1000 Hz, using 200" % cfg["rate"])
        cfg["rate"] = 200
    if cfg["gain"] not in (128, 64, 32):
        problems.append("gain=%d: must be 128, 64 or 32, using 128" % cfg["gain"])
        cfg["gain"] = 128
    if not 1 <= cfg["oversample"] <= 64:
        problems.append("oversample=%d: must be 1..64, using 8" % cfg["oversample"])
        cfg["oversample"] = 8
    b = cfg["buttons"]
    if b is not None:
        if not isinstance(b, dict):
            problems.append("buttons=%s: must be {NAME: PIN}, ignored" % (b,))
            cfg["buttons"] = None
        else:
            for k in list(b):
                if k not in BUTTON_NAMES:
                    problems.append("buttons: %s is not one of %s, ignored" % (k, "/".join(BUTTON_NAMES)))
                    del b[k]
    cal = cfg["cal"]
    if cal is not None and not (isinstance(cal, str) and cal.startswith("linear:")):
        problems.append("cal=%s: must be linear:COUNTS_PER_N:ZERO, ignored" % cal)
        cfg["cal"] = None


class Store:
    """Small persistent state (tare, calibration) in one JSON file.

    Written through a temporary file and ``os.rename`` so that a power cut
    leaves either the old or the new file, never a torn one.  The device only
    saves while it is not streaming (flash writes stall the CPU on the boards).
    """

    def __init__(self, folder):
        self.path = _join(folder, STATE_FILE)
        self.tmp = self.path + ".tmp"
        self.cal_path = _join(folder, CAL_FILE)

    # The calibration blob (opaque to the firmware): "PDC1", u16 length, u16 CRC-16/CCITT-FALSE
    # (little-endian), then the bytes; written to a temporary file and renamed over the old one.
    def load_blob(self):
        """The stored blob (bytes), None when there is none; ValueError when the file is damaged."""
        try:
            with open(self.cal_path, "rb") as f:
                d = f.read()
        except OSError:
            return None
        from pd_frame import crc16
        if len(d) < 8 or d[0:4] != b"PDC1":
            raise ValueError("%s has no PDC1 header" % CAL_FILE)
        n = d[4] | d[5] << 8
        crc = d[6] | d[7] << 8
        if len(d) != 8 + n or crc16(d[8:], n) != crc:
            raise ValueError("%s is damaged (length or CRC)" % CAL_FILE)
        return d[8:]

    def save_blob(self, buf, n):
        from pd_frame import crc16
        crc = crc16(buf, n)
        tmp = self.cal_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"PDC1" + bytes((n & 0xFF, n >> 8, crc & 0xFF, crc >> 8)))
            f.write(bytes(buf[0:n]))
        self._replace(tmp, self.cal_path)

    def clear_blob(self):
        try:
            os.remove(self.cal_path)
        except OSError:
            pass

    def _replace(self, tmp, path):
        try:
            os.rename(tmp, path)
        except OSError:             # a filesystem that will not rename over a file
            try:
                os.remove(path)
            except OSError:
                pass
            os.rename(tmp, path)

    def load(self):
        d = _read_json(self.path)
        return d if isinstance(d, dict) else {}

    def save(self, state):
        with open(self.tmp, "w") as f:
            json.dump(state, f)
        self._replace(self.tmp, self.path)
