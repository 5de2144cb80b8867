# Two entry points, each creating its own virtual environment (.venv) on first use:
#   make reproduce   the full reproduction on the embedded default (config/config.yaml)
#   make test        lint + the test suite (unit tests, the smoke workflow, failure cases)
VENV   ?= .venv
PYTHON ?= python3
CORES  ?= 2
CONFIG ?= config/config.yaml
BIN    := $(VENV)/bin
RUN    := $(shell sed -n 's/^run_name: *\([A-Za-z0-9_.-]*\).*/\1/p' $(CONFIG))

.PHONY: install reproduce smoke test sanitize lint format clean llamacpp

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

# The default run's measured time is in README: Configs; logs are under logs/<run>/.
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

# ACTSPARSE_REQUIRE_ISAS: fail unless every kernel path this CPU runs passed a test. The
# tests run on $(CORES) workers (pytest-xdist), a file to a worker (tests/conftest.py says
# which go first). The 30 slowest tests are listed at the end (CI must stay under 15 min).
# Then the kernel tests again under the sanitizers.
test: install
	ACTSPARSE_REQUIRE_ISAS=1 $(BIN)/python -m pytest -v --durations=30 \
	  -n $(CORES) --dist loadfile --no-loadscope-reorder
	$(MAKE) sanitize

# The C++ kernels built with AddressSanitizer + UndefinedBehaviorSanitizer (any report
# fails the run) and their tests run under them. Python is not built with ASan, so its
# runtime is preloaded, and libstdc++ with it: ASan must find __cxa_throw to intercept
# it, or the first C++ exception aborts the process. Leak checks are off (Python itself
# keeps its allocations to the end). Every path this CPU runs must pass a test here too.
SANITIZE_LIBS = $(shell $${CXX:-c++} -print-file-name=libasan.so) $(shell $${CXX:-c++} -print-file-name=libstdc++.so)
sanitize: install
	ACTSPARSE_SANITIZE=1 ACTSPARSE_REQUIRE_ISAS=1 ASAN_OPTIONS=detect_leaks=0 \
	LD_PRELOAD="$(SANITIZE_LIBS)" $(BIN)/python -m pytest -q -p no:cacheprovider \
	  -n $(CORES) --dist loadfile -m "not slow" tests/test_kernels.py tests/test_up_screen.py \
	  tests/test_decode.py tests/test_speculative_decode.py tests/test_llama_engine.py

# llama.cpp for the pretrained_decode stage's comparison (optional: without it the stage
# writes our rows and marks llama.cpp's `not run`): llama-cpp-python, pinned by sha256,
# built from source for this CPU's ISA (AMX off) into the cache, once (~15 min per core).
llamacpp: install
	$(BIN)/python -c "from actsparse.inference import llamacpp as L; print(L.ensure(log=L.build_dir().with_suffix('.log')))"

format: install
	$(BIN)/ruff format src workflow/scripts tests
	$(BIN)/snakefmt Snakefile workflow/

clean:
	rm -rf results/smoke logs/smoke benchmarks/smoke .snakemake
