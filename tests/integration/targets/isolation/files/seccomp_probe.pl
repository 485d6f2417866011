# errno of raw system calls (x86_64 numbers), "ok" when one succeeds. perl-base is in every Debian template.
use strict;
use warnings;
my $buffer = "\0" x 120;
sub report {
    my ($name, $result) = @_;
    print $name, " ", ($result >= 0 ? "ok" : $! + 0), "\n";
}
report("io_uring_setup", syscall(425, 1, $buffer));
report("modify_ldt", syscall(154, 0, $buffer, 16));
report("keyctl", syscall(250, 0, 0, 0, 0));
report("getpid", syscall(39));
