"""``make bench``: run every benchmark and print its figures as ``name: value unit``.

Each ``bench/bench_*.py`` exposes ``run() -> list[(name, value, unit)]``. Figures are medians
over repeated runs where a module says so; the machine is shared, so compare ratios, not the
third digit. ``python -m bench decode latency`` runs only the named ones.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

ORDER = ["firmware", "pico", "decode", "latency", "gui", "storage", "pg", "lsl"]


def main(argv: list[str]) -> int:
    names = argv or ORDER
    failed = 0
    for name in names:
        t0 = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            for label, value, unit in module.run():
                print(f"  {label}: {value:,.6g} {unit}", flush=True)
        except Exception:  # a broken benchmark should not hide the others' figures
            failed += 1
            traceback.print_exc()
        print(f"  ({time.monotonic() - t0:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
