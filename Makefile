# Two entry points for a fresh Linux machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench sim clean

PICO_JS := host/pointdose/sim/pico

$(STAMP): pyproject.toml $(PICO_JS)/package-lock.json
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,pico]'
	@# The emulated Pico (pointdose sim --board pico, tests/board, make bench) runs in node with the
	@# rp2040js pinned by package-lock.json; without node those are skipped and everything else works.
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(PICO_JS) --no-audit --no-fund --loglevel=error \
			|| echo "npm ci failed: the emulated Pico is unavailable (everything else works)"; \
	else \
		echo "node/npm not found: the emulated Pico is unavailable (apt-get install nodejs npm)"; \
	fi
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pointdose app

sim: $(STAMP)
	$(BIN)/pointdose sim

# The GUI tests need an X display: run the whole suite under xvfb-run when there is none.
# Two workers, a test file per worker at a time (--dist loadfile): the LSL tests of one file never
# see another file's streams, and each worker's PostgreSQL tests share that worker's cluster.
PYTEST := $(BIN)/python -m pytest -n 2 --dist loadfile
test: $(STAMP)
	@if [ -z "$$DISPLAY" ] && command -v xvfb-run >/dev/null; then \
		xvfb-run -a -s "-screen 0 1280x800x24" $(PYTEST); \
	else \
		$(PYTEST); \
	fi

bench: $(STAMP)
	@if [ -z "$$DISPLAY" ] && command -v xvfb-run >/dev/null; then \
		xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/python -m bench; \
	else \
		$(BIN)/python -m bench; \
	fi

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache $(PICO_JS)/node_modules
