# teampulse: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := plugins/teampulse-jira plugins/teampulse-survey plugins/teampulse-notifiers
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench system-deps install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml $(foreach p,$(PLUGINS),$(p)/pyproject.toml)
	$(BIN)/pip install -q -e '.[test]' $(foreach p,$(PLUGINS),-e $(p))
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/teampulse demo

# Prometheus, promtool, Alertmanager and headless Chromium from the OS packages, where missing.
system-deps:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
	    || ! command -v prometheus-alertmanager >/dev/null || ! command -v chromium-headless-shell >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends prometheus prometheus-alertmanager chromium-headless-shell >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy teampulse dashboards $(foreach p,$(PLUGINS),$(p)/$(subst -,_,$(notdir $(p))))

unit: install
	$(BIN)/pytest -q -p no:cacheprovider

test: install system-deps lint typecheck unit

bench: install
	$(BIN)/python bench/jira_sync.py

clean:
	rm -rf $(VENV) build *.egg-info
