# The two entry points of the README: `make run` and `make test`.
# Both create the virtualenv in .venv and install nubis (editable) with its test
# dependencies and the contrib plugins, as a third party's would be installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test tempest venv provision lint sample-config clean nova-venv

# libvirt-python compiles against libvirt's headers: install them first when missing
# (needs root; without it pip's error names the missing libvirt.pc).
$(STAMP): pyproject.toml setup.py $(wildcard contrib/*/pyproject.toml)
	@if ! pkg-config --exists libvirt 2>/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "venv: installing libvirt-dev and pkg-config (libvirt-python builds against them)"; \
	  apt-get -o DPkg::Lock::Timeout=120 update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q \
	    --no-install-recommends libvirt-dev pkg-config >/dev/null; fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# The contrib plugins, each from its own folder, as a third party's would be.
	for d in contrib/*/; do $(BIN)/python -m pip install --quiet -e "$$d" || exit 1; done
	touch $(STAMP)

venv: $(STAMP)

# Start ZooKeeper, memcached and libvirtd, and check RabbitMQ, PostgreSQL, MariaDB
# and Redis. Needs root (it installs Debian packages); skipped, with a note, otherwise.
provision:
	@if [ "$$(id -u)" = 0 ]; then bash tests/provisioning/provision.sh; \
	else echo "provision: not root, skipping; tests needing servers will skip"; fi

run: venv
	$(BIN)/nubis-all-in-one --config-file etc/nubis/all-in-one.conf

test: provision venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Tempest's compute API suite against a private all-in-one (docs/api.md, "Measuring
# with Tempest"); fails on a failure or skip tests/tempest/expectations.txt does not list.
# A fresh workspace each time: nothing a previous run left counts against this one.
TEMPEST_WORK ?= /var/tmp/nubis-tempest-make

tempest: venv
	rm -rf $(TEMPEST_WORK)
	$(BIN)/python -m tests.tempest.run_tempest --dynamic-credentials --workdir $(TEMPEST_WORK)

sample-config: venv
	$(BIN)/oslo-config-generator --config-file etc/nubis/nubis-config-generator.conf
	$(BIN)/oslopolicy-sample-generator --config-file etc/nubis/nubis-policy-generator.conf

# Nova itself, in a venv of its own, for bench/nova_side_by_side.py (the two projects'
# imports never mix). PyPI's nova brings everything its conductor needs on SQLite.
NOVA_VENV ?= /var/tmp/nova-venv
NOVA_VERSION := 34.0.0

nova-venv:
	test -x $(NOVA_VENV)/bin/python || $(PYTHON) -m venv $(NOVA_VENV)
	$(NOVA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NOVA_VENV)/bin/python -m pip install --quiet nova==$(NOVA_VERSION)

clean:
	rm -rf $(VENV) .nubis .pytest_cache .mypy_cache .ruff_cache
