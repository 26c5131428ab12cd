# spikewire: two entry points. `make demo` runs the main job, `make test` the test suite.
# Both create their own virtual environment in .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.installed-core
STAMP  := $(VENV)/.installed
ML     := $(VENV)/.installed-ml

.PHONY: demo test venv lint clean sysdeps

# spikewire and its required dependencies: all the demo needs
$(CORE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(CORE)

# the extras the test suite exercises (reference tools, NWB, calcium, NEST, cluster runners)
$(STAMP): $(CORE)
	$(BIN)/pip install --quiet -e ".[dev,calcium,dask,nest]"
	touch $(STAMP)

# the learned methods' optional extra (torch==2.13.0, CPU build); the test suite needs it
$(ML): $(STAMP)
	$(BIN)/pip install --quiet -e ".[ml]"
	touch $(ML)

venv: $(STAMP)

demo: $(CORE)
	$(BIN)/spikewire demo

test: $(STAMP) $(ML) sysdeps
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Headless Chromium renders the HTML report in a test; installed from Debian when we are root.
sysdeps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the browser rendering test will be skipped"; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
