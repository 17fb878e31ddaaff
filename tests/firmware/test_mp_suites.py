"""Each test_* function of the MicroPython test modules in tests/firmware/mp/ becomes one pytest
test, run on the real unix port (one process per module, results parsed from its output)."""
import pytest

from fw_helpers import mp_tests, run_mp_module

MODULES = ["t_frame", "t_clock", "t_hx711", "t_commands", "t_device", "t_features", "t_alloc", "t_board"]
CASES = [(m, t) for m in MODULES for t in mp_tests(m)]


@pytest.mark.parametrize("module,name", CASES, ids=[f"{m}::{t}" for m, t in CASES])
def test_on_unix_port(micropython, module, name):
    res = run_mp_module(micropython, module)
    rc, output = res["__output__"]
    assert name in res, f"{module}.{name} did not report (exit {rc}):\n{output[-3000:]}"
    ok, text = res[name]
    assert ok, text
