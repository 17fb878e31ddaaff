"""SampleRing: wrap-around, windows, copies, thread safety."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pointdose.link.ring import RING_DTYPE, SampleRing


def rows(start: int, n: int, rate: float = 100.0) -> np.ndarray:
    b = np.zeros(n, RING_DTYPE)
    b["seq"] = np.arange(start, start + n)
    b["t_dev_s"] = b["seq"] / rate
    b["raw"] = b["seq"] * 3
    return b


def test_wraps_and_keeps_the_newest():
    ring = SampleRing(10)
    for s in range(0, 23, 3):
        ring.append(rows(s, 3))
    assert len(ring) == 10 and ring.total_appended == 24
    assert ring.last(100)["seq"].tolist() == list(range(14, 24))
    assert ring.last(4)["seq"].tolist() == [20, 21, 22, 23]
    assert ring.last(0).size == 0


def test_block_larger_than_capacity():
    ring = SampleRing(5)
    ring.append(rows(0, 12))
    assert ring.last(5)["seq"].tolist() == [7, 8, 9, 10, 11]


def test_window_by_device_time_across_the_wrap():
    ring = SampleRing(64)
    for s in range(0, 200, 7):
        ring.append(rows(s, 7))
    w = ring.window(0.1)  # 100 Hz → the last 11 samples (t within 0.1 s of the newest, inclusive)
    assert w["seq"].tolist() == list(range(192, 203))
    assert len(ring.window(100.0)) == 64


def test_readers_get_copies_and_version_moves():
    ring = SampleRing(8)
    v0 = ring.version
    ring.append(rows(0, 4))
    assert ring.version > v0
    got = ring.last(4)
    ring.append(rows(100, 8))
    assert got["seq"].tolist() == [0, 1, 2, 3]
    v, snap = ring.snapshot()
    assert v == ring.version and snap["seq"].tolist() == list(range(100, 108))


def test_append_converts_other_dtypes():
    ring = SampleRing(4)
    b = np.zeros(2, [("seq", "i8"), ("t_dev_s", "f8"), ("t_host_rx_s", "f8"), ("raw", "i8"), ("segment", "i8")])
    b["raw"] = [5, 6]
    ring.append(b)
    assert ring.last(2)["raw"].tolist() == [5, 6]


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        SampleRing(0)


def test_concurrent_writer_and_readers_see_consistent_rows():
    ring = SampleRing(1000)
    bad = []
    done = threading.Event()

    def writer():
        for s in range(0, 60_000, 50):
            ring.append(rows(s, 50))
        done.set()

    def reader():
        while not done.is_set():
            w = ring.window(2.0)
            if len(w) and (np.any(np.diff(w["seq"]) != 1) or np.any(w["raw"] != w["seq"] * 3)):
                bad.append(w)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not bad
    assert ring.total_appended == 60_000 and ring.last(1)["seq"][0] == 59_999


def test_since_returns_exactly_the_rows_appended_after_a_count():
    ring = SampleRing(100)
    blocks = []
    for k in range(5):
        block = np.zeros(7, RING_DTYPE)
        block["seq"] = np.arange(7 * k, 7 * k + 7)
        ring.append(block)
        blocks.append(block)
    total, rows = ring.since(0)
    assert total == 35 and list(rows["seq"]) == list(range(35))
    total, rows = ring.since(30)
    assert total == 35 and list(rows["seq"]) == list(range(30, 35))
    assert len(ring.since(35)[1]) == 0
    for k in range(5, 25):  # overwrite past capacity: what is gone is gone, what is held comes once
        block = np.zeros(7, RING_DTYPE)
        block["seq"] = np.arange(7 * k, 7 * k + 7)
        ring.append(block)
    total, rows = ring.since(35)
    assert total == 175 and list(rows["seq"]) == list(range(75, 175))
