#!/usr/bin/env bash
# A directory removed and a new one made (`rm -r pack; mkdir other`) can get
# the old one's inode number; the scan then pairs them as a rename. The unload
# moves a directory whole only when an entry under the old name is under the
# new one with the same name and inode (or the old one held nothing):
# otherwise the new directory is made and the old one's names are deleted.
# Moved whole, what was deleted would travel into the new directory, and stay
# there, untracked, when the run is killed before the move's commit (found by
# random_history.sh). The inode's reuse is made certain by giving the new
# directory the old one's device and inode in the catalog after the scan.
source "$(dirname "$0")/lib.sh"
need_strace_kills
setup_pair --mass-change-limit 100 --on-delete trash
mkdir -p "$SRC/pack/sub"
for f in a b sub/c; do echo "$f" >"$SRC/pack/$f"; done
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the first trip"

# Renamed, a file edited inside: one move.
mv "$SRC/pack" "$SRC/moved"
echo "a, edited" >"$SRC/moved/a"
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.renamed_dirs')" "the directory moved whole"
expect_same_tree "$SRC" "$DST" "after a rename with an edit inside"

# Removed, and a new directory on its inode; the unload killed at its first
# barrier, then run again.
rm -r "$SRC/moved"
mkdir "$SRC/other" && echo x >"$SRC/other/x"
expect_exit 0 barge load
sql_write "UPDATE entries SET (ino, dev) = (SELECT ino, dev FROM entries WHERE CAST(name AS TEXT) = 'moved'
    AND CAST(parent AS TEXT) = '') WHERE CAST(name AS TEXT) = 'other' AND CAST(parent AS TEXT) = ''"
rc=0
{ strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=KILL:when=1 "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
expect_eq 137 "$rc" "the unload killed at its first barrier"
expect_exit 0 barge unload --json
expect_same_tree "$SRC" "$DST" "after the killed run and the next"

# Moved whole with a name deleted inside and a file renamed out of it; the
# unload killed after the rename, before its commit; then verify-destination
# and the next unload: the first finds the move on the drive's journal and
# records it before anything else (the files are checked where they are, not
# reported missing), so the unload deletes the deleted name under the new path.
# (new_dir_parent_times.sh has an unload find the journal.)
mkdir -p "$SRC/album/sub"
for f in keep gone out sub/deep; do echo "$f" >"$SRC/album/$f"; done
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "before the interrupted move"
mv "$SRC/album" "$SRC/album2"
rm "$SRC/album2/gone"
mv "$SRC/album2/out" "$SRC/out"
expect_exit 0 barge load
rc=0
{ strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=KILL:when=1 "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
expect_eq 137 "$rc" "the unload killed after the directory's rename"
[[ -d "$DST/album2" && ! -e "$DST/album" ]] || fail "the kill came after the rename (album2 moved at the destination)"
expect_eq 1 "$(sql "SELECT count(*) FROM meta WHERE key LIKE 'dir_move:%'")" "the move's journal, after the kill"
expect_exit 0 barge verify-destination
expect_eq 0 "$(sql "SELECT count(*) FROM meta WHERE key LIKE 'dir_move:%'")" "the journal, after verify-destination"
expect_exit 0 barge unload --json
expect_same_tree "$SRC" "$DST" "after the interrupted whole move and the next run"
expect_exit 0 barge verify-destination

# The same, but the drive went home before the next unload and a load found
# the old path at the source again: the record is not made (the old path's
# entries are the source's again), a note says so, verify-destination finds
# the catalog's files there missing, and the next unload delivers them. Only
# the name deleted inside stays at the destination, untracked (docs/unload.md).
mkdir -p "$SRC/set/sub"
for f in keep gone sub/deep; do echo "$f" >"$SRC/set/$f"; done
expect_exit 0 barge load
expect_exit 0 barge unload
cp -a "$SRC/set" "$T/set.orig"
mv "$SRC/set" "$SRC/set2"
rm "$SRC/set2/gone"
expect_exit 0 barge load
rc=0
{ strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=KILL:when=1 "$BARGE" unload >/dev/null 2>&1; } 2>/dev/null || rc=$?
expect_eq 137 "$rc" "the unload killed after the directory's rename"
cp -a "$T/set.orig" "$SRC/set" # as it was: the catalog's files there are the same
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 1 "$(json '[.pairs[0].notes[] | select(test("a load found it at the source again since"))] | length')" "the note on the move left unrecorded"
expect_eq 0 "$(sql "SELECT count(*) FROM meta WHERE key LIKE 'dir_move:%'")" "the journal, dropped"
expect_exit 4 barge verify-destination
expect_exit 0 barge unload --json
expect_exit 0 barge verify-destination
mkdir -p "$T/expected" && cp -a "$SRC/." "$T/expected/" && cp -a "$DST/set2/gone" "$T/expected/set2/gone" &&
    touch -r "$SRC/set2" "$T/expected/set2"
expect_same_tree "$T/expected" "$DST" "the old path delivered again; only the deleted name left over"

# A subdirectory of a directory moved whole, removed at the destination by
# hand, with a file new in it: the move's check marks it damaged there, and
# it is made again and counted as a directory delivered, not as one whose
# times were only set back.
mkdir -p "$SRC/box/empty"
echo f >"$SRC/box/f"
expect_exit 0 barge load
expect_exit 0 barge unload
rmdir "$DST/box/empty"
mv "$SRC/box" "$SRC/crate"
echo g >"$SRC/crate/empty/g"
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq "1 1 1" "$(json '.pairs[0].delivered | "\(.renamed_dirs) \(.dirs) \(.files)"')" \
    "the moved directory's damaged subdirectory: moved whole, directories and files delivered"
expect_same_tree "$SRC/crate" "$DST/crate" "the moved directory, its subdirectory made again"
