"""app/background.py: a panel's data on a worker, the newest request only, errors as one line."""

from __future__ import annotations

import threading
import time

from pointdose.app.background import Latest


def _wait(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def test_the_work_runs_off_the_asking_thread_and_only_the_newest_waiting_request_runs():
    data = Latest("t")
    gate = threading.Event()
    ran = []

    def slow(tag):
        def fn():
            ran.append((tag, threading.current_thread() is threading.main_thread()))
            gate.wait(10)
            return tag
        return fn

    data.request(slow("first"))
    assert _wait(lambda: ran)  # the first is running, held by the gate
    data.request(slow("second"))
    data.request(slow("third"))  # replaces "second", which never runs
    assert data.take() is None and data.busy()
    gate.set()
    assert _wait(lambda: not data.busy())
    assert [tag for tag, _ in ran] == ["first", "third"] and not any(main for _, main in ran)
    got = data.take()
    assert got.value == "third" and got.error == ""
    assert data.take() is None  # taken once


def test_an_error_is_one_line_and_the_worker_goes_on():
    data = Latest("t")

    def broken():
        raise ValueError("the records\nare locked")

    data.request(broken)
    assert _wait(lambda: not data.busy())
    got = data.take()
    assert got.value is None and got.error == "the records are locked"
    data.request(lambda: 42)
    assert _wait(lambda: not data.busy())
    assert data.take().value == 42
    data.close()
