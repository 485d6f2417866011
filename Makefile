# linuxvps.partitions — build, test and demo targets.
#   make test   installs the test needs (apt + pip), then runs sanity, unit and integration tests, and lint
#   make demo   runs playbooks/site.yml with the demo inventory on this host and prints the report
# Run as root on a Debian/Ubuntu host.

PYTHON       ?= python3
# Outside the work tree: inside it, ansible-test would list files through the enclosing git repo.
BUILD        ?= /var/tmp/linuxvps-partitions-build
COLLECTION   := $(BUILD)/ansible_collections/linuxvps/partitions
TARGETS      ?=
APT_PACKAGES := runc debootstrap python3-pyroute2 nftables iproute2 iputils-ping openssh-client rsync util-linux tar
ANSIBLE_ENV  := ANSIBLE_COLLECTIONS_PATH=$(BUILD) ANSIBLE_PYTHON_INTERPRETER=auto_silent

.PHONY: test deps get-pip-standin collection sanity units integration lint demo bench clean

test: deps get-pip-standin collection sanity units integration lint

# apt only when something is missing: apt-get update is the slow part.
deps:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES); \
	fi
	$(PYTHON) -m pip install -q -r requirements.txt ansible-lint

# ansible-test downloads its pip bootstrap script from a host this machine cannot reach; it uses a
# cached copy when there is one, so put an offline stand-in there.
get-pip-standin:
	$(PYTHON) tests/utils/install_get_pip_standin.py

# ansible-test must run from .../ansible_collections/<namespace>/<name>: mirror the tree there.
collection:
	mkdir -p $(COLLECTION)
	rsync -a --delete --exclude .git --exclude /build --exclude /tests/output ./ $(COLLECTION)/

sanity: collection
	cd $(COLLECTION) && ansible-test sanity --venv --python 3.11 --color no

units: collection
	cd $(COLLECTION) && ansible-test units --venv --python 3.11 --color no

# Real partitions as root on this host; TARGETS="partition" runs a subset.
integration: collection
	cd $(COLLECTION) && ansible-test integration --local --python 3.11 --allow-destructive --color no $(TARGETS)

lint: collection
	cd $(COLLECTION) && $(ANSIBLE_ENV) ansible-lint --profile production playbooks $(wildcard roles)

demo: deps collection
	cd $(COLLECTION) && $(ANSIBLE_ENV) ansible-playbook -i inventories/demo/hosts.yml playbooks/site.yml

bench:
	@echo "no benchmarks yet"

clean:
	rm -rf $(BUILD) tests/output
