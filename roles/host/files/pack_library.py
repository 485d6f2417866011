# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pack the collection's engine (plugins/module_utils with its packages) and the two ansible module_utils
files it imports into one gzipped tar, byte for byte the same for the same files (sorted, owner root,
mtime 0), so the host role copies one file and copies it only when the engine changed. Runs on the
controller; prints the tarball's path.

    pack_library.py COLLECTION_ROOT OUTPUT_DIR
"""

from __future__ import absolute_import, division, print_function

import gzip
import hashlib
import io
import os
import sys
import tarfile

import ansible.module_utils

ENGINE = "ansible_collections/linuxvps/partitions/plugins/module_utils"
ANSIBLE_FILES = ["six/__init__.py", "common/text/formatters.py"]


def engine_files(engine_dir):
    """Paths of the engine's .py files relative to engine_dir, its packages' included, sorted."""
    found = []
    for top, dirs, files in os.walk(engine_dir):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        found += [os.path.relpath(os.path.join(top, name), engine_dir) for name in files if name.endswith(".py")]
    return sorted(found)


def members(collection_root):
    engine_dir = os.path.join(collection_root, "plugins", "module_utils")
    for relative in engine_files(engine_dir):
        yield os.path.join(ENGINE, relative), os.path.join(engine_dir, relative)
    ansible_dir = os.path.dirname(ansible.module_utils.__file__)
    for relative in ANSIBLE_FILES:
        yield os.path.join("ansible/module_utils", relative), os.path.join(ansible_dir, relative)


def pack(collection_root):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, path in members(collection_root):
            with open(path, "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo(arcname)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as handle:
        handle.write(raw.getvalue())
    return packed.getvalue()


def main(argv):
    data = pack(argv[0])
    path = os.path.join(argv[1], "linuxvps-library-%s.tar.gz" % hashlib.sha256(data).hexdigest()[:16])
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as handle:
            handle.write(data)
        os.rename(path + ".tmp", path)
    sys.stdout.write(path + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
