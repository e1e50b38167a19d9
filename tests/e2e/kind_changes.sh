#!/usr/bin/env bash
# A path that changes kind at the source (file -> directory, directory -> file,
# file -> symlink, symlink -> directory) ends up as the source has it; what
# stood at the destination is kept in .barge/versions, never unlinked. A
# directory moved under a path that was a file or a symlink arrives in the
# same run, name by name (its new parent is made after the moves): the emptied
# old directory stays, as deletions do with --on-delete keep. (Under what was a
# symlink, the move once failed on it: random_rotation_partial.sh with four
# drives, seed 31.)
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-limit 100
echo "was a file" >"$SRC/thing"
mkdir "$SRC/folder"
echo inside >"$SRC/folder/inner"
echo "plain" >"$SRC/becomes-link"
ln -s folder/inner "$SRC/link-becomes-dir"
echo "a file, then a directory" >"$SRC/spot"
mkdir "$SRC/movable" && echo moved >"$SRC/movable/m"
ln -s folder "$SRC/link-spot"
mkdir "$SRC/movable2" && echo "moved too" >"$SRC/movable2/m2"
find "$SRC" -mindepth 1 -exec touch -h -d '2024-01-01 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "first cycle"

rm "$SRC/thing"
mkdir "$SRC/thing"
echo "now inside a directory" >"$SRC/thing/child"
rm -r "$SRC/folder"
echo "was a folder" >"$SRC/folder"
rm "$SRC/becomes-link"
ln -s thing/child "$SRC/becomes-link"
rm "$SRC/link-becomes-dir"
mkdir "$SRC/link-becomes-dir"
echo "under what was a symlink" >"$SRC/link-becomes-dir/f"
rm "$SRC/spot"
mkdir "$SRC/spot"
mv "$SRC/movable" "$SRC/spot/movable"
rm "$SRC/link-spot"
mkdir -p "$SRC/link-spot/deeper"
mv "$SRC/movable2" "$SRC/link-spot/deeper/movable2"
find "$SRC" -mindepth 1 -exec touch -h -d '2024-02-02 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload
rmdir "$DST/movable" || fail "the moved directory's old place is not left empty"
rmdir "$DST/movable2" || fail "the second moved directory's old place is not left empty"
expect_same_tree "$SRC" "$DST" "after the kinds changed"
grep -qx "was a file" "$DST"/.barge/versions/*/thing || fail "the old file was not kept"
grep -qx "plain" "$DST"/.barge/versions/*/becomes-link || fail "the replaced file was not kept"
[[ $(readlink "$DST"/.barge/versions/*/link-becomes-dir) == folder/inner ]] ||
    fail "the symlink replaced by a directory was not kept"
[[ $(readlink "$DST"/.barge/versions/*/link-spot) == folder ]] ||
    fail "the symlink a directory moved under was not kept"
echo ok
