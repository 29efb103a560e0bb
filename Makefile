# make demo: set up, then compare active-learning strategies on the embedded digits.
# make test: set up, then run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of torch, pinned here only (the package itself asks for a range). A user with a GPU
# installs their own CUDA build of torch first; `make setup` then keeps it.
TORCH_PIN ?= torch==2.13.0

.PHONY: setup demo test bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_PIN)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: setup
	$(BIN)/winnow al --data digits --initial 30 --budget 30 --cycles 6 --trials 3 \
		--strategy random,margin,hybrid --out runs/demo --force

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/train_speed.py
