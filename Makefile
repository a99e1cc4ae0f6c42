# Two commands on a fresh machine with only Python:
#   make demo   fetch the data, run the quick mnist-mlp study, write REPORT.md
#   make test   run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs

.PHONY: venv demo test gradcheck docs bench clean

$(BIN)/nnjax: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(BIN)/nnjax

venv: $(BIN)/nnjax

# What the tests import (the `test` extra), with CI's PyTorch pinned: the reference the
# conv layers and the optimiser are cross-checked against, and a benchmark contender;
# nnjax itself never imports it.
$(VENV)/.torch: $(BIN)/nnjax
	$(BIN)/pip install --quiet -e '.[test]' 'torch==2.13.0'
	touch $@

demo: venv
	$(BIN)/nnjax data fetch mnist
	$(BIN)/nnjax run mnist-mlp --preset quick --out $(OUT)
	$(BIN)/nnjax report --out $(OUT)

test: venv $(VENV)/.torch
	$(BIN)/python -m pytest -n 2 -q

gradcheck: venv
	$(BIN)/nnjax gradcheck

# The README's wrong-Swish example: its diagnosis text and docs/figures/swish_wrong.png.
docs: venv
	$(BIN)/python docs/gradcheck_example.py

bench: venv $(VENV)/.torch
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
