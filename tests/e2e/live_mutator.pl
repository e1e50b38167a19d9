#!/usr/bin/env perl
# live_mutator.pl DIR SEED STOPFILE LOG [N]: changes the tree DIR without pause
# (a few milliseconds between changes) until STOPFILE exists, as a user or a
# program working in a live tree while barge scans and loads it
# (random_live_source.sh). Every content a file takes is written whole and
# appears at once (a temporary name ending in .tmp, which the pair excludes,
# renamed into place), or grows by one small write, or is truncated: each
# state a reader can see is a state the file had, and its MD5 is appended to
# LOG, so that a file delivered torn (bytes of two states) is caught. The
# order of changes is seeded; their timing against barge is not. With N, it
# makes N new files and directories at once and exits (the first tree). With
# LIVE_XATTRS=1 in the environment, it also sets and removes user.* extended
# attributes (setfattr); with LIVE_ACLS=1, POSIX ACLs (setfacl: access ACLs on
# files and directories, default ACLs on directories, which new entries inherit).
use strict;
use warnings;
use Digest::MD5;
use File::Find;
use File::Path qw(remove_tree);
use Time::HiRes qw(sleep);

my ($root, $seed, $stop, $log, $populate) = @ARGV;
srand($seed);
open(my $lh, '>>', $log) or die "$log: $!";
$lh->autoflush(1);

sub pick { return $_[int(rand(@_))]; }
sub entries {
    my ($want) = @_; # 'f' files, 'd' directories, 'l' symlinks
    my @out;
    find({ no_chdir => 1, wanted => sub {
        return if $File::Find::name eq $root;
        my $rel = substr($File::Find::name, length($root) + 1);
        if ($rel eq '.barge' || $rel =~ /\.tmp$/) { $File::Find::prune = 1; return; }
        my $ok = ($want eq 'l' && -l $_) || ($want eq 'f' && -f $_ && !-l $_) ||
                 ($want eq 'd' && -d $_ && !-l $_);
        push @out, $rel if $ok;
    } }, $root);
    return sort @out;
}
sub dirs { return ('', entries('d')); }
sub under { my ($d, $name) = @_; return $d eq '' ? $name : "$d/$name"; }
sub fresh {
    my ($d) = @_;
    my $n;
    do { $n = under($d, pick(qw(a b c d e x.jpg)) . int(rand(40))) } while (-e "$root/$n" || -l "$root/$n");
    return $n;
}
sub logged {
    my ($rel) = @_;
    open(my $fh, '<', "$root/$rel") or return; # changed again since: that state is logged
    binmode($fh);
    print $lh Digest::MD5->new->addfile($fh)->hexdigest, "\n";
}
sub bytes {
    my ($size) = @_;
    return join('', map { chr(32 + int(rand(90))) } 1 .. $size) if $size < 4096;
    my $block = join('', map { chr(32 + int(rand(90))) } 1 .. 4096);
    return substr($block x (int($size / 4096) + 1), 0, $size);
}
sub size { return rand() < 0.08 ? 1_000_000 + int(rand(2_000_000)) : int(rand(16384)); }
# A whole new content at REL, written under a .tmp name and renamed over it.
sub put {
    my ($rel, $size) = @_;
    my $tmp = "$rel.tmp";
    open(my $fh, '>', "$root/$tmp") or return;
    binmode($fh);
    print $fh bytes($size);
    close($fh) or die "$tmp: $!";
    logged($tmp);
    rename("$root/$tmp", "$root/$rel") or unlink("$root/$tmp");
}
sub dir_into {
    my ($d) = @_; # a new directory with a few files, appearing at once
    my $tmp = "$d.tmp";
    mkdir("$root/$tmp") or return;
    for my $i (1 .. 1 + int(rand(4))) {
        open(my $fh, '>', "$root/$tmp/f$i") or next;
        print $fh bytes(int(rand(8192)));
        close($fh);
        logged("$tmp/f$i");
    }
    rename("$root/$tmp", "$root/$d") or remove_tree("$root/$tmp");
}

my @ops = (
    [15, sub { put(fresh(pick(dirs())), size()) }],
    [10, sub { my @f = entries('f'); put(pick(@f), size()) if @f }],
    [15, sub { # one small write at the end: the size moves once
        my @f = entries('f');
        return unless @f;
        my $f = pick(@f);
        open(my $fh, '>>', "$root/$f") or return;
        syswrite($fh, bytes(1 + int(rand(200))));
        close($fh);
        logged($f);
    }],
    [5, sub {
        my @f = grep { -s "$root/$_" } entries('f');
        return unless @f;
        my $f = pick(@f);
        truncate("$root/$f", int((-s "$root/$f") / 2)) and logged($f);
    }],
    [8, sub { my @f = entries('f'); unlink("$root/" . pick(@f)) if @f }],
    [5, sub { dir_into(fresh(pick(dirs()))) }],
    [2, sub { my @d = entries('d'); remove_tree("$root/" . pick(@d)) if @d }],
    [8, sub {
        my @f = (entries('f'), entries('l'));
        rename("$root/" . pick(@f), "$root/" . fresh(pick(dirs()))) if @f;
    }],
    [3, sub {
        my @d = entries('d');
        return unless @d;
        my $d = pick(@d);
        my @to = grep { $_ ne $d && index("$_/", "$d/") != 0 } dirs();
        rename("$root/$d", "$root/" . fresh(pick(@to))) if @to;
    }],
    [3, sub {
        my @f = entries('f');
        return unless @f;
        my $f = pick(@f);
        unlink("$root/$f") and symlink(pick('../elsewhere', 'a1', 'x/y'), "$root/$f");
    }],
    [2, sub {
        my @l = entries('l');
        return unless @l;
        my $l = pick(@l);
        unlink("$root/$l") and put($l, size());
    }],
    [1, sub {
        my @d = entries('d');
        return unless @d;
        my $d = pick(@d);
        remove_tree("$root/$d");
        put($d, size());
    }],
    [5, sub { my @f = entries('f'); chmod(pick(0644, 0600, 0755, 0444), "$root/" . pick(@f)) if @f }],
    [3, sub { my @f = entries('f'); link("$root/" . pick(@f), "$root/" . fresh(pick(dirs()))) if @f }],
    [3, sub { # an mtime set back (the ctime still moves)
        my @f = entries('f');
        my $t = 1704103200 + int(rand(86400));
        utime($t, $t, "$root/" . pick(@f)) if @f;
    }],
);
if (defined $populate) {
    for (1 .. $populate) {
        rand() < 0.15 ? dir_into(fresh(pick(dirs()))) : put(fresh(pick(dirs())), size());
    }
    exit 0;
}
push @ops, [4, sub { # an attribute set or removed (the ctime moves)
    my @e = (entries('f'), entries('d'));
    return unless @e;
    my $e = "$root/" . pick(@e);
    my $name = 'user.k' . int(rand(3));
    rand() < 0.7 ? system('setfattr', '-n', $name, '-v', int(rand(1000)), $e)
                 : system("setfattr -x $name '$e' 2>/dev/null");
}] if ($ENV{LIVE_XATTRS} // '') eq '1';
push @ops, [3, sub { # an ACL set, changed or removed (the ctime moves)
    my @e = (entries('f'), entries('d'));
    return unless @e;
    my $e = "$root/" . pick(@e);
    my $r = rand();
    my $acl = $r < 0.5 ? '-m u:nobody:' . pick(qw(r rw rx))
            : $r < 0.7 ? '-m g:' . pick(qw(daemon bin)) . ':' . pick(qw(r rx))
            : $r < 0.85 && -d $e ? '-d -m u:nobody:rx'
            : '-b';
    system("setfacl $acl '$e' 2>/dev/null"); # it may be gone already
}] if ($ENV{LIVE_ACLS} // '') eq '1';
my $total = 0;
$total += $_->[0] for @ops;
until (-e $stop) {
    my $r = rand($total);
    for my $op (@ops) {
        if (($r -= $op->[0]) < 0) { $op->[1]->(); last; }
    }
    sleep(rand(0.008));
}
