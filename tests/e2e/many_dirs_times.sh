#!/usr/bin/env bash
# Unload keeps a few bytes per directory (SPEC §8): the directories it writes
# into are taken from the destination 1,024 paths at a time and kept
# by entry id, and the parents of what it may change are looked up with a
# memo of 1,024 paths. With more directories than either holds, every
# directory still gets its own times back:
# - 1,200 delivered directories each get a new file, their own times kept:
#   all their delivered times are forgotten before anything is written (a
#   run killed as it places its first file leaves all 1,200 to the next run),
#   and set again at the end;
# - then 1,200 directories are renamed, with their own times unchanged, and a
#   file edited inside each: the renames deliver them (the moved directory's
#   times were delivered before), the edited files write into them, and their
#   times are restored from what the destination saw written into, taken a
#   thousand paths at a time while the files arrive; renamed again and killed
#   as the first edited file is placed, every moved directory is left with its
#   delivered times forgotten;
# - 4,500 symlinks are recorded as delivered in batches of 4,096.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed"
no_leak_check_under_strace
strace -f -qq -o /dev/null -e inject=getpid:error=EIO:when=1 true 2>/dev/null ||
    skip "strace cannot inject signals here (ptrace not permitted?)"
n=1200
setup_pair --mass-change-limit 100
mkdir -p "$SRC/top" && (cd "$SRC/top" && mkdir $(seq -f "d%g" 1 $n))
for i in $(seq 1 $n); do echo "file $i" >"$SRC/top/d$i/f"; done
# And 4,500 symlinks, recorded 4,096 at a time.
mkdir "$SRC/links"
perl -e 'for (1 .. 4500) { symlink("../top/d$_/f", "$ARGV[0]/l$_") or die "$_: $!" }' "$SRC/links"
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 4500 "$(json '.pairs[0].delivered.symlinks')" "symlinks delivered, each counted once"
expect_same_tree "$SRC" "$DST" "after the first trip"

# A new file in each delivered directory, whose own times stay what was
# delivered: killed as it places its first file, the unload has forgotten every one's
# delivered times, and the next one sets them back to the source's.
for i in $(seq 1 $n); do echo "new $i" >"$SRC/top/d$i/g"; done
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +
expect_exit 0 barge load
rc=0
# (the first rename out of DEST/.barge/staging: a file placed; -P matches the
# descriptor of staging, so the drive's generation files are passed over; '?':
# an architecture without rename, riscv64 say, has only the other two)
{ strace -f -qq -o /dev/null -P "$DST/.barge/staging" -e trace='?rename,renameat,renameat2' \
    -e inject='?rename,renameat,renameat2:signal=KILL:when=1' "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
expect_eq 137 "$rc" "the unload killed as it placed its first file"
[[ ! -e $DST/top/d1/g && ! -e $DST/top/d$n/g ]] || fail "a file was placed before the kill"
expect_eq "$n" "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND d_kind = 2 AND CAST(parent AS TEXT) = 'top' AND
    d_mtime_ns IS NULL")" "directories whose delivered times the killed run forgot"
expect_exit 0 barge unload --json
expect_eq "$n" "$(json '.pairs[0].delivered.files')" "one new file per directory"
expect_eq 0 "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND d_mtime_ns IS NULL")" "times left forgotten"
expect_same_tree "$SRC" "$DST" "after a file was added to every directory"

# Every directory renamed, with its file f edited and its own times kept: one
# move per directory, then the edited files written into the moved directories.
perl -e 'for (1 .. $ARGV[1]) { rename("$ARGV[0]/d$_", "$ARGV[0]/e$_") or die "$_: $!" }' "$SRC/top" "$n"
for i in $(seq 1 $n); do echo "edited $i" >"$SRC/top/e$i/f"; done
find "$SRC" -exec touch -h -d '2024-03-01 10:00:00' {} +
touch -d '2024-01-01 10:00:00' "$SRC"/top/e* # as delivered: the moves deliver them
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq "$n" "$(json '.pairs[0].delivered.renamed_dirs')" "each directory moved as a whole"
expect_eq "$n" "$(json '.pairs[0].delivered.files')" "the edited files"
expect_same_tree "$SRC" "$DST" "after every directory was renamed"
expect_exit 0 barge verify-destination

# Again, killed as it places the first edited file, after every move: each
# moved directory took over the old one's delivered times, and those had been
# forgotten (the files under the old name are deletions there), so none is
# left recorded as delivered with times the writes would change.
perl -e 'for (1 .. $ARGV[1]) { rename("$ARGV[0]/e$_", "$ARGV[0]/g$_") or die "$_: $!" }' "$SRC/top" "$n"
for i in $(seq 1 $n); do echo "edited again $i" >"$SRC/top/g$i/f"; done
find "$SRC" -exec touch -h -d '2024-04-01 10:00:00' {} +
touch -d '2024-03-01 10:00:00' "$SRC"/top/g* # as delivered
expect_exit 0 barge load
rc=0
{ strace -f -qq -o /dev/null -P "$DST/.barge/staging" -e trace='?rename,renameat,renameat2' \
    -e inject='?rename,renameat,renameat2:signal=KILL:when=1' "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
expect_eq 137 "$rc" "the unload killed as it placed the first edited file"
[[ -d $DST/top/g1 && -d $DST/top/g$n && ! -e $DST/top/e1 ]] || fail "the directories were not all moved before the kill"
expect_eq "$n" "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND d_kind = 2 AND CAST(parent AS TEXT) = 'top' AND
    CAST(name AS TEXT) LIKE 'g%' AND d_mtime_ns IS NULL")" "moved directories whose delivered times are forgotten"
expect_exit 0 barge unload --json
expect_eq "$n" "$(json '.pairs[0].delivered.files')" "the edited files, after the kill"
expect_eq 0 "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND d_mtime_ns IS NULL")" "times left forgotten"
expect_same_tree "$SRC" "$DST" "after every directory was renamed again"
