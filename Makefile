# The two commands that set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint notebook bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lifecircle demo --out outputs/demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

notebook: $(STAMP)
	$(BIN)/jupyter lab notebooks/walkthrough.ipynb

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet pandana cityseer
	$(BIN)/python benchmarks/bench_routing.py
	$(BIN)/python benchmarks/bench_service_area.py
	$(BIN)/python benchmarks/bench_analyze.py
	$(BIN)/python benchmarks/bench_stages.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_map.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) outputs/demo
