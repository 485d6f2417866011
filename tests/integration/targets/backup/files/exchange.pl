# Run inside a partition as `perl - ONE TWO COUNT STOP REPORT`: exchange the paths ONE and TWO with
# renameat2(AT_FDCWD, ONE, AT_FDCWD, TWO, RENAME_EXCHANGE) (syscall 316 on x86_64) COUNT times, or until the
# file STOP appears when COUNT is 0 (at most 15 minutes, so a test killed halfway leaves no loop behind).
# REPORT gets the number of exchanges; the exit status says whether any succeeded.
use strict;
use warnings;
my ($one, $two, $count, $stop, $report) = @ARGV;
my ($done, $end) = (0, time + 900);
until (($count and $done >= $count) or (not $count and -e $stop) or time > $end) {
    $done++ if syscall(316, -100, $one, -100, $two, 2) == 0;
    last if $count and $done == 0;  # a single failure is the answer when counting
}
open(my $out, ">", "$report.tmp") or die "$report.tmp: $!";
print $out "$done\n";
close $out;
rename("$report.tmp", $report) or die "$report: $!";
exit($done ? 0 : 1);
