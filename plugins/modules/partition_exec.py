#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: partition_exec
short_description: Run a command inside a running Linux VPS partition
version_added: 0.2.0
description:
  - Runs a command inside a running partition, from the host, the way the collection's connection plugin runs
    modules there. No sshd and no network inside the partition are needed.
  - The command runs as the partition's root in all of its namespaces and inside its cgroup, so it counts against the
    partition's limits, never the host's; with its capabilities, seccomp filter and its init's environment (plus
    O(env)). It is started by the OCI runtime's C(exec).
  - Like M(ansible.builtin.command), the task reports C(changed) when the command ran, and fails when it exits
    non-zero.
  - A stopped, frozen or absent partition fails the task, naming the partition.
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - linuxvps.partitions.attributes
  - linuxvps.partitions.state
  - linuxvps.partitions.runtime
attributes:
  check_mode:
    support: partial
    details:
      - The command is not run. Without O(creates) and O(removes) the task is skipped; with them, it reports
        whether the command would run (C(changed)).
  diff_mode:
    support: none
    details: A command's effects cannot be shown as a diff.
options:
  name:
    description: Name of the partition.
    type: str
    required: true
  argv:
    description:
      - The program and its arguments, run without a shell. The program is looked up in the partition's C(PATH).
      - Exactly one of O(argv) and O(command) is required.
    type: list
    elements: str
  command:
    description:
      - A shell command line, run by C(/bin/sh -c) inside the partition (pipes, redirections and variables work).
      - Exactly one of O(argv) and O(command) is required.
    type: str
  chdir:
    description: Absolute path of a directory inside the partition to run in. Default V(/).
    type: str
  env:
    description: Extra environment variables for the command, over those of the partition's init.
    type: dict
  stdin:
    description: Text fed to the command's standard input. Without it the command reads end of file.
    type: str
  stdin_add_newline:
    description: Add a newline after O(stdin).
    type: bool
    default: true
  creates:
    description:
      - A path inside the partition; when something stands there (a dangling symlink too), the command is not run.
      - Relative to O(chdir) when not absolute. No patterns.
      - Looked up as the partition sees it (its mounts included, C(/tmp) too), with symbolic links resolved inside
        the partition, so a link can never make the host look at its own files.
    type: str
  removes:
    description:
      - A path inside the partition; when nothing stands there, the command is not run. As O(creates) otherwise.
    type: str
  timeout:
    description:
      - Seconds the command may run. Then it and everything it started are killed, and the task fails naming the
        partition. No limit when not set.
    type: int
notes:
  - The partition's tree is the tenant's. Nothing of the command's output is read past 32 MiB per stream (the rest is
    read and dropped, with a warning), so a chatty program cannot exhaust the host's memory.
  - A command that leaves a background process holding its output open is waited for, as by
    M(ansible.builtin.command); set O(timeout) for commands that may not end.
seealso:
  - module: linuxvps.partitions.partition
  - module: ansible.builtin.command
"""

EXAMPLES = r"""
- name: Install a package inside a partition
  linuxvps.partitions.partition_exec:
    name: web1
    argv: [apt-get, install, -y, nginx]
    env: {DEBIAN_FRONTEND: noninteractive}
    creates: /usr/sbin/nginx
    timeout: 600

- name: A pipeline, run by the partition's shell
  linuxvps.partitions.partition_exec:
    name: web1
    command: ps -e | wc -l
  register: processes
  changed_when: false

- name: Feed a file in through stdin
  linuxvps.partitions.partition_exec:
    name: web1
    argv: [tee, /etc/motd]
    stdin: "Welcome to web1"
"""

RETURN = r"""
cmd:
  description: The program and arguments run inside the partition.
  returned: always
  type: list
  elements: str
  sample: [/bin/sh, -c, ps -e | wc -l]
rc:
  description: The command's exit status (128 plus the signal's number when a signal ended it); 0 when it was not run.
  returned: always
  type: int
  sample: 0
stdout:
  description: Its standard output, trailing newlines removed.
  returned: always
  type: str
  sample: "42"
stderr:
  description: Its standard error, trailing newlines removed.
  returned: always
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: always
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: always
  type: list
  elements: str
start:
  description: When the command started (local time on the host).
  returned: when it ran
  type: str
  sample: "2026-12-01 03:12:52.018455"
end:
  description: When it ended.
  returned: when it ran
  type: str
delta:
  description: How long it ran.
  returned: when it ran
  type: str
  sample: "0:00:00.094223"
msg:
  description: Why it did not run (O(creates), O(removes), check mode), or how it failed.
  returned: when it did not run or failed
  type: str
  sample: skipped, since /usr/sbin/nginx exists
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.inside import exec_request, execute
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import ENGINE_ARGSPEC

ARGSPEC = dict(
    name=dict(type="str", required=True),
    argv=dict(type="list", elements="str"),
    command=dict(type="str"),
    chdir=dict(type="str"),
    env=dict(type="dict"),
    stdin=dict(type="str"),
    stdin_add_newline=dict(type="bool", default=True),
    creates=dict(type="str"),
    removes=dict(type="str"),
    timeout=dict(type="int"),
    **ENGINE_ARGSPEC
)


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True,
                           mutually_exclusive=[("argv", "command")], required_one_of=[("argv", "command")])
    request = run_engine(module, lambda: exec_request(module.params))
    engine = run_engine(module, lambda: PartitionEngine.open(module.params["state_dir"], module.params["runtime"], True))
    outcome = run_engine(module, lambda: execute(engine, request, module.check_mode))
    result = dict(cmd=request.argv, rc=0, stdout="", stderr="", stdout_lines=[], stderr_lines=[])
    run = outcome.run
    if run is None:
        if outcome.skipped is not None:
            module.exit_json(changed=False, msg=outcome.skipped, **result)
        if request.creates is None and request.removes is None:
            module.exit_json(changed=False, skipped=True, msg="not run in check mode", **result)
        module.exit_json(changed=True, msg="would run (not run in check mode)", **result)
    stdout, stderr = run.text("stdout").rstrip("\r\n"), run.text("stderr").rstrip("\r\n")
    result.update(rc=run.rc, stdout=stdout, stderr=stderr, stdout_lines=stdout.splitlines(), stderr_lines=stderr.splitlines(),
                  start=_when(run.started), end=_when(run.ended), delta=str(datetime.timedelta(seconds=run.ended - run.started)))
    for which in sorted(run.truncated):
        module.warn("%s of the command in partition %s was cut at %d bytes" % (which, request.name, run.limit))
    if run.timed_out:
        module.fail_json(changed=True, msg="the command in partition %s did not end within %d seconds (timeout); it and "
                                           "what it started were killed" % (request.name, request.timeout), **result)
    if run.rc != 0:
        module.fail_json(changed=True, msg="non-zero return code", **result)
    module.exit_json(changed=True, **result)


def _when(stamp):
    return str(datetime.datetime.fromtimestamp(stamp))


if __name__ == "__main__":
    main()
