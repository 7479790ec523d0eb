# sgdtails: `make book` (set up + execute every chapter + build the HTML book) and `make test`.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROFILE ?= default

.PHONY: install book notebooks html test lint bench clean

install: $(STAMP)

# torch is pinned to 2.13.0 and installed first: that pin takes the CPU wheel; any other spec may pull CUDA.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

notebooks: $(STAMP)
	$(PY) -m sgdtails run --profile $(PROFILE)

html: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

book: notebooks html
	@echo "The book is in _build/html: open _build/html/index.html"

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks book _ext

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf _build book/*.ipynb .pytest_cache .ruff_cache .hypothesis
