# 客服制度手册 / Service Handbook. `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
export NO_MKDOCS_2_WARNING := 1
# Debian's own python3 is built with profile-guided and link-time optimisation; pyenv and other source
# builds are not, by default. WeasyPrint (pure Python) renders the forms about a fifth faster on Debian's
# (measured side by side against pyenv's 3.11.7), so the virtualenv is made from it when it is 3.11+.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: install site check run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install-debian-packages.sh
	@scripts/install-debian-packages.sh
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print(sys.base_prefix)')" \
		!= "$$($(PYTHON) -c 'import sys; print(sys.base_prefix)')" ]; then \
		echo "==> $(VENV) was made from another Python: making it again from $(PYTHON)"; rm -rf $(VENV); fi
	@echo "==> Creating the virtualenv in $(VENV) from $(PYTHON) and installing the project"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/pip install -q -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -c "import handbook, mkdocs, material, jieba, weasyprint, playwright" \
		|| { echo "Python packages are missing: see the pip output above"; exit 1; }
	@touch $(STAMP)

check: install
	@echo "==> Checking the regulations and forms (handbook check)"
	@$(BIN)/handbook check

site: check
	@echo "==> Building the handbook into site/"
	@$(BIN)/mkdocs build --strict

run: site
	@echo "==> Preparing the form server's database (SQLite under instance/ unless DATABASE_URL is set)"
	@$(BIN)/flask --app formserver db-upgrade
	@$(BIN)/flask --app formserver status
	@echo "==> Serving the form server on http://127.0.0.1:$(PORT)/ and the handbook on http://127.0.0.1:$(PORT)/handbook/,"
	@echo "    with the notification worker beside it (Ctrl-C stops both)"
	@scripts/serve.sh $(PORT) $(BIN)

test: install
	@echo "==> Linting (ruff)"
	@$(BIN)/ruff check handbook formserver tests
	@echo "==> Running the tests (pytest)"
	@$(BIN)/pytest

bench: install
	@echo "==> Benchmarks"
	@$(BIN)/python -m tests.bench
	@$(BIN)/python -m tests.bench_pdf
	@$(BIN)/python -m tests.bench_server
	@$(BIN)/python -m tests.bench_notify
	@$(BIN)/python -m tests.bench_offline

clean:
	rm -rf site .pytest_cache .ruff_cache
