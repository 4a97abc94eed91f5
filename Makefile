# teampulse: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := plugins/teampulse-jira plugins/teampulse-calendar plugins/teampulse-survey plugins/teampulse-notifiers \
  plugins/teampulse-demo
# Not part of teampulse, but what its demo, tests and benchmarks run against.
TOOLS := tools/jira-emulator
# Built from `teampulse plugins new` (docs/writing-a-plugin.md): tested here, never deployed.
EXAMPLES := examples/teampulse-oncall-rota
STAMP := $(VENV)/.installed

.PHONY: demo demo-stack test lint typecheck unit bench eval fuzz system-deps install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml $(foreach p,$(PLUGINS) $(TOOLS) $(EXAMPLES),$(p)/pyproject.toml)
	# caldav 3 brings urllib3-future, which would replace the urllib3 that requests and jira
	# use; built from source with this switch it installs beside it instead (plugins/teampulse-calendar/README.md).
	URLLIB3_NO_OVERRIDE=1 $(BIN)/pip install -q --no-binary=urllib3-future urllib3-future urllib3
	# setuptools' notice on every editable install is not news; pip's own warnings still show.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q -e '.[test]' -e 'plugins/teampulse-calendar[caldav,test]' \
	  -e 'plugins/teampulse-survey[test]' -e 'plugins/teampulse-jira[test]' -e plugins/teampulse-notifiers \
	  -e tools/jira-emulator -e plugins/teampulse-demo -e examples/teampulse-oncall-rota
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/teampulse demo

# The demo with Prometheus (the shipped rules) and Alertmanager beside it.
demo-stack: install system-deps
	$(BIN)/python dashboards/demo_stack.py

# Prometheus, promtool, Alertmanager, headless Chromium, and the tools the deploy/ tests run
# (systemd-analyze, sqlite3, openssl) from the OS packages, where missing.
system-deps:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
	    || ! command -v prometheus-alertmanager >/dev/null || ! command -v chromium-headless-shell >/dev/null \
	    || ! command -v systemd-analyze >/dev/null || ! command -v sqlite3 >/dev/null || ! command -v openssl >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends prometheus prometheus-alertmanager chromium-headless-shell \
	    systemd sqlite3 openssl >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy teampulse dashboards $(foreach p,$(PLUGINS),$(p)/$(subst -,_,$(notdir $(p)))) \
	  tools/jira-emulator/teampulse_jira_emulator

unit: install
	$(BIN)/pytest -q -p no:cacheprovider

test: install system-deps lint typecheck unit

# One table of every case against its reference and target; bench/results.json holds the rows.
# BENCH_ARGS=--quick for small sizes (python -m bench.run --help lists the rest).
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Replay generated organisations every day over 60 days and measure the alerts (docs/signals.md).
eval: install
	$(BIN)/python bench/eval_detector.py

# The fuzz tests' long form: N inputs per target (default 5000), with the tried / failed /
# slowest figures printed. `make test` runs their fast form.
FUZZ_EXAMPLES ?= 5000
# One pytest process per target: the figures of one never depend on what another left behind.
FUZZ_TARGETS := \
  plugins/teampulse-calendar/tests/test_calendar_fuzz.py::test_fuzzed_calendars_never_raise_and_problems_name_the_file \
  plugins/teampulse-survey/tests/test_survey_fuzz.py plugins/teampulse-jira/tests/test_jira_fuzz.py \
  tests/test_fuzz_server.py::test_fuzz_actions tests/test_fuzz_server.py::test_fuzz_webhooks \
  tests/test_fuzz_server.py::test_fuzz_web_config \
  tests/test_fuzz_config.py::test_fuzz_config tests/test_fuzz_config.py::test_fuzz_config_text
fuzz: install
	@failed=0; for target in $(FUZZ_TARGETS); do \
	  TEAMPULSE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -s -p no:cacheprovider $$target || failed=1; \
	done; exit $$failed

clean:
	rm -rf $(VENV) build *.egg-info
