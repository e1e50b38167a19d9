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
