# netapp_hyperv.smhv: build and test tooling. See docs/development.md.
#
#   make demo    start the lab and run the main job (the README's first command)
#   make test    sanity + every pytest suite (what .ci/run runs)
#
# Everything runs from .venv, which the first target creates (Python 3.11 from pyenv when present,
# else python3) and refreshes whenever a requirements file changes.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

ROOT := $(CURDIR)

# --- Python environments ------------------------------------------------------------------------
VENV ?= .venv
PYTHON_VERSION ?= 3.11
# Interpreter that creates $(VENV) (looked up only when the venv has to be (re)built).
BASE_PYTHON ?= $(shell scripts/find-python.sh $(PYTHON_VERSION) --fallback || command -v python3)
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.smhv-stamp
REQUIREMENTS := requirements.txt requirements-dev.txt
# The lab is its own package (lab/pyproject.toml), installed editable into the same venv.
LAB_PROJECT := $(wildcard lab/pyproject.toml)
# Debian packages needed by some test (e.g. chromium for browser tests); installed with apt-get when
# missing (scripts/apt-install.sh). Keep empty unless a test needs one.
APT_PACKAGES ?= chromium

# ansible-core 2.21 sanity venv on Python 3.12 (skipped with a reason when 3.12 is missing).
export VENV_CORE_NEXT ?= .venv-2.21
export VENV

# --- Ansible: make netapp_hyperv.smhv importable from this checkout ----------------------------
# .cache/collections/ansible_collections/netapp_hyperv/smhv -> repo root. The path is prepended to
# the user's ANSIBLE_COLLECTIONS_PATH (or ansible's default); the collections bundled with the
# `ansible` package stay visible because ansible also scans sys.path (COLLECTIONS_SCAN_SYS_PATH).
COLLECTIONS_DIR := $(ROOT)/.cache/collections
COLLECTION_LINK := $(COLLECTIONS_DIR)/ansible_collections/netapp_hyperv/smhv
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR):$(or $(ANSIBLE_COLLECTIONS_PATH),$(HOME)/.ansible/collections:/usr/share/ansible/collections)
export PATH := $(ROOT)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(ROOT)/$(VENV)

# --- pytest ------------------------------------------------------------------------------------
PYTEST_BASE := -p no:cacheprovider -q -ra --durations=25
# Two xdist workers a core (at most 8): the suite mostly waits on the lab's simulated latency and job times, so one
# worker a core leaves the CPUs half idle (docs/development.md has the measurement).
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n * 2 > 8 ? 8 : n * 2 )))
# Extra pytest arguments, e.g. PYTEST_ARGS="-n 0 -k backup" or PYTEST_ARGS="-x".
PYTEST_ARGS ?= -n $(PYTEST_WORKERS) --dist loadfile
TEST_DIRS := tests/unit tests/lab tests/integration tests/molecule tests/e2e

.PHONY: FORCE help venv system-packages collection-link env agent sanity lint units lab-tests integration integration-ansible-test e2e test demo dr-round-trip bench build clean distclean

help:
	@echo "make demo         start the lab and run the main job"
	@echo "make dr-round-trip  a DR round trip on the lab: failover, work at site B, failback, reprotect (docs/dr.md)"
	@echo "make test         sanity + unit + lab + integration + e2e tests (CI runs this)"
	@echo "make sanity       ansible-test sanity (core 2.19/py3.11, 2.21/py3.12) + changelog lint"
	@echo "make lint         ansible-lint --profile production (.ansible-lint; also a test of make test)"
	@echo "make units | lab-tests | integration | e2e    one pytest suite"
	@echo "make integration-ansible-test [TARGETS=smhv_ping]  the integration targets through ansible-test integration"
	@echo "make bench        benchmarks (not part of CI)"
	@echo "make agent        regenerate plugins/module_utils/agent/script.py from agent/*.ps1"
	@echo "make build        collection tarball into .cache/dist"
	@echo "make venv         create/refresh $(VENV) (implicit for every target)"
	@echo 'eval "$$(make -s env)"   use this checkout'"'"'s venv and collection in your shell'
	@echo "make clean | distclean"

# --- environment -------------------------------------------------------------------------------
venv: $(VENV_STAMP) collection-link system-packages

# Rebuilt when a requirements file changes, or when the venv's python is gone.
$(VENV_STAMP): $(REQUIREMENTS) $(LAB_PROJECT) $(if $(wildcard $(VENV_PY)),,FORCE)
	@scripts/venv.sh "$(VENV)" "$(BASE_PYTHON)" $(addprefix -r ,$(REQUIREMENTS)) $(if $(LAB_PROJECT),-e lab)
	@touch "$@"

# Checked on every run (a dpkg query per package), so adding one to APT_PACKAGES takes effect
# without a venv rebuild.
system-packages:
	@$(if $(strip $(APT_PACKAGES)),scripts/apt-install.sh $(APT_PACKAGES),:)

collection-link:
	@if [ "$$(readlink "$(COLLECTION_LINK)" 2>/dev/null)" != "$(ROOT)" ]; then \
		mkdir -p "$(dir $(COLLECTION_LINK))" && ln -sfn "$(ROOT)" "$(COLLECTION_LINK)"; fi

env: venv
	@echo 'export VIRTUAL_ENV="$(VIRTUAL_ENV)"'
	@echo 'export PATH="$(ROOT)/$(VENV)/bin:$$PATH"'
	@echo 'export ANSIBLE_COLLECTIONS_PATH="$(ANSIBLE_COLLECTIONS_PATH)"'

FORCE:

# --- tests -------------------------------------------------------------------------------------
sanity: venv
	@scripts/sanity.sh

# The run users make from the repository root; tests/molecule/test_lint.py runs the same in `make test`.
lint: venv
	@"$(VENV)/bin/ansible-lint" --profile production

units: venv
	@scripts/pytest.sh tests/unit -- $(PYTEST_BASE) $(PYTEST_ARGS)

lab-tests: venv
	@scripts/pytest.sh tests/lab -- $(PYTEST_BASE) $(PYTEST_ARGS)

integration: venv
	@scripts/pytest.sh tests/integration -- $(PYTEST_BASE) $(PYTEST_ARGS)

# The same targets the other way collections run them: ansible-test integration on a copy of the tree, the lab
# started by their setup_smhv_lab dependency and stopped by the script. Not part of `make test`, where
# tests/integration/test_ansible_test.py runs smhv_ping this way. TARGETS: target names (default: all);
# ANSIBLE_TEST_ARGS: more ansible-test arguments, e.g. -v or --start-at smhv_mount.
TARGETS ?=
ANSIBLE_TEST_ARGS ?=
integration-ansible-test: venv
	@scripts/ansible_test_integration.sh $(TARGETS) -- $(ANSIBLE_TEST_ARGS)

e2e: venv
	@scripts/pytest.sh tests/e2e -- $(PYTEST_BASE) $(PYTEST_ARGS)

# Sanity, then one pytest run over every suite, so pytest's summary line is the last thing printed.
# pytest runs even when sanity failed (one CI run shows both); the target then still fails.
test: venv
	@sanity=0; scripts/sanity.sh || sanity=$$?; \
	tests=0; scripts/pytest.sh $(TEST_DIRS) -- $(PYTEST_BASE) $(PYTEST_ARGS) || tests=$$?; \
	if [ $$sanity -ne 0 ]; then echo "make test: FAILED: sanity (see its errors above)"; exit 1; fi; \
	exit $$tests

# --- demo / bench / build ----------------------------------------------------------------------
# The agent's PowerShell (agent/*.ps1) as the Python module AnsiballZ ships; standard library only, no venv.
agent:
	@python3 scripts/build_agent.py

demo: venv
	@if [ -f lab/smhv_lab/demo.py ]; then exec "$(VENV_PY)" -m smhv_lab.demo; else exec scripts/demo.sh; fi

dr-round-trip: venv
	@exec "$(VENV_PY)" -m smhv_lab.round_trip

bench: venv
	@if [ -f benchmarks/run.py ]; then exec "$(VENV_PY)" benchmarks/run.py; else echo "no benchmarks yet"; fi

build: venv
	@mkdir -p .cache/dist
	@"$(VENV)/bin/ansible-galaxy" collection build --force --output-path .cache/dist .

clean:
	rm -rf .cache tests/output .pytest_cache
	find . -path ./.venv -prune -o -path './.venv-*' -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf "$(VENV)" "$(VENV_CORE_NEXT)"
