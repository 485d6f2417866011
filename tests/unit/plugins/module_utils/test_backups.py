# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import archive
from ansible_collections.linuxvps.partitions.plugins.module_utils.backups import Backups, check_options
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import Conflict, InvalidOption, NotFound
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def make_archive(tmp_path, **changes):
    tree = tmp_path / "tree"
    (tree / "root").mkdir(parents=True, exist_ok=True)
    (tree / "root" / "data.txt").write_text("data\n")
    header = {"format": 1, "collection": archive.COLLECTION_VERSION, "partition": "web1", "running": False,
              "spec": {"name": "web1", "rootfs": "debian12", "tenant": "web1", "hostname": "web1", "interfaces": [],
                       "secret_env": {"TOKEN": "fingerprint"}},
              "template": {"name": "debian12", "source": "digest-of-debian12"}, "id_base": None, "fingerprint": "f",
              "incremental_from": None}
    header.update(changes)
    path = str(tmp_path / "web1.tar")
    archive.write_archive(path, header, str(tree), None, "none")
    return path


def nothing_made(engine):
    return engine.store.partition_names() == []


def test_unknown_template_is_refused_naming_it(engine, tmp_path):
    path = make_archive(tmp_path, template={"name": "nope", "source": "x"})
    with pytest.raises(NotFound, match="template nope"):
        Backups(engine).restore(path)
    assert nothing_made(engine)


def test_another_build_of_the_template_is_refused_naming_both_digests(engine, tmp_path):
    path = make_archive(tmp_path, template={"name": "debian12", "source": "other"})
    with pytest.raises(Conflict, match="debian12.*digest-of-debian12.*other"):
        Backups(engine).restore(path)
    assert nothing_made(engine)


def test_another_format_is_refused_naming_path(engine, tmp_path):
    path = make_archive(tmp_path, format=2)
    with pytest.raises(InvalidOption) as caught:
        Backups(engine).restore(path)
    assert caught.value.option == "path"
    assert nothing_made(engine)


def test_an_existing_partition_is_refused_naming_name(engine, tmp_path):
    path = make_archive(tmp_path)
    engine.store.save_partition("web1", {"name": "web1", "spec": {"name": "web1", "rootfs": "debian12"}, "running": None})
    with pytest.raises(InvalidOption) as caught:
        Backups(engine).restore(path)
    assert caught.value.option == "name"


def test_a_path_inside_a_partition_tree_is_refused(engine, tmp_path):
    engine.store.save_partition("web2", {"name": "web2", "spec": {"name": "web2", "rootfs": "debian12"}, "running": None})
    inside = os.path.join(engine.store.partition_dir("web2"), "upper", "x.tar")
    with pytest.raises(InvalidOption) as caught:
        Backups(engine).restore(inside)
    assert caught.value.option == "path"
    with pytest.raises(InvalidOption) as caught:
        Backups(engine).backup("web2", inside)
    assert caught.value.option == "path"


def test_check_mode_restores_nothing(engine, tmp_path):
    path = make_archive(tmp_path)
    outcome = Backups(engine.checking()).restore(path, name="web9")
    assert outcome.changed and outcome.partition == "web9"
    assert outcome.after["spec"]["tenant"] == "web9" and outcome.after["spec"]["hostname"] == "web9"
    assert "secret_env" not in outcome.after["spec"]
    assert nothing_made(engine)


def test_a_declared_tenant_is_kept_under_a_new_name():
    spec = Backups._restored_spec({"partition": "web1", "spec": {"name": "web1", "tenant": "acme", "hostname": "www"}}, "web2")
    assert spec == {"name": "web2", "tenant": "acme", "hostname": "www"}


@pytest.mark.parametrize("params, option", [
    ({"state": "present", "name": "x"}, "name"),
    ({"state": "present", "start": True}, "start"),
    ({"state": "restored", "incremental_from": "/a.tar"}, "incremental_from"),
])
def test_options_of_the_other_state_are_refused(params, option):
    with pytest.raises(InvalidOption) as caught:
        check_options(params)
    assert caught.value.option == option
