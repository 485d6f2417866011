# linuxvps.partitions — build, test and demo targets.
#   make demo   runs playbooks/site.yml with the demo inventory on this host and prints the report
#   make test   installs the test needs (apt + pip), then runs sanity, unit and integration tests, and lint
# Run as root on a Debian 12 or 13 (or Ubuntu) host; git and make are all it needs beforehand. Variables:
#   TARGETS=partition      run a subset of the integration targets
#   TEST_PYTHON=3.11       run sanity and unit tests on one Python instead of every one found
#   BUILD=/some/dir        where the collection is mirrored (must be outside this work tree)
#   VM_SUITE=bookworm      the systemd VM's Debian: trixie (13, the default) or bookworm (12)

# Ansible and the test tools run from a virtual environment inside the checkout (.venv, ignored by git):
# a stock Debian's python3 refuses `pip install` (PEP 668) and may not even have pip. Nothing goes into the
# system's site-packages. The venv comes first on every recipe's PATH, so `python3`, `ansible-playbook` and
# `ansible-test` below are the venv's. Modules on the demo's target run with the host's own /usr/bin/python3.
HOST_PYTHON ?= python3
VENV        := $(CURDIR)/.venv
PYTHON      := $(VENV)/bin/python
export PATH := $(VENV)/bin:$(PATH)
# The Python that has ansible-core: integration runs modules with it, so they see its pyroute2.
PY_VERSION   = $(shell $(HOST_PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
TARGETS     ?=
TEST_PYTHON ?=

# ansible-test must run from .../ansible_collections/<namespace>/<name>, so the tree is mirrored there.
# Outside the work tree: inside it, ansible-test finds this repo's .git, lists files with git, which
# ignores the mirror, and then skips every test and passes. One mirror per checkout (by path).
CHECKOUT    := $(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
BUILD       ?= /var/tmp/linuxvps-partitions-build/$(CHECKOUT)
COLLECTION  := $(BUILD)/ansible_collections/linuxvps/partitions
# pythonX.Y links for ansible-test (see tests/utils/link_pythons.sh).
PYBIN       := $(BUILD)/bin
ANSIBLE_ENV := ANSIBLE_COLLECTIONS_PATH=$(BUILD) ANSIBLE_PYTHON_INTERPRETER=auto_silent

ifneq ($(filter $(CURDIR) $(CURDIR)/%,$(abspath $(BUILD))),)
$(error BUILD=$(BUILD) is inside the work tree; ansible-test would see no files there)
endif

# What `make demo` needs before Ansible runs (the host role installs what partitions need): a venv, rsync for
# the collection mirror, certificates for PyPI.
DEMO_APT_PACKAGES := python3 python3-venv rsync ca-certificates
# Host tools the integration targets call besides: runc, debootstrap, nft, ip/tc, mkfs.ext4 and resize2fs
# (e2fsprogs), losetup/mount (mount), ssh into partitions, ping; shellcheck for sanity's shellcheck test
# (skipped with only a warning when missing); qemu for the systemd VM; lxcfs for the partitions' own view of /proc
# (its package starts nothing: the lxcfs target starts it through the host role); chromium-headless-shell opens the
# report playbook's HTML; crun, which runtime auto must not pick on this cgroup v1 hybrid machine (the partition target
# checks that it picks runc, and that crun refuses the host). sshd runs inside partitions, from their rootfs, so the
# host needs no openssh-server.
TEST_APT_PACKAGES := runc apache2-utils debootstrap debian-archive-keyring python3-pyroute2 nftables iproute2 iputils-ping \
                     openssh-client util-linux mount e2fsprogs xfsprogs tar zstd git shellcheck qemu-system-x86 qemu-utils \
                     lxcfs chromium-headless-shell crun

.PHONY: test deps demo-deps venv get-pip-standin pythons collection sanity units integration vm-test vm-image \
        vm-start vm-stop awx-test lint demo demo-destroy stock-test bench clean

# The systemd VM (qemu, a kernel of its own) runs beside the integration targets: they share only the CPUs,
# and side by side they take about as long as the integration targets alone. Each one's output is shown
# whole when it ends (--output-sync), not interleaved.
test: deps get-pip-standin collection sanity units
	$(MAKE) --no-print-directory -j2 --output-sync=target integration vm-test
	$(MAKE) --no-print-directory stock-test awx-test lint docs release-check

# apt only when something is missing; apt-get update only when the install fails without it.
APT_INSTALL = if ! dpkg -s $(1) >/dev/null 2>&1; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends $(1) || \
	  { apt-get update -q && apt-get install -y -q --no-install-recommends $(1); }; \
	fi

# The venv, made again when a requirements file changed (its stamp is older).
venv: $(VENV)/.requirements
$(VENV)/.requirements: requirements.txt
	@$(call APT_INSTALL,$(DEMO_APT_PACKAGES))
	@[ -x $(PYTHON) ] || $(HOST_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test-requirements: $(VENV)/.requirements tests/requirements.txt
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements.txt -r tests/requirements.txt
	touch $@

demo-deps: venv

deps: venv $(VENV)/.test-requirements
	@$(call APT_INSTALL,$(TEST_APT_PACKAGES))

# ansible-test --venv bootstraps pip in its venvs with a get-pip script downloaded from a host this
# machine cannot reach; it uses a cached copy when there is one, so put an offline stand-in there.
get-pip-standin:
	$(PYTHON) tests/utils/install_get_pip_standin.py

pythons:
	tests/utils/link_pythons.sh $(PYBIN)

# A fresh mirror each time: what git would list (tracked and untracked, not ignored), nothing else.
# tests/output is kept: ansible-test's results and caches live there.
collection:
	mkdir -p $(COLLECTION)
	rsync -a --delete --delete-excluded --exclude /.git --filter 'P /tests/output/' \
	  --filter ':- .gitignore' ./ $(COLLECTION)/

# Modules: compile and import on every Python >= 3.9 found (tests/config.yml); controller-side tests
# (pylint, validate-modules, ansible-doc, ...) on the controller Python.
sanity: get-pip-standin pythons collection
	cd $(COLLECTION) && PATH=$(PYBIN):$$PATH \
	  ansible-test sanity --venv $(if $(TEST_PYTHON),--python $(TEST_PYTHON)) --color no

units: get-pip-standin pythons collection
	cd $(COLLECTION) && PATH=$(PYBIN):$$PATH \
	  ansible-test units --venv $(if $(TEST_PYTHON),--python $(TEST_PYTHON)) --color no

# Real partitions as root on this host: targets are needs/root (run as root) and destructive.
integration: collection
	cd $(COLLECTION) && ansible-test integration --local --python $(PY_VERSION) --allow-destructive \
	  --color no $(TARGETS)

# The systemd + cgroup v2 host: a Debian 13 VM (VM_SUITE=bookworm: Debian 12) under qemu (TCG), built once per suite
# and cached in /var/tmp/linuxvps-vm/<suite>-<hash> (both suites' images coexist; a cold build takes 2-3 minutes),
# booted on qcow2 overlays in its run directory (the cache never changes; a hard power-off keeps the guest's
# disks), driven over SSH by tests/vm/site/scenario.sh, always powered off at the end. It has runc and crun:
# runtime auto picks crun there, and the scenario checks it and times both.
VM_SUITE ?= trixie
VM := VM_SUITE=$(VM_SUITE) $(PYTHON) tests/vm/testvm.py
vm-test: collection
	$(VM) start
	INVENTORY=/var/tmp/linuxvps-vm/run/inventory.yml ANSIBLE_COLLECTIONS_PATH=$(BUILD) tests/vm/site/scenario.sh; \
	  rc=$$?; $(VM) stop; exit $$rc

vm-image:
	$(VM) build

vm-start:
	$(VM) start

vm-stop:
	$(VM) stop

# AWX's path: an execution environment's build context by ansible-builder (checked, not built: no container
# runtime needed), then job templates site, report and destroy through ansible-runner on this host, compared with
# plain ansible-playbook runs. runner.sh takes /var/tmp/lvp-integration.lock itself (LVP_LOCK_HELD=1 when the
# caller holds it).
awx-test: $(VENV)/.test-requirements collection
	tests/awx/ee_context.sh $(COLLECTION)
	tests/awx/runner.sh $(COLLECTION)

# The whole tree, as a Galaxy import lints it (.ansible-lint holds the profile and excludes only the test rig).
lint: collection
	cd $(COLLECTION) && $(ANSIBLE_ENV) ansible-lint --offline --profile production

demo: demo-deps collection
	cd $(COLLECTION) && $(ANSIBLE_ENV) ansible-playbook -i inventories/demo/hosts.yml playbooks/site.yml

# Removes the demo's partitions and its bridge (the templates stay in the state directory).
demo-destroy: demo-deps collection
	cd $(COLLECTION) && $(ANSIBLE_ENV) ansible-playbook -i inventories/demo/hosts.yml playbooks/destroy.yml \
	  -e linuxvps_destroy_confirm=destroy-all-partitions
	cd $(COLLECTION) && $(ANSIBLE_ENV) ansible -i inventories/demo/hosts.yml localhost \
	  -m linuxvps.partitions.network -a "name=lvdemo0 state=absent"

# The README's `make demo` on stock Debian 12 and 13 roots (debootstrap + chroot), from this checkout's HEAD.
STOCK_SUITES ?= bookworm trixie
stock-test:
	@for suite in $(STOCK_SUITES); do tests/stock/stock_debian.sh $$suite $(CURDIR) || exit 1; done

# Density and speed (not part of test): N systemd partitions by the collection and by a bare runc script
# (N=500 runs on a 2-core, 24 GB box: about 15 minutes with N=25,100,500), with the per-partition cost by size,
# partition_info and an idempotent re-run of all N (playbook and module process) and host memory per partition;
# PROFILE=1 writes cProfile tables of both read paths at the largest N next to the results; WORKERS=W gives the list
# form W workers (default: the module's own, two per core, at most 8).
# Then the comparisons: LXC_N partitions by Debian's lxc (default 100), RUNTIMES_N by the collection with crun against
# runc where both run (default 100; a cgroup v1 host says why not), TENANTS new tenants' first-partition cost and
# template disk (default 20; needs benchmarks/tenants.py); 0 skips each. lxc (and crun on a cgroup v2 host) are
# installed for the bench only (BENCH_APT_PACKAGES), never for `make test`. Without systemd the lxc package starts
# nothing; under systemd Debian's lxc-net starts its lxcbr0 bridge (10.0.3.0/24), which the bench does not use.
# Then INSIDE_N partitions with Python and sshd reached by the connection plugin and by SSH (ping play,
# put/fetch, inventory listing). N=25,100,200 and INSIDE_N=100 by default (empty skips either).
# Then the hosting operations on one partition with OPS_MIB MiB of its own files (snapshot, backup, restore, a
# move's downtime next to a cold copy; OPS_MIB=0 skips them); OPS_ONLY=1 runs only these (a few minutes).
# Results in benchmarks/results/<time>.json and .md.
N ?= 25,100,200
INSIDE_N ?= 100
OPS_MIB ?= 1024
OPS_ONLY ?=
LXC_N ?= 100
RUNTIMES_N ?= 100
TENANTS ?= 20
PROFILE ?=
WORKERS ?=
BENCH_APT_PACKAGES := lxc $(if $(filter cgroup2fs,$(shell stat -f -c %T /sys/fs/cgroup 2>/dev/null)),crun)
bench: deps collection
	@$(call APT_INSTALL,$(BENCH_APT_PACKAGES))
	ANSIBLE_COLLECTIONS_PATH=$(BUILD) PYTHONPATH=$(BUILD) $(PYTHON) benchmarks/bench.py --sizes "$(N)" \
	  --inside-sizes "$(INSIDE_N)" --operations-mib "$(OPS_MIB)" $(if $(OPS_ONLY),--only-operations) \
	  --lxc "$(LXC_N)" --runtimes "$(RUNTIMES_N)" --tenants "$(TENANTS)" $(if $(PROFILE),--profile) $(if $(WORKERS),--workers $(WORKERS))

clean:
	rm -rf $(BUILD) tests/output $(VENV)

# Docs and release checks use antsibull-docs, antsibull-changelog and Sphinx from a virtual environment of their
# own (made from PyPI when missing; building needs no network). Neither is part of `test` yet.
DOCS_VENV     ?= /var/tmp/lvp-docs-venv
DOCS_BUILD    ?= $(CURDIR)/build/docs
DOCS_PACKAGES := antsibull-docs antsibull-changelog sphinx sphinx-ansible-theme 'ansible-core>=2.16,<2.21'
DOCS_PATH     := $(DOCS_VENV)/bin:$$PATH

.PHONY: docs docs-venv release-check

docs-venv:
	@if ! [ -x $(DOCS_VENV)/bin/antsibull-docs ] || ! [ -x $(DOCS_VENV)/bin/antsibull-changelog ] || \
	    ! [ -x $(DOCS_VENV)/bin/sphinx-build ]; then \
	  $(PYTHON) -m venv $(DOCS_VENV) && $(DOCS_VENV)/bin/pip install -q $(DOCS_PACKAGES); \
	fi

# The docs site in $(DOCS_BUILD)/html, checked (antsibull-docs lint of every module's and role's docs, and a
# Sphinx build without warnings of its own).
docs: docs-venv collection
	PATH=$(DOCS_PATH) tests/utils/build_docs.sh $(BUILD) $(DOCS_BUILD)

# A release as Galaxy gets it: the tarball holds the collection and not the test rig, ansible-lint (production)
# passes on the tarball's contents, and the changelog's release data and fragments pass their checks.
release-check: docs-venv
	tests/utils/check_tarball.sh $(BUILD)/release
	rm -rf $(BUILD)/release/unpacked && mkdir -p $(BUILD)/release/unpacked/ansible_collections/linuxvps/partitions
	tar -C $(BUILD)/release/unpacked/ansible_collections/linuxvps/partitions -xzf $(BUILD)/release/linuxvps-partitions-*.tar.gz
	cd $(BUILD)/release/unpacked/ansible_collections/linuxvps/partitions && \
	  ANSIBLE_COLLECTIONS_PATH=$(BUILD)/release/unpacked ansible-lint --offline --profile production
	$(DOCS_VENV)/bin/python tests/utils/check_changelog.py $(DOCS_VENV)/bin/antsibull-changelog
