# The two commands of the quick start, and the benchmark. Each creates .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint typecheck clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	@mkdir -p out
	@rm -f out/state.db out/state.db-wal out/state.db-shm out/digest.html out/digest.txt
	$(BIN)/clientline lint examples/calendar.ics examples/mailbox.mbox \
		--config examples/clientline.yaml --exit-zero
	$(BIN)/clientline lint examples/calendar.ics examples/mailbox.mbox \
		--config examples/clientline.yaml --format json --exit-zero > out/findings.json
	@# one worker cycle: state in out/state.db, the digest written by the file transport
	$(BIN)/clientline run --config examples/clientline.yaml || test $$? -eq 1
	@echo "wrote out/findings.json, out/state.db, out/digest.html and out/digest.txt"

lint: $(STAMP)
	$(BIN)/ruff check linter tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/google_api.py

clean:
	rm -rf $(VENV) out bench/out .pytest_cache .mypy_cache .ruff_cache
