# okcore: set up, run and check the workbook.
#
#   make lab      set up .venv and open the workbook in JupyterLab
#   make test     set up .venv and run every check (ruff, unit tests, strict nbval of every notebook)
#   make run      execute every notebook headlessly (copies go to a temporary folder) and time each one
#   make execute  re-execute the notebooks in order and save their outputs in place
#   make bench    run the estimator benchmarks
#   make data     regenerate the cached runs in data/ (long: see data/README.md; FORCE=1 redoes existing files)
#   make book     build the workbook as a static website that reads offline, in build/book
#   make clean    remove caches and build files (make distclean also removes .venv)
#
# Everything is installed into .venv; nothing is installed or registered outside this folder.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
VBIN := $(CURDIR)/$(VENV)/bin
# Commands run with the venv first on PATH, so that kernels, jupyter and subprocesses are the venv's.
VENV_PATH := PATH="$(VBIN):$$PATH"

NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))
START_NOTEBOOK := notebooks/00_start_here.ipynb
NB_TIMEOUT ?= 600
NBVAL_FLAGS := --nbval --nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env
PYTEST_FLAGS := -p no:cacheprovider

.PHONY: help lab run execute test bench data data-copy book clean distclean venv chromium npm

help:
	@sed -n '3,10p' Makefile | sed 's/^#//'

# --- the virtual environment --------------------------------------------------------------------------

# A venv counts as usable once its pip runs. A half-made one (Debian without python3-venv leaves
# .venv/bin/python but no pip) is removed and made again.
$(VENV)/.stamp-venv:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: '$(PYTHON)' not found. Install Python 3.10 or newer (on Debian: apt-get install python3 python3-venv)." >&2; \
	  exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
	  echo "error: okcore needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "       Point make at another interpreter, e.g. make test PYTHON=python3.11" >&2; \
	  exit 1; }
	@if [ -x $(VPY) ] && $(VPY) -m pip --version >/dev/null 2>&1; then \
	  echo "using the existing $(VENV)"; \
	else \
	  rm -rf $(VENV); \
	  echo "creating $(VENV) with $$($(PYTHON) --version 2>&1)"; \
	  if ! $(PYTHON) -m venv $(VENV) || ! $(VPY) -m pip --version >/dev/null 2>&1; then \
	    rm -rf $(VENV); \
	    echo "" >&2; \
	    echo "error: '$(PYTHON) -m venv $(VENV)' failed (usually because ensurepip is missing)." >&2; \
	    echo "       On Debian/Ubuntu: apt-get install python3-venv   (with sudo if you are not root)" >&2; \
	    exit 1; \
	  fi; \
	fi
	@touch $@

venv: $(VENV)/.stamp-venv

# What a reader needs: base requirements + okcore itself (editable, so changes to okcore/ show at once).
$(VENV)/.stamp-base: $(VENV)/.stamp-venv requirements/base.txt pyproject.toml
	$(VPY) -m pip install -r requirements/base.txt
	$(VPY) -m pip install --no-deps -e .
	@touch $@

# What the checks need: test requirements (which include base.txt) + okcore.
$(VENV)/.stamp-test: $(VENV)/.stamp-venv requirements/test.txt requirements/base.txt pyproject.toml
	$(VPY) -m pip install -r requirements/test.txt
	$(VPY) -m pip install --no-deps -e .
	@touch $(VENV)/.stamp-base $@

# --- using the workbook -------------------------------------------------------------------------------

lab: $(VENV)/.stamp-base
	@if [ "$$(id -u)" = 0 ]; then extra=--allow-root; else extra=; fi; \
	$(VENV_PATH) $(VBIN)/jupyter lab $(START_NOTEBOOK) $$extra

# Execute every notebook headlessly. The executed copies go to a temporary folder, so the committed
# notebooks are left as they are. Goes on after a failure and fails at the end.
run: $(VENV)/.stamp-base
	@[ -n "$(strip $(NOTEBOOKS))" ] || { echo "error: no notebooks found in notebooks/" >&2; exit 1; }
	@out=$$(mktemp -d "$${TMPDIR:-/tmp}/okcore-run.XXXXXX"); failed=(); \
	echo "executed copies and logs go to $$out"; \
	for nb in $(NOTEBOOKS); do \
	  start=$$(date +%s%N); \
	  if $(VENV_PATH) $(VBIN)/jupyter nbconvert --to notebook --execute \
	       --ExecutePreprocessor.timeout=$(NB_TIMEOUT) --output-dir "$$out" "$$nb" \
	       >"$$out/$$(basename "$$nb" .ipynb).log" 2>&1; \
	  then status=ok; else status=FAILED; failed+=("$$nb"); fi; \
	  ds=$$(( ($$(date +%s%N) - start) / 100000000 )); \
	  printf '%-45s %-6s %5d.%d s\n' "$$nb" "$$status" $$((ds / 10)) $$((ds % 10)); \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then \
	  echo "failed: $${failed[*]} (see the logs in $$out)" >&2; exit 1; \
	fi

# For maintainers: re-execute the notebooks in order and save the outputs in place (then commit them).
execute: $(VENV)/.stamp-base
	@[ -n "$(strip $(NOTEBOOKS))" ] || { echo "error: no notebooks found in notebooks/" >&2; exit 1; }
	@set -e; for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(VENV_PATH) $(VBIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=$(NB_TIMEOUT) "$$nb"; \
	done

bench: $(VENV)/.stamp-base
	$(VPY) benchmarks/bench_estimators.py

# Cached runs: one process per core, BLAS on one thread each. Files that exist are kept unless FORCE=1.
data: data-copy

data-copy: $(VENV)/.stamp-base
	OPENBLAS_NUM_THREADS=1 $(VPY) -m okcore.experiments copy --jobs 2 $(if $(FORCE),--force)

# --- the book and the student edition ------------------------------------------------------------------

BOOK_DIR := build/book
STUDENT_DIR := student
BOOK_JS := tools/book

# The book's JavaScript (MathJax, require.js, the widget renderer) comes from the npm registry, pinned by
# tools/book/package-lock.json. npm is Node's package manager: on Debian `apt-get install nodejs npm`.
npm:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "error: the book needs npm to install its JavaScript. On Debian/Ubuntu: apt-get install nodejs npm" >&2; \
	  exit 1; }

$(BOOK_JS)/node_modules/.stamp: $(BOOK_JS)/package.json $(BOOK_JS)/package-lock.json | npm
	npm ci --prefix $(BOOK_JS) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Renders the stored outputs of every notebook; executes nothing.
book: $(VENV)/.stamp-base $(BOOK_JS)/node_modules/.stamp
	$(VENV_PATH) $(VPY) tools/book/build.py --out $(BOOK_DIR)

# --- checks -------------------------------------------------------------------------------------------

# The browser test drives Debian's Chromium. As root with apt-get at hand it is installed when missing;
# otherwise the command to install it is printed.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium for the browser test (apt-get install chromium)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	else \
	  echo "error: the browser test needs Chromium: sudo apt-get install chromium" >&2; exit 1; \
	fi

test: $(VENV)/.stamp-test chromium $(BOOK_JS)/node_modules/.stamp
	@echo "== ruff =="
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	@echo "== unit tests =="
	$(VENV_PATH) $(VPY) -m pytest $(PYTEST_FLAGS) tests/
	@echo "== notebooks (strict nbval) =="
	$(VENV_PATH) $(VPY) -m pytest $(PYTEST_FLAGS) $(NBVAL_FLAGS) notebooks/

# --- cleaning -----------------------------------------------------------------------------------------

clean:
	rm -rf build dist $(STUDENT_DIR) *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -print0 \
	  | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) $(BOOK_JS)/node_modules
