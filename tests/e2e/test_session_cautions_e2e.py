"""`pointdose session` with a client: their own PPT only, the point's cautions, the client's screening (issue 10)."""

import json
import os
import subprocess
import sys

import pytest

from pointdose.records import Store

pytestmark = pytest.mark.needs_unix_port


def cli(*args, stdin=subprocess.DEVNULL, timeout=60):
    return subprocess.run([sys.executable, "-m", "pointdose.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=stdin, env=dict(os.environ))


SESSION = ("session", "--sim", "--hand", "expert", "--headless", "--seconds", "2")


@pytest.fixture
def test_client_with_a_ppt():
    """Client Test measured 258 kPa at upper trapezius TrP1 (L); client Other has never been measured."""
    with Store() as store:
        cid = store.add_client("Test")
        store.add_client("Other")
        sid = store.start_session(cid)
        pid = store.point(cid, "upper_trapezius.1", "L")
        ppt_id = store.add_ppt(pid, sid, 258.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3, protocol="ppt")
    return ppt_id


def one_line_error(out):
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pointdose: ") and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def test_another_clients_ppt_is_never_borrowed_and_the_old_points_file_is_not_used(test_client_with_a_ppt, tmp_path):
    pf = tmp_path / "points.json"
    pf.write_text(json.dumps({"version": 1, "points": {"upper_trapezius.1:L": {"ppt": {"kpa": 258.0,
                                                                                      "probe_area_cm2": 1.0}}}}))
    out = cli(*SESSION, "--protocol", "ischemic", "--client", "Other", "--point", "upper_trapezius.1:L",
              "--points-file", str(pf))
    err = one_line_error(out)
    assert "client Other has no PPT at 'upper_trapezius.1:L'" in err
    assert "--protocol ppt --client Other --point upper_trapezius.1:L" in err  # says how to measure it
    assert "old points file" in err and "not used" in err
    out = cli(*SESSION, "--protocol", "ischemic", "--point", "upper_trapezius.1:L")  # no client: whose PPT?
    assert "choose the client" in one_line_error(out)
    with Store() as store:
        assert store.query("SELECT COUNT(*) AS n FROM applications")[0]["n"] == 0  # nothing pressed


def test_the_clients_own_ppt_is_used_with_its_provenance_and_recorded(test_client_with_a_ppt):
    out = cli(*SESSION, "--protocol", "ischemic", "--client", "Test", "--point", "upper_trapezius.1:L")
    assert out.returncode == 0, out.stderr + out.stdout
    assert "PPT 258 kPa, measured 20" in out.stdout and "this client" in out.stdout
    assert "band 232 kPa–284 kPa" in out.stdout or "232 kPa" in out.stdout  # 100 %PPT ± 10 %
    with Store() as store:
        (app,) = store.query("SELECT ppt_id FROM applications")
        assert app["ppt_id"] == test_client_with_a_ppt


def test_absolute_defaults_above_the_ppt_need_a_confirmation(test_client_with_a_ppt):
    with Store() as store:  # Test's PPT at infraspinatus is 95 kPa
        cid = store.client("Test")["id"]
        pid = store.point(cid, "infraspinatus.1", "R")
        store.add_ppt(pid, store.start_session(cid), 95.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3)
    for proto in ("tppr", "holds", "alternating"):  # 120, 200, 250 kPa: all started silently before
        out = cli(*SESSION, "--protocol", proto, "--client", "Test", "--point", "infraspinatus.1:R")
        err = one_line_error(out)
        assert "of this client's PPT (95 kPa" in err and "--confirm-above-ppt" in err, proto
        assert "%PPT" in out.stdout  # the relative default is offered
    out = cli(*SESSION, "--protocol", "holds", "--client", "Test", "--point", "infraspinatus.1:R",
              "--confirm-above-ppt")
    assert out.returncode == 0, out.stderr
    out = cli(*SESSION, "--protocol", "holds", "--client", "Test", "--point", "infraspinatus.1:R",
              "--relative-defaults")
    assert out.returncode == 0, out.stderr
    assert "band 68 kPa–84 kPa" in out.stdout  # 80 %PPT of 95 kPa ± 10 %
    with Store() as store:
        acks = store.query("SELECT key, action, acknowledged FROM application_cautions WHERE action='confirm'")
        assert acks and all(a["acknowledged"] == 1 for a in acks)


def test_cautions_refuse_or_need_an_acknowledgement_that_is_recorded(test_client_with_a_ppt):
    # anterior neck: no sustained compression, whatever is accepted
    out = cli(*SESSION, "--protocol", "holds", "--set", "target=60 kPa", "--client", "Test",
              "--point", "sternocleidomastoid.upper:L", "--accept-caution", "--confirm-above-ppt")
    assert "no sustained compression" in one_line_error(out)
    # suspected DVT on the client's screening: no leg point, even a PPT
    assert cli("clients", "screen", "Test", "--set", "suspected_dvt,anticoagulants", "--none").returncode == 0
    out = cli(*SESSION, "--protocol", "ppt", "--client", "Test", "--point", "gastrocnemius.1:L", "--accept-caution")
    assert "deep-vein thrombosis" in one_line_error(out)
    # anticoagulants combine with a region: both must be acknowledged, the lower limit wins, both are recorded
    out = cli(*SESSION, "--protocol", "holds", "--set", "target=60 kPa", "--client", "Test",
              "--point", "gastrocnemius.3:L")
    assert "deep-vein" in one_line_error(out)  # knee: a leg point too
    out = cli(*SESSION, "--protocol", "holds", "--set", "target=60 kPa", "--client", "Test",
              "--point", "suboccipitals:L")
    err = one_line_error(out)
    assert "suboccipital" in err and "anticoagulants" in err and "--accept-caution" in err
    out = cli(*SESSION, "--protocol", "holds", "--set", "target=60 kPa", "--client", "Test",
              "--point", "suboccipitals:L", "--accept-caution")
    assert out.returncode == 0, out.stderr
    assert "max 200 kPa" in out.stdout
    with Store() as store:
        rows = store.query("SELECT key, acknowledged, max_kpa FROM application_cautions WHERE action='acknowledge' "
                           "ORDER BY key")
        assert [(r["key"], r["acknowledged"]) for r in rows] == [("anticoagulants", 1), ("suboccipital", 1)]
    # old region keys: one spelling, and client items are not regions
    out = cli(*SESSION, "--protocol", "holds", "--region", "calf-thrombosis", "--point", "my calf")
    assert "clients screen CODE --set suspected_dvt" in one_line_error(out)
