# sgdtails: `make book` (set up + execute every chapter + build the HTML book) and `make test`.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROFILE ?= default
# chapters executed at once (python -m sgdtails run --jobs; the same bytes as one at a time): on 2 cores the
# default profile takes 150 s with 2 instead of 234 s with 1
JOBS ?= 2
LOCK    := requirements.lock
LOCKPY  := src/sgdtails/runner/lockfile.py
# pip-tools, for `make lock` only, in a venv of its own made afresh from $(PYTHON) (inside .venv, so git
# ignores it): the project's environment holds exactly what the lock pins. Pinned, so that `make lock` itself
# gives the same lock.
TOOLS     := $(VENV)/lock-tools
PIP_TOOLS := pip-tools==7.7.0 pip==26.3

.PHONY: install lock book notebooks html test lint bench clean

install: $(STAMP)

# The environment is locked. requirements.lock pins every package that `make install` puts in .venv (the
# dependencies and dev extra of pyproject.toml, what they need, and the build backend of the package itself)
# to one version and its SHA-256 hashes. pip installs it with --require-hashes: a file whose hash is not in
# the lock stops the install. Then the package itself, with --no-deps and the locked build backend.
# Platforms: pip-compile resolves for the Python it runs on, so the lock is for CPython 3.11 on Linux x86_64
# (the kind of machine the book is built and published on), and says so in its header. Packages that only
# other platforms need (appnope on macOS, colorama on Windows, ...) are not in it: `make install` stops on
# another platform or Python rather than install something else (environment.yml has the same versions,
# without hashes). torch is locked to 2.13.0+cpu: the CPU wheel that `pip install torch==2.13.0` takes on the
# build machine (it lies in pip's find-links there), with that wheel's hash. Any other torch would be a CUDA
# build of several GB.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || { $(PYTHON) $(LOCKPY) check-target && $(PYTHON) -m venv $(VENV); }
	$(PY) $(LOCKPY) check-target
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Regenerate requirements.lock from pyproject.toml (pip-compile; pins that still satisfy pyproject.toml are
# kept: `make lock UPGRADE=1` takes the newest allowed release of everything), record the platform it is for,
# and write environment.yml from it. tests/test_lock.py fails while pyproject.toml and the lock disagree.
# It refuses to move the lock to another platform or Python unless asked: `make lock RETARGET=1 PYTHON=...`.
lock:
	$(if $(RETARGET),,$(PYTHON) $(LOCKPY) check-target)
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet $(PIP_TOOLS)
	CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS)/bin/pip-compile --no-config --quiet $(if $(UPGRADE),--upgrade) \
	    --extra dev --all-build-deps --allow-unsafe --strip-extras --generate-hashes \
	    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --output-file $(LOCK) pyproject.toml
	$(TOOLS)/bin/python $(LOCKPY) finish

notebooks: $(STAMP)
	$(PY) -m sgdtails run --profile $(PROFILE) --jobs $(JOBS)

html: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

book: notebooks html
	@echo "The book is in _build/html: open _build/html/index.html"

# Two pytest workers (pytest-xdist), a test module on one worker: the smoke book runs beside the unit tests.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks book _ext

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf _build book/*.ipynb .pytest_cache .ruff_cache .hypothesis
