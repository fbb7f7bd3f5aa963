# The two entry points of the README: `make run` and `make test`.
# Both create the virtualenv in .venv and install nubis (editable) with its test
# dependencies and the contrib plugins, as a third party's would be installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test venv provision lint sample-config clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Start ZooKeeper, memcached and libvirtd, and check RabbitMQ, PostgreSQL, MariaDB
# and Redis. Needs root (it installs Debian packages); skipped, with a note, otherwise.
provision:
	@if [ "$$(id -u)" = 0 ]; then bash tests/servers/provision.sh; \
	else echo "provision: not root, skipping; tests needing servers will skip"; fi

run: venv
	$(BIN)/nubis-all-in-one --config-file etc/nubis/all-in-one.conf

test: venv provision
	$(BIN)/python -m pytest $(PYTEST_ARGS)

sample-config: venv
	$(BIN)/oslo-config-generator --config-file etc/nubis/nubis-config-generator.conf

clean:
	rm -rf $(VENV) .nubis .pytest_cache .mypy_cache .ruff_cache
