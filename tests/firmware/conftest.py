import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fw_helpers import require_micropython  # noqa: E402


@pytest.fixture(scope="session")
def micropython():
    return require_micropython()
