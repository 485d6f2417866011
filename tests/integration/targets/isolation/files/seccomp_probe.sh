#!/bin/sh
# errno of raw system calls (x86_64 numbers), "ok" when one succeeds. perl-base is in every Debian template.
probe() { perl -e "\$p = \"\\0\" x 120; \$r = syscall($2); print \"$1 \", (\$r >= 0 ? 'ok' : \$! + 0), \"\\n\"" 2>/dev/null; }
probe io_uring_setup '425, 1, $p'
probe modify_ldt '154, 0, $p, 16'
probe keyctl '250, 0, 0, 0, 0'
probe getpid '39'
