"""Export round trip: JSON back into a new store gives the same records; CSVs match the store."""

import csv
import json

import numpy as np
import pytest

from pointdose.cli import main
from pointdose.records import Store
from pointdose.records.demo import make_demo
from pointdose.records.exporting import SUMMARY_COLUMNS, export_client, import_client


@pytest.fixture
def source(tmp_path):
    store = Store(tmp_path / "a.sqlite")
    cid = make_demo(store, "EXP-1", sessions=2)
    store.add_note(cid, "tender on the left, Zq marker", session_id=1)
    store.query("UPDATE clients SET name='Jane Realname' WHERE id=?", (cid,))
    yield store
    store.close()


def _strip(rows, drop=("id", "session_id", "point_id", "application_id", "client_id")):
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_json_round_trip_gives_the_same_records(source, tmp_path):
    files = export_client(source, "EXP-1", tmp_path / "out", formats=["json"])
    doc = json.loads(files[0].read_text())
    assert "name" not in doc["client"]  # the real name stays home unless asked for
    assert b"Jane Realname" not in files[0].read_bytes()
    with Store(tmp_path / "b.sqlite") as target:
        cid = import_client(target, files[0])
        a_apps, b_apps = source.applications(client_id=1), target.applications(client_id=cid)
        assert len(a_apps) == len(b_apps) == 6
        for a, b in zip(a_apps, b_apps):
            for key in ("started_at", "t_start_s", "t_end_s", "end_reason", "protocol", "protocol_params", "probe",
                        "probe_area_cm2", "calibration_id", "device_uid", "contact_kpa", "band_low_kpa",
                        "band_high_kpa", "point_label", "location", "side", "session_started"):
                assert a[key] == b[key], key
            sa, sb = source.samples(a["id"]), target.samples(b["id"])
            for col in sa.dtype.names:
                assert np.array_equal(sa[col], sb[col]), col
            assert source.events(a["id"]) == target.events(b["id"])
            ma, mb = a["metrics"], b["metrics"]
            assert mb["dose_kpa_s"] == ma["dose_kpa_s"] and mb["hold_cv"] == ma["hold_cv"]
        for table in ("ppt", "pain"):
            assert _strip(source.query(f"SELECT * FROM {table} ORDER BY id")) == \
                   _strip(target.query(f"SELECT * FROM {table} ORDER BY id"))
        assert target.query("SELECT text FROM notes")[0]["text"] == "tender on the left, Zq marker"
        assert target.calibration("demo-linear-1") == source.calibration("demo-linear-1")
        with pytest.raises(Exception, match="already a client 'EXP-1'.*--as"):
            import_client(target, files[0])
        import_client(target, files[0], code="EXP-1b")
        assert len(target.applications(client_id=target.client("EXP-1b")["id"])) == 6


def test_csv_summaries_and_samples_match_the_store_and_analyze(source, tmp_path, capsys):
    assert main(["export", "--client", "EXP-1", "--out", str(tmp_path / "out"), "--db", str(source.path),
                 "--no-progress"]) == 0
    folder = tmp_path / "out" / "EXP-1"
    with open(folder / "points.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == list(SUMMARY_COLUMNS)
    apps = source.applications(client_id=1)
    assert [int(r["application_id"]) for r in rows] == [a["id"] for a in apps]
    for r, a in zip(rows, apps):
        assert float(r["dose_kpa_s"]) == a["metrics"]["dose_kpa_s"]
        assert float(r["ppt_before_kpa"]) > 0 and r["end_reason"] == "completed"
    # an exported sample file is a trace `pointdose analyze` reads, with the same answer
    capsys.readouterr()
    first = apps[0]
    band = f"{first['band_low_kpa']}:{first['band_high_kpa']}"
    assert main(["analyze", str(folder / "samples" / f"app-{first['id']:05d}.csv"), "--contact-kpa", "10",
                 "--band", band, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dose_kpa_s"] == pytest.approx(first["metrics"]["dose_kpa_s"], rel=1e-9)
    assert out["in_band_s"] == pytest.approx(first["metrics"]["in_band_s"], rel=1e-9)
    with open(folder / "samples" / f"app-{first['id']:05d}.csv") as fh:
        sample_rows = list(csv.DictReader(fh))
    saved = source.samples(first["id"])
    assert len(sample_rows) == len(saved)
    assert [int(r["raw"]) for r in sample_rows[:50]] == saved["raw"][:50].tolist()


def test_import_refuses_a_damaged_export_and_leaves_nothing(source, tmp_path):
    files = export_client(source, "EXP-1", tmp_path / "out", formats=["json"])
    doc = json.loads(files[0].read_text())
    del doc["sessions"][1]["applications"][0]["probe_area_cm2"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with Store(tmp_path / "c.sqlite") as target:
        with pytest.raises(Exception, match="incomplete or damaged.*nothing was imported"):
            import_client(target, bad)
        assert target.clients() == [] and target.query("SELECT COUNT(*) n FROM sample_chunks")[0]["n"] == 0
