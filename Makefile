# Two commands matter: `make demo` and `make test`. Both set everything up themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.watui-installed

.PHONY: demo test lint docs unit e2e bench screenshots setup browser test-tools clean

setup: $(STAMP) browser

$(STAMP): pyproject.toml
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "watui: Python 3.11 or newer is needed (python3 is $$(python3 --version 2>&1))" >&2; exit 1; }
	@python3 -m venv $(VENV) || \
		{ echo "watui: 'python3 -m venv' failed: install it with 'sudo apt-get install python3-venv'" >&2; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# A browser: Playwright's own Chromium or Debian's chromium, and Debian's chromium-headless-shell where we may.
browser: $(STAMP)
	@PYTHON=$(PY) sh scripts/install-browser.sh

demo: setup
	$(VENV)/bin/watui --demo

lint: $(STAMP)
	$(VENV)/bin/ruff check watui tests bench docs examples scripts
	$(VENV)/bin/ruff format --check watui tests bench examples scripts docs/hooks.py
	$(VENV)/bin/lint-imports --no-cache --no-logo  # the import contracts in pyproject.toml
	$(VENV)/bin/mypy

# What the tests drive besides the browser (age, tmux), installed from Debian where we may.
test-tools:
	@sh scripts/install-test-tools.sh

# The docs site into site/; --strict fails on a broken link or anchor, or a reference page the code
# cannot generate (docs/hooks.py).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Two workers: most of a browser test is waiting, so two halve the wall time on a 2-core machine.
test: setup test-tools lint docs
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

bench: setup
	$(PY) bench/run.py

screenshots: setup
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
