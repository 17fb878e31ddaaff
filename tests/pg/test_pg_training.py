"""Training records (students, classes, blocks, trials and their samples) on a records server:
two stations of one class write at once and each sees the whole class."""

from __future__ import annotations

import numpy as np

from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records.store import Store
from pointdose.training import Block, Schedule, preset
from pointdose.training.runner import BlockRun
from pointdose.training.store import TrainingStore


def _drive(run, level: float, rate: float = 100.0, chunk: int = 5) -> None:
    seq, t = 0, 0.0
    while not run.finished and t < 60.0:
        rows = np.zeros(chunk, SAMPLE_DTYPE)
        rows["seq"] = np.arange(seq, seq + chunk)
        rows["t_s"] = t + np.arange(chunk) / rate
        rows["pressure_kpa"] = level
        rows["force_n"] = rows["pressure_kpa"] / 10.0
        seq, t = seq + chunk, t + chunk / rate
        run.feed(rows)


def _station(url: str, journal, code: str, level: float) -> TrainingStore:
    ts = TrainingStore(Store(url, journal=journal))
    ts.add_student(code)
    if "Spring" not in [c["name"] for c in ts.classes()]:
        ts.add_class("Spring")
    ts.enrol("Spring", [code])
    session = ts.start_session(code, class_name="Spring")
    drill = preset("moderate", trials=3, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=0.5)
    block = Block("pre-test", drill, Schedule.none())
    ts.begin_block(session, 0, block)
    run = BlockRun(block, get_ready_s=0.5)
    run.start(0.0)
    _drive(run, drill.target * level)
    for rec in run.results:
        ts.save_trial(rec)
    ts.end_block(block.uid)
    ts.end_session(session)
    return ts


def test_a_class_on_two_stations_is_one_class_on_the_server(pg_url, tmp_path):
    a = _station(pg_url, tmp_path / "a.sqlite", "S-A", 1.1)
    b = _station(pg_url, tmp_path / "b.sqlite", "S-B", 0.9)
    try:
        for ts in (a, b):
            assert sorted(s["code"] for s in ts.students("Spring")) == ["S-A", "S-B"]
            trials = ts.trials(class_name="Spring")
            assert len(trials) == 6 and len({t["uid"] for t in trials}) == 6
            comp = {r["student"]: r["score"] for r in ts.class_comparison("Spring", "pre-test")}
            assert comp["S-A"].constant_error > 0 > comp["S-B"].constant_error
        assert a.station() != b.station()  # each station is itself on the shared server
        stations = {r["station"] for r in a.store.query("SELECT station FROM training_sessions")}
        assert stations == {a.station(), b.station()}
        other = [t for t in b.trials(student="S-A")][0]
        assert len(b.trial_samples(other["uid"])) > 100  # a trial's samples, read on the other station
        assert a.store.integrity_check() == "ok"
    finally:
        a.close()
        b.close()
