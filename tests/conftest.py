"""Every test keeps its records, calibrations and points in its own folder, never the user's."""

import pytest


@pytest.fixture(autouse=True)
def _private_user_data(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.setenv("POINTDOSE_DB", str(home / "records.sqlite"))
