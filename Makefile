# hwlib: the two commands are `make book` (set up + build the book) and `make test`.
SHELL := /bin/bash
PY    ?= python3
VENV  ?= .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= full
JB_FLAGS ?= -n -W --keep-going

.PHONY: lock setup book report html pdf publish test-tools reproduce audit test test-fast bench clean clean-notebooks data-check

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found (hwlib needs Python 3.11 to 3.13)"; exit 1; }
	@$(PY) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' || { echo "error: $(PY) is Python $$($(PY) -c 'import platform; print(platform.python_version())'); hwlib needs 3.11 to 3.13: make PY=python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

data-check: setup
	$(BIN)/hwlib data check

# Execute the stale chapters (papermill, profile $(PROFILE): those whose code cells, parameters,
# hwlib code, read run-store entries or datasets changed since their recorded digest; none on a
# fresh clone, so no data is needed) from the run store, training only what is missing, then
# build the HTML book. (`report` below, run without its --force.)
book: REPORT_FLAGS :=
book: setup report html

# Execute every chapter, stale or not (`hwlib report --force`); `hwlib report --check` lists the stale ones.
REPORT_FLAGS ?= --force
report: setup
	$(BIN)/hwlib report $(REPORT_FLAGS) --profile $(PROFILE)

# The HTML links the PDF (and copies it in) only when `make pdf` has built it.
html: setup
	$(BIN)/jupyter-book build book/ $(JB_FLAGS)

# The PDF, then the HTML again, which now links it and holds a copy (book/_ext/hwlib_book.py).
pdf: setup
	bash scripts/install-tex.sh
	$(BIN)/jupyter-book build book/ --builder pdflatex $(JB_FLAGS)
	$(BIN)/jupyter-book build book/ $(JB_FLAGS)

# The HTML book with its PDF, pushed to the gh-pages branch (the Pages workflow does the same on CI).
publish: html pdf
	$(BIN)/ghp-import -n -p -f book/_build/html

# Retrain the whole study the book uses (both variants, every seed, the sensitivity runs)
# from scratch, on every core; it prints its estimated time first and the measured one last.
reproduce: setup
	$(BIN)/hwlib reproduce --study --force

# Retrain the quickest stored runs into a temporary store and check they are bit-identical.
AUDIT_SAMPLE ?= 3
audit: setup
	$(BIN)/hwlib audit --sample $(AUDIT_SAMPLE)

# Unit, integration and notebook tests; then nbval re-executes the committed chapters from
# the committed run store (never training: HWLIB_NO_TRAIN=1) and checks their key numbers.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
	HWLIB_NO_TRAIN=1 $(BIN)/python -m pytest --nbval-lax book/

test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/python benchmarks/bench.py

clean-notebooks: setup
	$(BIN)/jupyter nbconvert --clear-output --inplace book/*.ipynb

clean:
	rm -rf book/_build

# Refresh constraints.txt (the exact versions tested) from the current venv.
lock:
	{ echo "# Exact versions tested (Python $$($(BIN)/python -c 'import platform; print(platform.python_version())'), x86_64 Linux). Regenerate with \`make lock\`."; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

# Tools the browser and PDF tests need beyond the venv: Debian's chromium and TeX
# (actionlint and MathJax come with the venv, from PyPI).
test-tools:
	bash scripts/install-browser.sh
	bash scripts/install-tex.sh
