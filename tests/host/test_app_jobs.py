"""The app's Report PDF / Export CSV buttons, without DearPyGui: pointdose.app.jobs off the render thread."""

from __future__ import annotations

import csv
import threading

import pytest

from pointdose.app.jobs import Job, write_export, write_report
from pointdose.errors import UserError
from pointdose.records import Store
from pointdose.records.demo import make_demo


@pytest.fixture()
def demo_db(tmp_path):
    db = tmp_path / "records.sqlite"
    with Store(db) as store:
        make_demo(store, "DEMO-01", sessions=2)
        sessions = store.sessions(store.client("DEMO-01")["id"])
    return db, sessions


def test_a_report_job_writes_the_pdf_in_the_background_with_progress_and_the_path(tmp_path, demo_db):
    db, sessions = demo_db
    seen = []
    job = Job("Report", lambda progress: write_report(db, sessions[-1]["id"], tmp_path / "out",
                                                      lambda d, t: (seen.append((d, t)), progress(d, t))))
    assert job.status().running and job.status().ok is None
    status = job.start().wait(60)
    assert job.done.is_set() and not status.running and status.ok, status
    pdf = next((tmp_path / "out").glob("*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")
    assert status.line == f"report written to {pdf}" and status.fraction == 1.0
    assert pdf.name.startswith(f"pointdose-DEMO-01-session{sessions[-1]['id']}-")  # the CLI's name
    # one progress step per application, in order, ending at the total
    assert seen and seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == list(range(1, len(seen) + 1))


def test_an_export_job_writes_the_csv_folder_and_counts_the_samples(tmp_path, demo_db):
    db, _ = demo_db
    seen = []
    job = Job("Export", lambda progress: write_export(db, "DEMO-01", tmp_path / "out",
                                                      lambda d, t: (seen.append((d, t)), progress(d, t)))).start()
    status = job.wait(60)
    assert status.ok, status
    folder = tmp_path / "out" / "DEMO-01"
    rows = list(csv.DictReader((folder / "points.csv").open()))
    assert rows and all(r["application_id"] and r["point"] for r in rows)
    samples = sorted((folder / "samples").glob("app-*.csv"))
    assert len(samples) == len(rows)
    assert status.line == f"exported DEMO-01: {1 + len(samples)} files in {folder}"
    assert seen[-1][0] == seen[-1][1] > 0 and all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_a_failure_is_one_line_in_the_status_not_an_exception(tmp_path, demo_db):
    db, _ = demo_db
    status = Job("Export", lambda p: write_export(db, "NOBODY", tmp_path / "out", p)).start().wait(30)
    assert status.ok is False and not status.running and "NOBODY" in status.line and "\n" not in status.line
    missing = Job("Report", lambda p: write_report(tmp_path / "none.sqlite", 1, tmp_path, p)).start().wait(30)
    assert missing.ok is False and "no records database" in missing.line
    # an unexpected error: "<what> failed: …", still one line
    boom = Job("Report", lambda p: (_ for _ in ()).throw(RuntimeError("disk\nfull"))).start().wait(30)
    assert boom.ok is False and boom.line == "Report failed: disk full"


def test_the_render_thread_reads_progress_while_the_job_runs():
    gate, step = threading.Event(), threading.Event()

    def work(progress):
        progress(1, 4)
        step.set()
        gate.wait(30)  # held until the test has looked
        progress(4, 4)
        return "done"

    job = Job("Export", work).start()
    assert step.wait(30)
    middle = job.status()
    assert middle.running and middle.fraction == 0.25 and middle.line == "Export… 1 of 4"
    gate.set()
    end = job.wait(30)
    assert end.ok and end.line == "done" and end.fraction == 1.0


def test_a_user_error_keeps_its_own_words(tmp_path):
    def work(progress):
        raise UserError("cannot write the report /x.pdf (read-only): choose another place")

    status = Job("Report", work).start().wait(30)
    assert status.line == "cannot write the report /x.pdf (read-only): choose another place"
