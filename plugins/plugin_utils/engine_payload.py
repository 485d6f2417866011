# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's engine as one Python program for a VPS host that has no collection installed.

A plugin on the controller runs engine code on a VPS host as AnsiballZ runs a module: the program is sent as data
on the stdin of one ``python3 -`` there. It carries the sources of plugins/module_utils (with the two
ansible.module_utils files they import, as the host role's copy does) compressed inside it, and imports them from
memory: nothing is written on the host, and what runs is the controller's engine, whatever the host has installed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import zlib

import ansible.module_utils

from ansible_collections.linuxvps.partitions.plugins import module_utils as engine_package

ENGINE_PACKAGE = "ansible_collections.linuxvps.partitions.plugins.module_utils"
ANSIBLE_FILES = ("six/__init__.py", "common/text/formatters.py")
DEFAULT_PYTHON = "python3"

# Runs on the VPS host under any Python 3.9+: a meta path finder that serves the packed modules before any installed
# copy, then the entry point. Packages above the modules are empty ones (no ansible/__init__.py runs there).
BOOTSTRAP = '''\
import base64, importlib.abc, importlib.util, json, sys, zlib
SOURCES = json.loads(zlib.decompress(base64.b64decode(PAYLOAD)).decode("utf-8"))


class PackedEngine(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in SOURCES:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=SOURCES[fullname][0])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        is_package, source = SOURCES[module.__name__]
        filename = "<linuxvps>/%%s%%s" %% (module.__name__.replace(".", "/"), "/__init__.py" if is_package else ".py")
        exec(compile(source, filename, "exec"), module.__dict__)


sys.meta_path.insert(0, PackedEngine())
from %(package)s.%(module)s import %(function)s
sys.exit(%(function)s(sys.argv[1:]))
'''


def _read(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8")


def _parents(dotted):
    parts = dotted.split(".")
    return [".".join(parts[:index]) for index in range(1, len(parts))]


def engine_sources():
    """{module name: (is package, source)} of the engine and what it imports of ansible.module_utils."""
    sources = {}
    engine_dir = os.path.dirname(os.path.abspath(engine_package.__file__))
    for top, dirs, files in os.walk(engine_dir):
        dirs[:] = sorted(name for name in dirs if name != "__pycache__")
        relative = os.path.relpath(top, engine_dir)
        package = ENGINE_PACKAGE if relative == "." else ENGINE_PACKAGE + "." + relative.replace(os.sep, ".")
        for name in sorted(files):
            if name == "__init__.py":
                sources[package] = (True, _read(os.path.join(top, name)))
            elif name.endswith(".py"):
                sources[package + "." + name[:-3]] = (False, _read(os.path.join(top, name)))
    ansible_dir = os.path.dirname(os.path.abspath(ansible.module_utils.__file__))
    for relative in ANSIBLE_FILES:
        module = "ansible.module_utils." + relative[:-3].replace("/", ".")
        if module.endswith(".__init__"):
            sources[module[:-9]] = (True, _read(os.path.join(ansible_dir, relative)))
        else:
            sources[module] = (False, _read(os.path.join(ansible_dir, relative)))
    for module in list(sources):
        for parent in _parents(module):
            sources.setdefault(parent, (True, ""))
    return sources


_PROGRAMS = {}  # (module, function) -> the program with this controller's engine: packed once per process


def program(module, function, sources=None):
    """The Python program (bytes) that runs ENGINE_PACKAGE.module.function(argv) with the packed engine and exits
    with what it returns."""
    if sources is None:
        if (module, function) not in _PROGRAMS:
            _PROGRAMS[(module, function)] = program(module, function, engine_sources())
        return _PROGRAMS[(module, function)]
    packed = zlib.compress(json.dumps(sources, sort_keys=True).encode("utf-8"), 9)
    code = "PAYLOAD = %r\n" % base64.b64encode(packed).decode("ascii")
    code += BOOTSTRAP % {"package": ENGINE_PACKAGE, "module": module, "function": function}
    return code.encode("utf-8")


def command(args, python=DEFAULT_PYTHON):
    """The command line on the VPS host: its Python reads the program from stdin, then args follow."""
    return [python, "-"] + [str(arg) for arg in args]
