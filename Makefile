# citie-terminal: two commands from a fresh clone.
#   make run   set everything up, start the demo platform, run the counter app
#   make test  set everything up, then lint, check the import contracts, type-check and test
#   make test-lowest  the tests again on the lowest version of every direct dependency (CI)
# Setup is idempotent: .venv is (re)installed only when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := terminal scanner sync receipts config loyalty city
# Two workers, each test file on one of them (module fixtures such as a shared platform stay
# in one process): about half the wall time on CI's 2 cores. PYTEST_WORKERS= runs serially.
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: run test test-lowest setup system-libs postgresql lint typecheck bench bench-long clean

run: setup
	@$(BIN)/python -m terminal.demo_run

test: setup
	@$(MAKE) --no-print-directory system-libs postgresql STRICT=1
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy --strict $(addprefix -p ,$(PACKAGES))
	$(BIN)/pytest -q $(PYTEST_WORKERS)

# The lower bounds in pyproject.toml are promises: install the lowest version of every direct
# dependency (uv's lowest-direct resolution) into a venv of its own and run the tests on it.
# The build backend too: the project is built there with the lowest allowed setuptools.
LOWEST := $(VENV)/lowest
test-lowest: setup
	@$(MAKE) --no-print-directory postgresql STRICT=1
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	rm -rf $(LOWEST)
	$(BIN)/uv venv --quiet --python $(BIN)/python $(LOWEST)
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" > $(LOWEST)/build-requires.txt
	VIRTUAL_ENV=$(LOWEST) $(BIN)/uv pip install --quiet --resolution lowest-direct -r $(LOWEST)/build-requires.txt
	VIRTUAL_ENV=$(LOWEST) $(BIN)/uv pip install --quiet --resolution lowest-direct --no-build-isolation -e '.[platform,dev]'
	$(LOWEST)/bin/pytest -q $(PYTEST_WORKERS)

# A counter device needs no database server: PostgreSQL comes only with the tests.
setup: $(STAMP) system-libs

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[platform,dev]'
	@touch $(STAMP)

# libzbar0 backs the pyzbar decoder. Installed with apt-get when running as root;
# otherwise say exactly what to install. STRICT=1 (make test) stops without it.
system-libs: $(STAMP)
	@if ! $(BIN)/python -c "import pyzbar.pyzbar" >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing libzbar0 (QR decoder library) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libzbar0 >/dev/null; \
	  else \
	    echo "citie-terminal: the zbar library is missing. Install it with:"; \
	    echo "    sudo apt-get install --no-install-recommends libzbar0"; \
	    if [ -n "$(STRICT)" ]; then exit 1; fi; \
	    echo "(continuing without the zbar decoder: zxing-cpp still reads codes)"; \
	  fi; \
	fi

# The city platform's tests start their own PostgreSQL server from the Debian package
# (initdb/pg_ctl in a temporary folder). Installed with apt-get when root; otherwise named.
# STRICT=1 (make test) stops without it: no PostgreSQL test is ever skipped.
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing postgresql (the city platform's production database) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	  else \
	    echo "citie-platform: PostgreSQL is missing (the platform tests need it). Install it with:"; \
	    echo "    sudo apt-get install --no-install-recommends postgresql"; \
	    if [ -n "$(STRICT)" ]; then exit 1; fi; \
	  fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy --strict $(addprefix -p ,$(PACKAGES))

# The long runs (a 40-minute soak, a city fleet on PostgreSQL) are `make bench-long`.
BENCH_LONG := bench/soak.py bench/fleet.py

bench: setup
	@for script in $(filter-out $(BENCH_LONG),$(wildcard bench/*.py)); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

bench-long: setup
	@$(MAKE) --no-print-directory system-libs postgresql STRICT=1
	@for script in $(BENCH_LONG); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
