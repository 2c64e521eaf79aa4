# Two commands matter: `make run` and `make test`. Both install what they need into .venv first (`make test` also
# puts checkov into .venv-checkov).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# checkov (tests/foundation/test_checkov.py) gets a virtualenv of its own: its pins conflict with ours (pyproject.toml).
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# jsii warns that Node 20 is end-of-life; it works, and the value names the major version to silence.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Air-gapped provider installs: this machine image carries a terraform filesystem mirror at /opt/tf-plugins; elsewhere
# set MLPLAT_PROVIDER_MIRROR yourself, or leave it empty to install providers from the registry.
MLPLAT_PROVIDER_MIRROR ?= $(firstword $(wildcard /opt/tf-plugins))
export MLPLAT_PROVIDER_MIRROR

.PHONY: run test test-fast bench synth docs tools checkov clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The version is pinned in pyproject.toml's `checkov` dependency group; `--group` installs that group alone.
$(CHECKOV_STAMP): pyproject.toml
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --group pyproject.toml:checkov
	@touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)

# promtool and prometheus (Debian's `prometheus` package) verify dashboards and alert rules.
tools:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus package (promtool) ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null \
	  || { echo "error: promtool is missing and 'apt-get install prometheus' failed; install Debian's prometheus package" >&2; exit 1; }; }

run: $(STAMP)
	$(VENV)/bin/mlplat deploy --local --auto-approve
	$(VENV)/bin/mlplat outputs --local

test: $(STAMP) tools $(CHECKOV_STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m mlplat.bench

synth: $(STAMP)
	$(VENV)/bin/mlplat synth

docs: $(STAMP)
	$(PY) -m mlplat.docs --write README.md

clean:
	rm -rf cdktf.out .mlplat-local .pytest_cache
