"""DeviceClock: unwrapping across 2^30, gaps, boots, and the device → host time mapping."""

from __future__ import annotations

import numpy as np
import pytest

from pointdose.link.clock import DeviceClock, MAX_DRIFT

M = 2**30


def feed(clock, seq, t_us, rx):
    seq = np.asarray(seq, np.int64)
    return clock.unwrap(seq % M, np.asarray(t_us, np.int64) % M, rx)


def test_unwraps_seq_and_time_across_2_30():
    c = DeviceClock()
    start_t = M - 2500
    out = []
    for k in range(10):  # 10 chunks of 4 samples at 1 kHz crossing both wraps
        seq = np.arange(M - 20 + 4 * k, M - 16 + 4 * k)
        t = start_t + 1000 * (seq - (M - 20))
        u = feed(c, seq, t, rx=5.0 + 0.004 * k + 0.004)
        out.append(u)
    seqs = np.concatenate([u.seq for u in out])
    ts = np.concatenate([u.t_dev_us for u in out])
    assert np.all(np.diff(seqs) == 1) and seqs[-1] == M + 19
    assert np.all(np.diff(ts) == 1000) and ts[-1] > M
    assert c.lost_samples == 0 and c.segment == 0


def test_long_pause_counts_whole_wraps_from_host_time():
    c = DeviceClock()
    feed(c, [0], [1000], rx=10.0)
    # 20 minutes later the device time has wrapped once (17.9 min) and lands on 1000 + 1.2e9 - M
    later = 1000 + 1_200_000_000
    u = feed(c, [1], [later], rx=10.0 + 1200.0)
    assert u.t_dev_us[0] == later


def test_gap_counts_lost_samples():
    c = DeviceClock()
    feed(c, [1, 2, 3], [0, 1, 2], 1.0)
    u = feed(c, [7, 8, 10], [6, 7, 9], 1.01)
    assert u.lost == 4 and c.lost_samples == 4
    assert u.seq.tolist() == [7, 8, 10]


def test_gap_across_the_seq_wrap():
    c = DeviceClock()
    feed(c, [M - 2], [0], 1.0)
    u = feed(c, [M + 3], [5], 1.01)
    assert u.lost == 4 and u.seq[0] == M + 3


def test_expect_seq_after_restart_is_not_a_loss():
    c = DeviceClock()
    feed(c, [10, 11], [0, 1000], 1.0)
    c.expect_seq(500)
    u = feed(c, [500], [490_000], 1.5)
    assert u.lost == 0 and c.lost_samples == 0 and u.seq[0] == 500


def test_new_boot_id_starts_a_segment_not_a_gap():
    c = DeviceClock()
    c.set_boot("aaaa0001")
    feed(c, [100, 101], [5000, 6000], 1.0)
    assert not c.set_boot("AAAA0001")
    assert c.set_boot("bbbb0002")
    u = feed(c, [0, 1], [10, 1010], 2.0)
    assert u.segments.tolist() == [1, 1] and u.seq.tolist() == [0, 1] and c.lost_samples == 0
    assert c.boot_changes == 1


def test_backward_seq_opens_a_segment_that_adopts_the_next_boot_id():
    c = DeviceClock()
    c.set_boot("aaaa0001")
    u = feed(c, [100, 101, 0, 1], [5000, 6000, 10, 1010], 1.0)  # reboot inside one chunk
    assert u.segments.tolist() == [0, 0, 1, 1] and c.lost_samples == 0
    assert not c.set_boot("bbbb0002")  # already in the new segment
    assert c.segment == 1 and c.boot_changes == 1


def test_mapping_is_the_lower_envelope_of_delays():
    rng = np.random.default_rng(2)
    c = DeviceClock()
    offset = 1000.0
    for k in range(300):  # 3 s of chunks with 1..20 ms transport delay
        t_dev = k * 0.01
        rx = t_dev + offset + rng.uniform(0.001, 0.02)
        u = feed(c, [k], [int(t_dev * 1e6)], rx)
        assert u.t_host_s[-1] <= rx + 1e-9  # never mapped after it arrived
    assert c.to_host(0) == pytest.approx(offset, abs=0.0015)


@pytest.mark.parametrize("ppm", [-150.0, 0.0, 120.0])
def test_drift_is_estimated(ppm):
    rng = np.random.default_rng(3)
    c = DeviceClock()
    offset = 50.0
    for k in range(1200):  # 120 s
        t_dev = k * 0.1
        rx = t_dev * (1 + ppm * 1e-6) + offset + rng.exponential(0.002)
        feed(c, [k], [int(round(t_dev * 1e6))], rx)
    assert c.drift == pytest.approx(ppm * 1e-6, abs=30e-6)
    assert c.to_host(120e6) == pytest.approx(120 * (1 + ppm * 1e-6) + offset, abs=0.003)


def test_drift_is_clamped():
    c = DeviceClock()
    for k in range(400):
        t_dev = k * 0.1
        feed(c, [k], [int(t_dev * 1e6)], t_dev * (1 + 5e-3) + 1.0)
    assert abs(c.drift) <= MAX_DRIFT


def test_mapped_time_never_runs_backwards_when_the_delay_shrinks():
    """First chunk 30 ms late, the next ones 2 ms late (at 80 Hz): the estimate falls, time must not."""
    from pointdose.link.clock import DeviceClock

    clock = DeviceClock()
    clock.set_boot("0badf00d")
    period_us, t_dev, seq, mapped = 12_500, 1_000_000, 0, []
    for k, delay in enumerate([0.030] + [0.002] * 40):
        t30 = np.array([t_dev + j * period_us for j in range(2)], np.int64) % (1 << 30)
        s30 = np.array([seq, seq + 1], np.int64)
        rx = 100.0 + (t_dev + period_us) * 1e-6 + delay
        mapped.append(clock.unwrap(s30, t30, rx).t_host_s)
        t_dev += 2 * period_us
        seq += 2
    t = np.concatenate(mapped)
    assert np.all(np.diff(t) > 0), np.diff(t).min()
    # and it converges on the better estimate: the last chunk maps to ~2 ms before arrival
    assert t[-1] == pytest.approx(100.0 + (t_dev - period_us) * 1e-6, abs=0.0035)


def test_a_chunk_fitted_after_a_late_one_is_never_mapped_after_it_arrived():
    """A late chunk (mapped at its arrival), then one that took less time to come: moving the second
    whole to start after the first put its newest samples milliseconds after they arrived (seen
    against the real firmware, tests/host/test_link.py)."""
    clock = DeviceClock()
    clock.set_boot("0badf00d")
    a = clock.unwrap(np.array([0, 1, 2]), np.array([0, 1000, 2000]), 100.0 + 0.002 + 0.005)  # 5 ms late
    b_t = np.array([3000, 4000, 5000, 6000])  # 1 ms apart, right after
    rx = 100.0 + 0.006 + 0.0011  # 1.1 ms late: arrives just after the first chunk did
    b = clock.unwrap(np.array([3, 4, 5, 6]), b_t, rx)
    t = np.concatenate([a.t_host_s, b.t_host_s])
    assert np.all(np.diff(t) > 0)  # never backwards
    assert b.t_host_s[-1] <= rx + 1e-9 and a.t_host_s[-1] <= 100.007 + 1e-9  # never after arrival
    c = clock.unwrap(np.array([7]), np.array([7000]), 100.007 + 0.0011)  # the better estimate holds
    assert c.t_host_s[0] == pytest.approx(100.007 + 0.0011 - 1e-9, abs=1e-6)


def test_any_number_of_restarts_in_one_read():
    """~1,000 sequence restarts in one chunk raised RecursionError: each run now gets its own segment."""
    c = DeviceClock()
    runs = 5000
    seq = np.tile([0, 1, 2], runs)
    t = np.tile([0, 1000, 2000], runs)
    u = feed(c, seq, t, rx=3.0)
    assert c.segment == runs - 1 and c.lost_samples == 0
    assert u.segments.tolist() == np.repeat(np.arange(runs), 3).tolist()
    assert u.seq.tolist() == seq.tolist()
    # the next chunk carries on in the last segment
    u2 = feed(c, [3, 4], [3000, 4000], rx=3.01)
    assert u2.segments.tolist() == [runs - 1] * 2 and u2.lost == 0
