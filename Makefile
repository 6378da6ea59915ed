# The two set-up commands (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: demo test bench lint clean

$(BIN)/dossier: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# Start the service on the embedded SQLite default, with demo data loaded once.
demo: $(BIN)/dossier
	$(BIN)/dossier demo --serve --port $(PORT)

# Lint and run the whole test suite (PostgreSQL tests skip when no server answers).
test: $(BIN)/dossier
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The benchmark: floors, service, reads as the store grows, rebuild; SQLite and PostgreSQL.
# `make bench BENCH_ARGS=--quick` for a small run (see docs/performance.md).
bench: $(BIN)/dossier
	$(BIN)/dossier bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis
