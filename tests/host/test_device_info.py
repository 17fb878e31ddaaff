"""DeviceInfo: the device's hello parsed once, typed (pointdose.link.info)."""

from __future__ import annotations

import pytest

from pointdose.link.info import DeviceInfo, FactoryScale, device_info

HELLO = {"fw": "0.2.0", "proto": "2", "board": "rp2", "sensor": "hx711", "rate": "80", "uid": "e6614c311b7c8a2f",
         "boot": "72c42b66", "raw_min": "-8388608", "raw_max": "8388607", "tare": "41990", "cal": "none",
         "batch_us": "4000", "link": "usb", "calblob": "1a2b", "gain": "32"}


def test_hello_fields_become_typed_values():
    dev = DeviceInfo.from_fields(HELLO)
    assert (dev.board, dev.sensor, dev.uid, dev.boot) == ("rp2", "hx711", "e6614c311b7c8a2f", "72c42b66")
    assert dev.rate_hz == 80.0 and dev.tare == 41990.0 and dev.batch_us == 4000
    assert dev.raw_range == (-8388608.0, 8388607.0)
    assert dev.gain == "32" and dev.channel == "B"  # HX711 gain 32 is channel B
    assert dev.factory_scale is None and dev.cal_text == "none"
    assert dev.calblob_crc == "1a2b"
    assert dev.fields["fw"] == "0.2.0"


@pytest.mark.parametrize("text, scale", [
    ("linear:14000:42000", FactoryScale(14000.0, 42000.0)),
    ("linear:-200:0", FactoryScale(-200.0, 0.0)),
    ("none", None), ("", None), ("linear:0:5", None), ("linear:x:5", None), ("poly:1:2:3", None),
    ("linear:1", None), ("linear:nan:5", None),
])
def test_factory_scale(text, scale):
    assert DeviceInfo.from_fields({"cal": text}).factory_scale == scale


def test_missing_or_bad_fields_are_none_and_tare_zero():
    dev = DeviceInfo.from_fields({"rate": "fast", "tare": "x", "raw_min": "1", "calblob": "none"})
    assert dev.rate_hz is None and dev.tare == 0.0 and dev.raw_range is None and dev.calblob_crc is None
    assert DeviceInfo.from_fields(None) == DeviceInfo()


def test_changed_fields_are_parsed_again_and_the_rest_kept():
    dev = DeviceInfo.from_fields({**HELLO, "cal": "linear:14000:42000"})
    after = dev.with_fields(tare="42500", rate="10")
    assert after.tare == 42500.0 and after.rate_hz == 10.0 and after.factory_scale == dev.factory_scale
    hidden = dev.without_factory_scale()
    assert hidden.factory_scale is None and hidden.with_fields(tare="1").factory_scale is None


def test_device_info_of_a_link_or_a_dict():
    dev = DeviceInfo.from_fields(HELLO)

    class Link:
        device = dev

    class NotConnected:
        device = None

    assert device_info(Link()) is dev and device_info(dev) is dev
    assert device_info(HELLO) == dev and device_info(None) == DeviceInfo()
    assert device_info(NotConnected()) == DeviceInfo()  # nothing known yet: every field empty
