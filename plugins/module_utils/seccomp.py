# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seccomp profile of every partition: an allowlist. Pure: no I/O.

Built the way runc's and Docker's default profiles are: a system call is allowed only when it is named
here, so a call added by a future kernel stays shut until someone reviews it. Unlike an application
container, a partition runs a whole distribution as root in its own user namespace, so the list also has
what its systemd needs there: mount, umount2, pivot_root, unshare, setns, clone with namespace flags,
sethostname, reboot (a signal to the partition's own init, see reboot(2)).

Three kinds of refusal:

* DENIED: calls that reach the shared kernel itself (modules, kexec, BPF, perf, the keyring, swap, the
  clock), file handles that escape a mount (open_by_handle_at), the new mount API (it bypasses the checks
  this list puts on mount(2) users) and io_uring (its own path into the kernel past this filter, and the
  source of most kernel exploits since 2021). They fail with EPERM: a deliberate "no".
* Obsolete or never-implemented calls are simply absent.
* Anything else not listed fails with ENOSYS, which programs read as "this kernel does not have it" and
  fall back (liburing to plain I/O, glibc's clone3 to clone). runc does the same for calls newer than the
  libseccomp it was built with.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

EPERM = 1
ENOSYS = 38

ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}

DENIED = [
    # the kernel itself
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf", "perf_event_open",
    "lookup_dcookie", "acct", "swapon", "swapoff", "quotactl", "quotactl_fd", "syslog", "iopl", "ioperm",
    "nfsservctl", "uselib", "fanotify_init", "userfaultfd",
    # the kernel keyring is not namespaced
    "add_key", "request_key", "keyctl",
    # the clock is the host's (CAP_SYS_TIME is not granted either)
    "settimeofday", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64", "adjtimex", "stime",
    # file handles and the new mount API
    "open_by_handle_at", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr",
    "mount_setattr",
    # io_uring
    "io_uring_setup", "io_uring_enter", "io_uring_register",
]

ALLOWED = [
    # files and directories
    "access", "chdir", "chmod", "chown", "chown32", "chroot", "close", "close_range", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "arm_fadvise64_64", "fallocate",
    "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
    "fgetxattr", "flistxattr", "flock", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
    "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr",
    "getxattrat", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listxattr", "listxattrat", "llistxattr",
    "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "mkdir", "mkdirat", "mknod", "mknodat",
    "name_to_handle_at", "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64",
    "pwritev", "pwritev2", "read", "readahead", "readdir", "readlink", "readlinkat", "readv", "removexattr",
    "removexattrat", "rename", "renameat", "renameat2", "rmdir", "sendfile", "sendfile64", "setxattr",
    "setxattrat", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "sync_file_range2", "arm_sync_file_range", "syncfs", "tee", "truncate", "truncate64",
    "umask", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vmsplice", "write",
    "writev", "cachestat",
    # events, polling, asynchronous I/O (the old AIO interface; io_uring is denied)
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "eventfd",
    "eventfd2", "fanotify_mark", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit",
    "ioctl", "_newselect", "pipe", "pipe2", "poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64",
    "select", "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64",
    # memory
    "brk", "get_mempolicy", "madvise", "map_shadow_stack", "mbind", "membarrier", "memfd_create", "memfd_secret",
    "migrate_pages", "mincore", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "move_pages", "mprotect", "mremap",
    "mseal", "msync", "munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "process_madvise", "process_mrelease", "remap_file_pages", "set_mempolicy", "set_mempolicy_home_node",
    "cacheflush",
    # processes, threads, signals, scheduling
    "arch_prctl", "capget", "capset", "clone", "clone3", "execve", "execveat", "exit", "exit_group", "fork",
    "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "get_robust_list",
    "get_thread_area", "getcpu", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getresgid",
    "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid", "gettid", "getuid", "getuid32",
    "ioprio_get", "ioprio_set", "kcmp", "kill", "nice", "pause", "personality", "pidfd_getfd", "pidfd_open",
    "pidfd_send_signal", "prctl", "prlimit64", "process_vm_readv", "process_vm_writev", "ptrace",
    "restart_syscall", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "set_robust_list",
    "set_thread_area", "set_tid_address", "set_tls", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
    "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid",
    "setuid", "setuid32", "sgetmask", "sigaction", "sigaltstack", "signal", "sigpending", "sigprocmask",
    "sigreturn", "sigsuspend", "ssetmask", "tgkill", "tkill", "ugetrlimit", "vfork", "wait4", "waitid", "waitpid",
    "breakpoint", "uretprobe",
    # time (reading it, timers, sleeping)
    "alarm", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "gettimeofday", "nanosleep", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "times",
    # sockets and System V / POSIX IPC (in the partition's own network and IPC namespaces)
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen", "recv",
    "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send", "sendmmsg", "sendmsg", "sendto", "setsockopt",
    "shutdown", "socket", "socketcall", "socketpair", "ipc", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl",
    "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "shmat",
    "shmctl", "shmdt", "shmget",
    # a distribution's init in its own namespaces (systemd, container managers inside)
    "mount", "umount", "umount2", "pivot_root", "unshare", "setns", "sethostname", "setdomainname", "reboot",
    "vhangup", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lsm_get_self_attr",
    "lsm_set_self_attr", "lsm_list_modules", "listmount", "statmount",
    # system information
    "getrandom", "olduname", "oldolduname", "sysinfo", "uname", "ustat", "sysfs",
]


def profile(machine):
    """linux.seccomp of a partition's config.json, on the host's architecture and its 32-bit companions."""
    document = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": ENOSYS,
        "syscalls": [
            {"names": list(ALLOWED), "action": "SCMP_ACT_ALLOW"},
            {"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
        ],
    }
    if machine in ARCHITECTURES:
        document["architectures"] = list(ARCHITECTURES[machine])
    return document
