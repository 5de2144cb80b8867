# Two entry points, each creating its own virtual environment (.venv) on first use:
#   make reproduce   the full reproduction on the embedded default (config/config.yaml)
#   make test        lint + the test suite (unit tests, the smoke workflow, failure cases)
VENV   ?= .venv
PYTHON ?= python3
CORES  ?= 2
CONFIG ?= config/config.yaml
BIN    := $(VENV)/bin
RUN    := $(shell sed -n 's/^run_name: *\([A-Za-z0-9_.-]*\).*/\1/p' $(CONFIG))

.PHONY: install reproduce smoke test lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

# The default run takes about an hour on 2 cores; everything is logged under logs/<run>/.
# Then the self-contained HTML report (every figure with its caption, offline).
reproduce: install
	$(BIN)/snakemake --workflow-profile workflow/profiles/default --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/$(RUN)/report.html

smoke: install
	$(BIN)/snakemake --cores $(CORES) --configfile config/smoke.yaml

lint: install
	$(BIN)/ruff check src workflow/scripts tests
	$(BIN)/ruff format --check src workflow/scripts tests
	$(BIN)/snakefmt --check Snakefile workflow/

test: install
	$(BIN)/python -m pytest -v

format: install
	$(BIN)/ruff format src workflow/scripts tests
	$(BIN)/snakefmt Snakefile workflow/

clean:
	rm -rf results/smoke logs/smoke benchmarks/smoke .snakemake
