# Two commands matter: `make run` and `make test`. Both install what they need first: Python packages into .venv,
# Node 22 and the cdktn CLI into .tools (for `cdktn synth`), checkov into .venv-checkov (for the tests).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# checkov (tests/foundation/test_checkov.py) gets a virtualenv of its own: its pins conflict with ours (pyproject.toml).
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# Node.js and cdktn-cli from the npm registry, pinned in pyproject.toml ([tool.mlplat.npm]); .tools/bin has node,
# cdktn and the venv's python, so `PATH=$PWD/.tools/bin:$PATH cdktn synth` runs as cdktf.json says.
TOOLS       := .tools
TOOLS_STAMP := $(TOOLS)/.installed
# One place says where terraform providers come from, for the CLI, make, the tests and CI: .mlplat/config.toml
# (ignored by git: it names this machine's paths). make writes it once, from MLPLAT_PROVIDER_MIRROR if set, else the
# mirror this machine image carries at /opt/tf-plugins if any, else none (then the registry). Edit it to change.
CONFIG := .mlplat/config.toml
# jsii warns that Node 20 is end-of-life; it works, and the value names the major version to silence.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Some machines (this one, CI images) set PYTHONDONTWRITEBYTECODE: then every pytest worker re-rewrites the test
# modules' asserts and every mlplat process recompiles the project's modules. The caches go to __pycache__ (ignored).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help run test test-fast bench synth docs doctor tools checkov cdktn clean

help:
	@echo "make run        deploy the default blueprint to the embedded local AWS and print its outputs"
	@echo "make test       the whole test suite (end-to-end round trips on the embedded AWS included)"
	@echo "make test-fast  the suite without the end-to-end round trips"
	@echo "make doctor     check this machine for what mlplat needs"
	@echo "make bench      synthesis benchmark (ratios against a trivial cdktn app)"
	@echo "make docs       regenerate the README's blueprint reference"
	@echo "make clean      remove generated files and local state"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) (a few minutes the first time) ..."
	$(PY) -m pip install --quiet --upgrade pip
	@# pip's own lines as progress, without this machine's pip-config warnings; its exit status is kept.
	@{ $(PY) -m pip install --progress-bar off -e '.[test]' 2>&1; echo $$? > $(VENV)/.pip-status; } \
	  | grep --line-buffered -E '^(Collecting|Installing collected|Successfully|ERROR)' || true
	@exit $$(cat $(VENV)/.pip-status)
	@touch $(STAMP)

$(CONFIG):
	@mkdir -p $(dir $(CONFIG))
	@mirror="$${MLPLAT_PROVIDER_MIRROR:-$(firstword $(wildcard /opt/tf-plugins))}"; \
	if [ -n "$$mirror" ]; then printf 'provider_mirror = "%s"\n' "$$mirror" > $@; \
	  echo "terraform providers: from the mirror $$mirror (written to $@)"; \
	else printf '# provider_mirror = "/path/to/terraform-providers-mirror"\n' > $@; \
	  echo "terraform providers: from registry.terraform.io (set provider_mirror in $@ for a mirror)"; fi

$(TOOLS_STAMP): pyproject.toml
	@echo "installing Node.js and cdktn-cli from the npm registry into $(TOOLS) ..."
	@pins=$$($(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["tool"]["mlplat"]["npm"]; print(" ".join(f"{k}@{v}" for k, v in p.items()))'); \
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error $$pins
	@mkdir -p $(TOOLS)/bin
	@ln -sf ../node_modules/.bin/node $(TOOLS)/bin/node
	@ln -sf ../node_modules/.bin/cdktn $(TOOLS)/bin/cdktn
	@printf '#!/bin/sh\n# the project virtualenv'"'"'s python (a symlink would not find the venv)\nexec "$$(dirname "$$0")/../../$(VENV)/bin/python" "$$@"\n' > $(TOOLS)/bin/python
	@chmod +x $(TOOLS)/bin/python
	@touch $(TOOLS_STAMP)

# The version is pinned in pyproject.toml's `checkov` dependency group; `--group` installs that group alone.
$(CHECKOV_STAMP): pyproject.toml
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --progress-bar off --group pyproject.toml:checkov
	@touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)
cdktn: $(STAMP) $(TOOLS_STAMP)

# promtool and prometheus (Debian's `prometheus` package) verify dashboards and alert rules; amtool (Debian's
# `prometheus-alertmanager`) the Alertmanager configuration.
tools:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus package (promtool) ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null \
	  || { echo "error: promtool is missing and 'apt-get install prometheus' failed; install Debian's prometheus package" >&2; exit 1; }; }
	@command -v amtool >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus-alertmanager package (amtool) ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager) >/dev/null \
	  || { echo "error: amtool is missing and 'apt-get install prometheus-alertmanager' failed; install Debian's prometheus-alertmanager package" >&2; exit 1; }; }

run: $(STAMP) $(CONFIG) $(TOOLS_STAMP)
	$(VENV)/bin/mlplat deploy --local --auto-approve
	$(VENV)/bin/mlplat outputs --local

# Four workers on two cores: three run the round trips, which spend much of their time in the AWS provider's fixed
# waits, and one runs everything else in those waits. Six workers took a third more CPU (13 min against 9.5; each
# worker pays its own imports and synthesis runtime, and the round trips slow each other down).
test: $(STAMP) $(CONFIG) $(TOOLS_STAMP) tools $(CHECKOV_STAMP)
	$(PY) -m pytest -n 4 --dist loadgroup --no-loadscope-reorder

test-fast: $(STAMP) $(CONFIG) $(TOOLS_STAMP) tools $(CHECKOV_STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup --no-loadscope-reorder -m "not e2e"

doctor: $(STAMP) $(CONFIG)
	$(VENV)/bin/mlplat doctor

bench: $(STAMP)
	$(PY) -m mlplat.bench

synth: $(STAMP)
	$(VENV)/bin/mlplat synth

docs: $(STAMP)
	$(PY) -m mlplat.docs --write README.md

clean:
	rm -rf cdktf.out .mlplat-local .mlplat/work .pytest_cache
