"""Client codes, file names from user data and file modes (issue 13, item 3).

Before: ``report --client "x/../../../../OUTSIDE"`` wrote a PDF three folders above --out, an export
of the code ``..`` overwrote points.csv in the parent, and report PDFs were 0644.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest

from pointdose.cli import main
from pointdose.errors import UserError
from pointdose.files import inside, open_private, private_dir, safe_name, write_private
from pointdose.records import Store, StoreError
from pointdose.records.demo import make_demo
from pointdose.records.exporting import export_client, import_client
from pointdose.records.store import check_code

BAD_CODES = ["x/../../../../OUTSIDE", "..", ".", "", "  ", "a" * 33, "x" * 10_000, "-rf", ".hidden", "a b",
             "a\x1b[31mred", "a\nb", "C:\\x", "né", "=cmd|' /C calc'!A0"]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _raw_client(db, code):
    """A client written straight into the file, as an older pointdose (no code rules) could have."""
    with Store(db) as store:
        make_demo(store, "TMP-1", sessions=1)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE clients SET code=? WHERE code='TMP-1'", (code,))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("code", ["C-0042", "DEMO-01", "a", "A.b_c-9", "x" * 32, "  C-7  "])
def test_good_codes_are_kept(code):
    assert check_code(code) == code.strip()


@pytest.mark.parametrize("code", BAD_CODES)
def test_bad_codes_are_refused_in_one_line_everywhere_they_enter(code, tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    with pytest.raises(StoreError, match="client code|needs a code") as err:
        check_code(code)
    msg = str(err.value)
    assert "\n" not in msg and "\x1b" not in msg and len(msg) < 300
    with Store(db) as store, pytest.raises(StoreError):
        store.add_client(code)  # the store API (the app's Add button uses it)
    assert main(["clients", "add", "--db", str(db), "--", code]) == 1  # the command line
    err_text = capsys.readouterr().err
    assert err_text.startswith("pointdose: ") and err_text.count("\n") == 1 and "\x1b" not in err_text


def test_import_refuses_a_bad_code_in_the_file_and_in_as(tmp_path):
    src = tmp_path / "a.sqlite"
    with Store(src) as store:
        make_demo(store, "IMP-1", sessions=1)
        (json_file,) = [p for p in export_client(store, "IMP-1", tmp_path / "out", formats=["json"])]
    doc = json.loads(json_file.read_text())
    doc["client"]["code"] = "../../evil"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with Store(tmp_path / "b.sqlite") as store:
        with pytest.raises(UserError, match="not allowed.*--as NEWCODE"):
            import_client(store, bad)
        with pytest.raises(UserError, match="not allowed"):
            import_client(store, json_file, code="x/../y")
        assert store.clients() == []
        cid = import_client(store, bad, code="GOOD-1")  # the same file under a valid code
        assert store.client(cid)["code"] == "GOOD-1"


def test_a_report_for_an_old_bad_code_stays_in_the_out_folder_and_is_0600(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    code = "x/../../../../OUTSIDE"
    _raw_client(db, code)
    out = tmp_path / "a" / "b" / "c" / "out"
    assert main(["report", "--client", code, "--db", str(db), "--out", str(out)]) == 0
    (pdf,) = out.iterdir()
    assert pdf.parent == out and pdf.suffix == ".pdf" and "/" not in pdf.name and ".." not in pdf.name
    assert pdf.read_bytes().startswith(b"%PDF")
    assert mode(pdf) == 0o600
    assert mode(out) == 0o700 and mode(out.parent) == 0o700  # folders it made
    assert [p for p in tmp_path.rglob("*.pdf") if p.parent != out] == []


def test_export_of_the_code_dotdot_writes_into_its_own_folder(tmp_path):
    db = tmp_path / "r.sqlite"
    _raw_client(db, "..")
    out = tmp_path / "exports" / "here"
    out.mkdir(parents=True)
    sentinel = out.parent / "points.csv"
    sentinel.write_text("mine")
    with Store(db, readonly=True) as store:
        files = export_client(store, "..", out)
    assert sentinel.read_text() == "mine"
    for f in files:
        assert out in f.parents and f.parent.name not in ("", "..", ".")
        assert mode(f) == 0o600
    folder = files[0].parent
    assert folder.parent == out and mode(folder) == 0o700 and mode(folder / "samples") == 0o700


def test_a_10000_character_code_in_report_is_one_short_line(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        store.add_client("C-1")
    assert main(["report", "--client", "x" * 10_000, "--db", str(db), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pointdose: no client 'xxxx") and err.count("\n") == 1 and len(err) < 300


@pytest.mark.parametrize("text", ["..", ".", "", "/etc/passwd", "a/../../b", "CON", "nul.txt", "x" * 500,
                                  "-rf", "a\x00b", "é", "C-0042"])
def test_safe_name_is_a_plain_name_in_the_folder(text, tmp_path):
    name = safe_name(text)
    assert name and name not in (".", "..") and not name.startswith((".", "-"))
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name) and len(name) <= 47
    assert inside(tmp_path, name).parent == tmp_path
    if text == "C-0042":
        assert name == text  # a valid code is its own file name
    with pytest.raises(ValueError):
        inside(tmp_path, "../x")


def test_two_codes_never_share_a_file_name():
    assert safe_name("a/b") != safe_name("a_b") and safe_name("a b") != safe_name("a/b")


def test_private_files_and_folders_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "p" / "q")
        with open_private(folder / "f.txt", "w") as fh:
            fh.write("x")
        write_private(folder / "g.bin", b"y")
        (folder / "h").write_text("0666 first")
        os.chmod(folder / "h", 0o666)
        with open_private(folder / "h", "w") as fh:  # an existing file loses its group/other bits
            fh.write("z")
    finally:
        os.umask(old)
    assert mode(tmp_path / "p") == 0o700 and mode(folder) == 0o700
    assert all(mode(folder / n) == 0o600 for n in ("f.txt", "g.bin", "h"))
    assert sorted(p.name for p in folder.iterdir()) == ["f.txt", "g.bin", "h"]  # no temporary left


def test_calibrations_and_wav_files_are_0600(tmp_path):
    import numpy as np

    from pointdose.calibration import CalibrationRecord, HostCache, Point, SensorConfig, fit_points
    from pointdose.cues.tones import write_wav

    fit = fit_points([Point(1000.0 * f, f) for f in (0, 10, 20, 30)])
    rec = CalibrationRecord.from_fit(fit, device_uid="abc123", config=SensorConfig("hx711"),
                                     reference={"kind": "masses", "unit": "kg"})
    path = HostCache(tmp_path / "cal").save(rec)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(tmp_path / "cal") == 0o700
    assert mode(path.parent / "latest.json") == 0o600
    wav = write_wav(tmp_path / "cues.wav", np.zeros(100))
    assert mode(wav) == 0o600
