"""8 stations record at 200 Hz to one server at once, and the server stops for a few seconds
mid-run: no row lost, none doubled, ids unique, integrity ok. (The 60 s version with a 10 s
outage, and the write rates, are in ``make bench``: bench/bench_pg.py.)"""

from __future__ import annotations

from pg_load import check, run_stations


def test_eight_stations_and_a_server_outage_lose_nothing(pg_cluster, pg_url, tmp_path):
    results = run_stations(pg_cluster, pg_url, tmp_path, stations=8, seconds=10.0, rate=200.0,
                           outage_at=3.0, outage_s=4.0)
    for r in results:
        assert r["fault"] is None  # no station had to stop its session
        assert r["pending"] == 0  # every journal handed over
        assert len(r["apps"]) >= 2
    assert any(r["offline_seen"] for r in results)  # the outage was lived through, not slept through
    found = check(pg_url, results)
    assert found["problems"] == []
    assert found["apps"] == found["expected_apps"] and found["duplicate_apps"] == 0
    assert found["samples_found"] == found["samples"]
    assert found["duplicate_chunk_ids"] == 0 and found["chunks_from_journals"] > 0
    assert found["pain"] == found["expected_apps"]
    assert found["integrity"] == "ok"
