# Two commands on a fresh machine: `make demo` (the flagship run) and `make test`.
# Each creates the virtual environment it needs; nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast bench lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[test,rl]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/twin demo

test: $(BIN)/.installed
	$(BIN)/pytest --runslow

test-fast: $(BIN)/.installed
	$(BIN)/pytest

bench: $(BIN)/.installed
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs out
