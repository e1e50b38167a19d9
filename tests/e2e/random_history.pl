#!/usr/bin/env perl
# random_history.pl DIR SEED: one round of random changes to the tree DIR, as
# a life of edits would make them (random_history.sh). Deterministic for a
# seed. Prints one line per change (to show a failing history).
use strict;
use warnings;
use File::Find;
use File::Path qw(make_path remove_tree);

my ($root, $seed) = @ARGV;
srand($seed);
my $old = 1704103200; # 2024-01-01 10:00, a time set back to

sub pick { return $_[int(rand(@_))]; }
sub entries {
    my ($want) = @_; # 'f' files, 'd' directories, 'l' symlinks, 'a' anything
    my @out;
    find({ no_chdir => 1, wanted => sub {
        return if $File::Find::name eq $root;
        my $rel = substr($File::Find::name, length($root) + 1);
        if ($rel eq '.barge') { $File::Find::prune = 1; return; } # the source marker
        my $ok = $want eq 'a' || ($want eq 'l' && -l $_) || ($want eq 'f' && -f $_ && !-l $_) ||
                 ($want eq 'd' && -d $_ && !-l $_);
        push @out, $rel if $ok;
    } }, $root);
    return sort @out;
}
sub dirs { return ('', entries('d')); }
sub under { my ($d, $name) = @_; return $d eq '' ? $name : "$d/$name"; }
sub fresh { my ($d) = @_; my $n; do { $n = under($d, pick(qw(a b c Foo foo 2019-07-14 x.jpg)) . int(rand(50))) } while (-e "$root/$n" || -l "$root/$n"); return $n; }
sub write_file {
    my ($rel, $size) = @_;
    open(my $fh, '>', "$root/$rel") or die "$rel: $!";
    print $fh join('', map { chr(32 + int(rand(90))) } 1 .. $size);
    close($fh);
}
# An editor's save: a new file renamed over the name (a new inode: a hard
# link's other names keep the old one), half the time with the same content,
# mode and mtime (`cp -p f t && mv t f`).
sub rewrite {
    my ($rel) = @_;
    my ($from, $tmp) = ("$root/$rel", "$root/$rel.rewrite");
    if (rand() < 0.5) {
        system('cp', '-p', $from, $tmp) == 0 or die "cp $rel: $?";
    } else {
        write_file("$rel.rewrite", int(rand(3000)));
    }
    rename($tmp, $from) or die "$rel: $!";
}
sub set_back { my ($rel) = @_; utime($old, $old + int(rand(3)) * 86400, "$root/$rel"); }
# quiet(COMMAND...): runs it, its errors unprinted; whether it succeeded.
sub quiet { return system('sh', '-c', '"$@" 2>/dev/null', 'sh', @_) == 0; }

my @ops = (
    [ 'new file', 6, sub { my $f = fresh(pick(dirs())); write_file($f, int(rand(3)) ? int(rand(3000)) : 0); $f } ],
    [ 'edit', 4, sub { my @f = entries('f') or return; my $f = pick(@f); write_file($f, int(rand(3000))); $f } ],
    [ 'delete file', 2, sub { my @f = (entries('f'), entries('l')) or return; my $f = pick(@f); unlink("$root/$f"); $f } ],
    [ 'rename file', 3, sub { my @f = entries('f') or return; my $f = pick(@f); my $t = fresh(pick(dirs())); rename("$root/$f", "$root/$t") or return; "$f -> $t" } ],
    [ 'mkdir', 3, sub { my $d = fresh(pick(dirs())); mkdir("$root/$d") or return; write_file(fresh($d), 100) if rand() < 0.7; $d } ],
    [ 'rm -r', 1, sub { my @d = entries('d') or return; my $d = pick(@d); remove_tree("$root/$d"); $d } ],
    [ 'rename dir', 2, sub { my @d = entries('d') or return; my $d = pick(@d); my $p = pick(dirs()); return if $p eq $d || index($p, "$d/") == 0; my $t = fresh($p); rename("$root/$d", "$root/$t") or return; "$d -> $t" } ],
    [ 'chmod', 2, sub { my @a = (entries('f'), entries('d')) or return; my $e = pick(@a); my $m = -d "$root/$e" ? pick(0755, 0700, 0750) : pick(0644, 0600, 0755, 0444); chmod($m, "$root/$e"); sprintf('%s %o', $e, $m) } ],
    [ 'set back', 3, sub { my @a = (entries('f'), entries('d')) or return; my $e = pick(@a); set_back($e); $e } ],
    [ 'symlink', 2, sub { my $l = fresh(pick(dirs())); symlink(pick('../x', 'target', '/etc/hostname', 'a b'), "$root/$l") or return; $l } ],
    [ 'hard link', 1, sub { my @f = entries('f') or return; my $f = pick(@f); my $l = fresh(pick(dirs())); link("$root/$f", "$root/$l") or return; "$f = $l" } ],
    [ 'rewrite', 2, sub { my @f = entries('f') or return; my $f = pick(@f); rewrite($f); $f } ],
    [ 'file to dir', 1, sub { my @f = entries('f') or return; my $f = pick(@f); unlink("$root/$f"); mkdir("$root/$f"); write_file("$f/inside", 10); $f } ],
    [ 'dir to file', 1, sub { my @d = entries('d') or return; my $d = pick(@d); remove_tree("$root/$d"); write_file($d, 20); $d } ],
);
# BARGE_HISTORY_FIDELITY=1: also extended attributes, POSIX ACLs (default
# ACLs on directories too) and sparse files (random_history_fidelity.sh).
# Added after the others, so that every seed's history without them stays
# what it was.
if (($ENV{BARGE_HISTORY_FIDELITY} // '') eq '1') {
    push @ops, (
        [ 'xattr', 3, sub {
            my @a = (entries('f'), entries('d')) or return;
            my ($e, $n) = (pick(@a), 'user.' . pick(qw(tag comment x)));
            if (rand() < 0.3) { quiet('setfattr', '-x', $n, "$root/$e") or return; return "$e -$n"; }
            my $v = pick('x', 'v' . int(rand(100)), 'a' x (1 + int(rand(300))));
            quiet('setfattr', '-n', $n, '-v', $v, "$root/$e") or return;
            "$e $n=" . length($v) . ' bytes' } ],
        [ 'acl', 1, sub {
            my @a = (entries('f'), entries('d')) or return;
            my $e = pick(@a);
            my @how = rand() < 0.3 ? ('-b') : ('-m', pick('u:nobody:r', 'g:daemon:rw', 'u:daemon:rwx'));
            unshift(@how, '-d') if -d "$root/$e" && $how[0] eq '-m' && rand() < 0.5;
            quiet('setfacl', @how, "$root/$e") or return;
            "$e @how" } ],
        [ 'sparse file', 2, sub {
            my $f = fresh(pick(dirs()));
            my $size = 65536 * (1 + int(rand(8)));
            open(my $fh, '>', "$root/$f") or die "$f: $!";
            for (0 .. int(rand(3))) {
                seek($fh, 65536 * int(rand($size / 65536)), 0);
                print $fh join('', map { chr(32 + int(rand(90))) } 1 .. 1 + int(rand(5000)));
            }
            close($fh);
            truncate("$root/$f", $size) if -s "$root/$f" < $size;
            "$f ($size bytes)" } ],
    );
}
my @weighted = map { my $op = $_; map { $op } 1 .. $op->[1] } @ops;
my $n = 8 + int(rand(12));
for (1 .. $n) {
    my $op = pick(@weighted);
    my $what = $op->[2]->();
    print "$op->[0]: $what\n" if defined $what;
    # Some directories written into keep their delivered mtime (set back).
    if (rand() < 0.3) { my @d = entries('d'); set_back(pick(@d)) if @d; }
}
