# make demo: set up, then compare active-learning strategies on the embedded digits.
# make test: set up, then run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of torch, pinned here only (the package itself asks for a range). A user with a GPU
# installs their own CUDA build of torch first; `make setup` then keeps it.
TORCH_PIN ?= torch==2.13.0

# The browser tests (tests/test_report_browser.py) open reports in Debian's headless chromium;
# `make test` installs it with apt-get when it is missing (about 30 s; as root, else with sudo).
SUDO := $(shell test "$$(id -u)" -eq 0 || echo sudo)

.PHONY: setup chromium demo test bench

setup: $(VENV)/.installed

chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  (command -v apt-get >/dev/null && $(SUDO) apt-get update && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium) || \
	  (echo "make setup: install chromium (Debian: apt-get install chromium) for the browser tests" >&2; exit 1)

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_PIN)"
	$(BIN)/pip install --quiet -e ".[test,classic,ray]"
	touch $@

demo: setup
	$(BIN)/winnow al --data digits --initial 30 --budget 30 --cycles 6 --trials 3 \
		--strategy random,margin,hybrid --out runs/demo --force

test: setup chromium
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/train_speed.py
