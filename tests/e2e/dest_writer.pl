#!/usr/bin/env perl
# dest_writer.pl DEST PATHS SEED STOPFILE LOG: another program writing in the
# destination while barge unloads into it (random_dest_writer.sh). Until
# STOPFILE exists, it picks a path from the file PATHS (one relative path a
# line: the files the unload delivers) and puts a file of its own there, a
# line "foreign SEED N" no other file holds: where nothing stands, created
# with O_EXCL; where a regular file stands, written to a temporary name beside
# it and renamed over it, as an editor saves. Each such line is appended to
# LOG as "+LINE" once its file is at its name, so that the test can look for
# every one; when the file it replaced was one of its own, "-LINE" of that one
# follows (that loss is its own doing). It never writes through a symlink or
# outside DEST, and leaves .barge alone.
use strict;
use warnings;
use Cwd qw(realpath);
use Fcntl qw(O_CREAT O_EXCL O_WRONLY);
use File::Basename qw(dirname basename);
use Time::HiRes qw(sleep);

my ($dest, $paths, $seed, $stop, $log) = @ARGV;
srand($seed);
my $root = realpath($dest) or die "$dest: $!";
open(my $ph, '<', $paths) or die "$paths: $!";
chomp(my @paths = <$ph>);
close $ph;
@paths or die "$paths: no paths\n";
open(my $lh, '>>', $log) or die "$log: $!";
$lh->autoflush(1);

sub first_line {
    my ($p) = @_;
    open(my $f, '<', $p) or return '';
    return <$f> // '';
}

my $n = 0;
until (-e $stop) {
    my $rel = $paths[int(rand(@paths))];
    my $dir = realpath("$root/" . dirname($rel));
    # The directory as barge left it: no symlink on the way, not in .barge.
    if (defined $dir && $dir eq ($rel =~ m{/} ? "$root/" . dirname($rel) : $root) && -d $dir &&
        $dir !~ m{^\Q$root\E/\.barge(/|$)}) {
        my $target = "$dir/" . basename($rel);
        my $line = "foreign $seed " . ++$n . "\n";
        if (!-e $target && !-l $target) {
            if (sysopen(my $f, $target, O_CREAT | O_EXCL | O_WRONLY, 0644)) {
                print $f $line;
                close $f or die "$target: $!";
                print $lh "+$line";
            }
        } elsif (-f $target && !-l $target) {
            my $old = first_line($target);
            my $tmp = "$dir/.fw-$$-$n";
            if (sysopen(my $f, $tmp, O_CREAT | O_EXCL | O_WRONLY, 0644)) {
                print $f $line;
                close $f or die "$tmp: $!";
                if (rename($tmp, $target)) {
                    print $lh "+$line";
                    print $lh "-$old" if $old =~ /^foreign .*\n$/;
                } else {
                    unlink $tmp; # its directory moved or went meanwhile
                }
            }
        }
    }
    sleep(rand(0.003));
}
