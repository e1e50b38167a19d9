#!/usr/bin/env bash
# A path that changes kind at the source (file -> directory, directory -> file,
# file -> symlink) ends up as the source has it; what stood at the destination
# is kept in .barge/versions, never unlinked.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-limit 100
echo "was a file" >"$SRC/thing"
mkdir "$SRC/folder"
echo inside >"$SRC/folder/inner"
echo "plain" >"$SRC/becomes-link"
find "$SRC" -mindepth 1 -exec touch -d '2024-01-01 10:00:00' {} +
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
find "$SRC" -mindepth 1 -exec touch -h -d '2024-02-02 10:00:00' {} +
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the kinds changed"
grep -qx "was a file" "$DST"/.barge/versions/*/thing || fail "the old file was not kept"
grep -qx "plain" "$DST"/.barge/versions/*/becomes-link || fail "the replaced file was not kept"
echo ok
