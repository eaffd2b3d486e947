# Two commands on a fresh machine: `make demo` (the flagship run) and `make test`.
# Each creates the virtual environment it needs; nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast bench llama clean

# llama-cpp-python first, built portably (no -march=native, no AVX-512/AMX) into twin's own
# wheel cache, so that neither a CPU the VM forbids nor a native wheel in pip's cache can
# reach this venv; then twin, which finds that requirement already satisfied.
# TWIN_LLAMA_CMAKE_ARGS=-DGGML_NATIVE=ON asks for a native build instead (see README).
$(BIN)/.installed: pyproject.toml twin/llama_setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python twin/llama_setup.py
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

# rebuild the local model back-end (e.g. after changing TWIN_LLAMA_CMAKE_ARGS)
llama: $(BIN)/.installed
	$(BIN)/python twin/llama_setup.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs out
