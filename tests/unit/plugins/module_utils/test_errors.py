# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the list form say which item they are about."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed, InvalidOption, about_item, item_label


@pytest.mark.parametrize("index, name, label", [
    (3, "web7", "partitions[3] (web7)"),
    (0, None, "partitions[0]"),
    (2, "", "partitions[2]"),
    (1, "A B", "partitions[1] ('A B')"),  # shown so that where the name ends is plain
    (1, "web1\n", "partitions[1] ('web1\\n')"),
    (4, 7, "partitions[4] (7)"),
])
def test_item_label(index, name, label):
    assert item_label(index, name) == label


def test_an_error_named_for_its_item_keeps_its_type_option_and_value():
    with pytest.raises(InvalidOption) as caught:
        with about_item(3, "web7"):
            raise InvalidOption("resources.memory", "12XB", "is not a size")
    error = caught.value
    assert error.msg == "partitions[3] (web7): option resources.memory: invalid value '12XB': is not a size"
    assert str(error) == error.msg
    assert (error.option, error.value) == ("resources.memory", "12XB")
    assert error.details["item"] == {"index": 3, "name": "web7"} and error.details["option"] == "resources.memory"


def test_an_error_is_named_once():
    error = CommandFailed(["runc", "create", "web7"], 1, "", "boom")
    error.name_item(3, "web7").name_item(3, "web7")
    assert error.msg.startswith("partitions[3] (web7): command runc create web7 failed") and error.msg.count("partitions[") == 1


def test_errors_that_are_not_ours_pass_through():
    with pytest.raises(ValueError):
        with about_item(0, "web1"):
            raise ValueError("not an engine error")
