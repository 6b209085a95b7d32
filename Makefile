# okcore: set up, run and check the workbook.
#
#   make lab        set up .venv and start JupyterLab; it prints the address to open (no browser opens
#                   by itself on a machine without a display)
#   make test       set up .venv and run every check: ruff, unit tests, strict nbval of every notebook and a
#                   browser test in headless Chromium (run as root, it installs Chromium with apt-get if missing)
#   make run        execute every notebook headlessly in a temporary folder, time each one and the total
#   make execute    re-execute the notebooks in order and save their outputs in place
#   make bench      run the estimator benchmarks
#   make data       regenerate the cached runs in data/ (long: see data/README.md; FORCE=1 redoes existing files)
#   make data-costs regenerate data/costs/costs.json and noise.json, the costs per step notebook 12 reads (minutes;
#                   the timing waits for a 1-minute load average below 0.7, up to 30 minutes)
#   make book       build the workbook as a static website that reads offline, in build/book
#   make student    write the student edition (reference solutions removed) of the notebooks, in student/
#   make clean      remove caches and build files (make distclean also removes .venv)
#
# Everything is installed into .venv; nothing is installed or registered outside this folder (except Chromium,
# which make test installs system-wide with apt-get when run as root and it is missing).

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
PYTEST_FLAGS := -p no:cacheprovider --durations=15

.PHONY: help lab run execute test bench data data-copy data-text data-costs book student clean distclean venv chromium npm

help:
	@sed -n '3,17p' Makefile | sed 's/^#//'

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

# What a reader needs: base requirements + okcore itself (editable, so changes to okcore/ show at once), in one
# pip run (okcore's own dependencies are among the pinned requirements, so nothing else comes in).
PIP_INSTALL := $(VPY) -m pip install --progress-bar off
$(VENV)/.stamp-base: $(VENV)/.stamp-venv requirements/base.txt pyproject.toml
	$(PIP_INSTALL) -r requirements/base.txt -e .
	@touch $@

# What the checks need: test requirements (which include base.txt) + okcore.
$(VENV)/.stamp-test: $(VENV)/.stamp-venv requirements/test.txt requirements/base.txt pyproject.toml
	$(PIP_INSTALL) -r requirements/test.txt -e .
	@touch $(VENV)/.stamp-base $@

# --- using the workbook -------------------------------------------------------------------------------

# The address of the start notebook on the newest Jupyter server serving this folder (read from `jupyter server list --json`).
define LAB_URL
import json, os, sys
root, start = sys.argv[1], sys.argv[2]
servers = [json.loads(line) for line in sys.stdin if line.strip()]
ours = [s for s in servers if os.path.realpath(s.get("root_dir", "")).startswith(os.path.realpath(root))]
if ours:
    s = max(ours, key=lambda s: s.get("pid", 0))
    path = os.path.relpath(os.path.join(root, start), s["root_dir"])
    token = "?token=" + s["token"] if s.get("token") else ""
    print(s["url"].rstrip("/") + "/lab/tree/" + path + token)
endef
export LAB_URL

# JupyterLab prints its address among many log lines; a background loop waits for the server to answer and then
# prints the address again, plainly, with a word on headless machines (where no browser can open).
lab: $(VENV)/.stamp-base
	@if [ "$$(id -u)" = 0 ]; then extra=--allow-root; else extra=; fi; \
	( for i in $$(seq 1 120); do \
	    sleep 1; \
	    url=$$($(VENV_PATH) $(VBIN)/jupyter server list --json 2>/dev/null | $(VPY) -c "$$LAB_URL" "$(CURDIR)" "$(START_NOTEBOOK)"); \
	    if [ -n "$$url" ]; then \
	      echo ""; \
	      echo "== JupyterLab is running. Open this address in a browser:"; \
	      echo "==   $$url"; \
	      echo "== (on a machine without a display no browser opens by itself: open the address on your"; \
	      port=$$(echo "$$url" | sed -E 's#^https?://[^/]*:([0-9]+)/.*#\1#'); \
	      echo "==  own computer, through an SSH tunnel if needed: ssh -L $$port:localhost:$$port this-machine)"; \
	      echo "== Stop the server with Ctrl-C."; \
	      echo ""; \
	      break; \
	    fi; \
	  done ) & \
	$(VENV_PATH) $(VBIN)/jupyter lab $(START_NOTEBOOK) $$extra

# Execute every notebook headlessly, with the executor the tests use (tools/execute.py, nbclient). The executed
# copies go to a temporary folder, so the committed notebooks are left as they are. Goes on after a failure and
# fails at the end; the folder is removed when everything passed and kept (with its logs) otherwise.
run: $(VENV)/.stamp-base
	@[ -n "$(strip $(NOTEBOOKS))" ] || { echo "error: no notebooks found in notebooks/" >&2; exit 1; }
	@out=$$(mktemp -d "$${TMPDIR:-/tmp}/okcore-run.XXXXXX"); \
	echo "executed copies and logs go to $$out"; \
	if $(VENV_PATH) $(VPY) tools/execute.py --keep-going --timeout $(NB_TIMEOUT) --output-dir "$$out" $(NOTEBOOKS); \
	then rm -rf "$$out"; echo "all notebooks ran; removed $$out"; \
	else echo "the executed copies and logs are kept in $$out" >&2; exit 1; fi

# For maintainers: re-execute the notebooks in order and save the outputs in place (then commit them).
execute: $(VENV)/.stamp-base
	@[ -n "$(strip $(NOTEBOOKS))" ] || { echo "error: no notebooks found in notebooks/" >&2; exit 1; }
	$(VENV_PATH) $(VPY) tools/execute.py --inplace --timeout $(NB_TIMEOUT) $(NOTEBOOKS)

bench: $(VENV)/.stamp-base
	$(VPY) benchmarks/bench_estimators.py

# Cached runs: one process per core, BLAS on one thread each. Files that exist are kept unless FORCE=1.
data: data-copy data-text data-costs

# The grid of notebook 12: every estimator, n = 16 … 128, r = 1, 2, 4, 8, batch 1 and 16, BLAS on one thread.
data-costs: $(VENV)/.stamp-base
	$(VPY) -m okcore.costs --n 16 24 32 48 64 96 128 --repeats 9 --min-time 0.01 --max-load 0.7 --out data/costs/costs.json
	$(VPY) -m okcore.costs --noise --n 32 128 --ranks 2 8 --out data/costs/noise.json

# Every file notebook 10 reads (data/copy); SCHEDULER=tcp://HOST:8786 sends the runs to a Dask cluster instead.
data-copy: $(VENV)/.stamp-base
	OPENBLAS_NUM_THREADS=1 $(VPY) -m okcore.experiments copy $(if $(SCHEDULER),--scheduler $(SCHEDULER),--jobs 2) $(if $(FORCE),--force)

data-text: $(VENV)/.stamp-base
	OPENBLAS_NUM_THREADS=1 $(VPY) -m okcore.experiments text --jobs 1 $(if $(FORCE),--force)

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

# A copy of the notebooks without the cells tagged `solution` and without outputs (tools/student.py says what else),
# beside notebooks/ so that the notebooks' relative paths still hold.
student: $(VENV)/.stamp-base
	$(VENV_PATH) $(VPY) tools/student.py --out $(STUDENT_DIR) $(NOTEBOOKS)

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

# The unit tests and strict nbval of every notebook run in one pytest session spread over every core
# (pytest-xdist; TEST_JOBS=0 runs them in one process). Each notebook's cells stay together in one process
# (the scheduler in conftest.py). BLAS runs one thread per process: the processes already fill
# the cores, and more threads would only fight over them, which makes small matrix products many times slower.
TEST_JOBS ?= auto
TEST_ENV := $(VENV_PATH) OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

test: $(VENV)/.stamp-test chromium $(BOOK_JS)/node_modules/.stamp
	@echo "== ruff =="
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	@echo "== unit tests and notebooks (strict nbval) =="
	$(TEST_ENV) $(VPY) -m pytest $(PYTEST_FLAGS) -n $(TEST_JOBS) $(NBVAL_FLAGS) tests/ notebooks/

# --- cleaning -----------------------------------------------------------------------------------------

clean:
	rm -rf build dist $(STUDENT_DIR) *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -print0 \
	  | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) $(BOOK_JS)/node_modules
