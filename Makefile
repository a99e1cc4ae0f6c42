# Two commands on a fresh machine with only Python:
#   make demo   fetch the data, run the quick mnist-mlp study, write REPORT.md
#   make test   run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs

.PHONY: venv demo test gradcheck bench clean

$(BIN)/nnjax: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/nnjax

venv: $(BIN)/nnjax

demo: venv
	$(BIN)/nnjax data fetch mnist
	$(BIN)/nnjax run mnist-mlp --preset quick --out $(OUT)
	$(BIN)/nnjax report --out $(OUT)

test: venv
	$(BIN)/python -m pytest -n 2 -q

gradcheck: venv
	$(BIN)/nnjax gradcheck

bench: venv
	$(BIN)/pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
