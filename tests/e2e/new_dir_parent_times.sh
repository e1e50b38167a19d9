#!/usr/bin/env bash
# A directory made or moved into a delivered directory whose source mtime is
# still the one delivered (set back by hand or by a tool, though the new
# name is new in it): the unload forgets that directory's delivered times,
# in a commit, before the name appears there, and sets them at its end. A
# run killed after the name appeared leaves the directory to the next run,
# not recorded as delivered with the kernel's mtime (which nothing would ever
# set back: verify-destination does not compare directory mtimes).
# 300 parents: more than one page (256) of new directories.
source "$(dirname "$0")/lib.sh"
need_strace_kills
n=300
setup_pair --mass-change-limit 100
mkdir -p "$SRC/top" "$SRC/from/a" "$SRC/to" && (cd "$SRC/top" && mkdir $(seq -f "p%g" 1 $n))
for i in $(seq 1 $n); do echo "file $i" >"$SRC/top/p$i/f"; done
echo "moved" >"$SRC/from/a/f"
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the first trip"

# new_dirs NAME FROM TO: a new directory NAME with a file in each p$i, and a
# moved from FROM to TO; the times of the p$i and TO set back as delivered.
new_dirs() {
    touch -r "$SRC/$3" "$T/delivered"
    mv "$SRC/$2/a" "$SRC/$3/a"
    for i in $(seq 1 $n); do mkdir "$SRC/top/p$i/$1" && echo "new $i" >"$SRC/top/p$i/$1/g"; done
    find "$SRC" -newermt '2024-01-02' -exec touch -h -d '2024-02-01 10:00:00' {} +
    touch -d '2024-01-01 10:00:00' "$SRC"/top/p*
    touch -r "$T/delivered" "$SRC/$3"
}

# Run to its end: the parents get their own times back and are not counted as
# directories delivered.
new_dirs new from to
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq "$n" "$(json '.pairs[0].delivered.dirs')" "directories delivered (the new ones)"
expect_eq 1 "$(json '.pairs[0].delivered.renamed_dirs')" "the directory moved"
expect_eq "$n" "$(json '.pairs[0].delivered.files')" "the new files"
expect_same_tree "$SRC" "$DST" "after a directory was made in each"

# Killed as it places its first file: every directory made and the move done,
# their parents' delivered times forgotten.
new_dirs newer to from
expect_exit 0 barge load
rc=0
# (the first rename out of DEST/.barge/staging, as in many_dirs_times.sh)
{ strace -f -qq -o /dev/null -P "$DST/.barge/staging" -e trace='?rename,renameat,renameat2' \
    -e inject='?rename,renameat,renameat2:signal=KILL:when=1' "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
expect_eq 137 "$rc" "the unload killed as it placed its first file"
[[ -d $DST/top/p1/newer && -d $DST/top/p$n/newer && -d $DST/from/a && ! -e $DST/top/p1/newer/g ]] ||
    fail "not every directory was made and moved, or a file was placed, before the kill"
expect_eq "$n" "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND CAST(parent AS TEXT) = 'top' AND
    d_mtime_ns IS NULL")" "parents of new directories whose delivered times the killed run forgot"
expect_exit 0 barge unload --json
expect_eq "$n" "$(json '.pairs[0].delivered.files')" "the new files, after the kill"
expect_eq 0 "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND d_mtime_ns IS NULL")" "times left forgotten"
expect_same_tree "$SRC" "$DST" "after the killed run and the next"

# Moved back, killed at the barrier right after the directory's rename (the
# first syncfs): the directory it was moved into had its delivered times
# forgotten before the rename (the moved directory is not among the run's
# directories to make, whose parents lose their times only after the moves).
touch -r "$SRC/to" "$T/delivered"
mv "$SRC/from/a" "$SRC/to/a"
touch -d '2024-03-01 10:00:00' "$SRC/from"
touch -r "$T/delivered" "$SRC/to"
expect_exit 0 barge load
rc=0
{ strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=KILL:when=1 "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
expect_eq 137 "$rc" "the unload killed at its first barrier"
[[ -d $DST/to/a && ! -e $DST/from/a ]] || fail "the directory was not moved before the kill"
expect_eq 1 "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND CAST(name AS TEXT) = 'to' AND
    d_mtime_ns IS NULL")" "the moved directory's new parent, its delivered times forgotten"
expect_eq 1 "$(sql "SELECT count(*) FROM meta WHERE key LIKE 'dir_move:%'")" "the move's journal, after the kill"
expect_exit 0 barge unload --json
expect_eq 0 "$(json '.pairs[0].delivered.already_there')" "the moved file, known in place from the journal"
expect_eq 0 "$(json '.pairs[0].delivered.files')" "files carried again after the kill"
expect_eq 0 "$(sql "SELECT count(*) FROM meta WHERE key LIKE 'dir_move:%'")" "the journal, after the next run"
expect_eq 0 "$(sql "SELECT count(*) FROM entries WHERE kind = 2 AND d_mtime_ns IS NULL")" "times left forgotten"
expect_same_tree "$SRC" "$DST" "after the move killed at its barrier, and the next run"
