#!/usr/bin/env bash
# Renames and moves travel as renames (SPEC §6): no bytes on the cargo, no copy
# at the destination, nothing in the trash; whether or not the pieces are still
# on the cargo. A directory of 10,000 files moves with one rename. A destination copy that is
# missing or damaged is carried again, and the user is told.
source "$(dirname "$0")/lib.sh"

setup_pair --on-delete trash --mass-change-limit 100
mkdir -p "$SRC/video" "$SRC/album/2023/raw"
head -c $((50 << 20)) /dev/urandom >"$SRC/video/holiday.mkv"
head -c 300000 /dev/urandom >"$SRC/video/short.mkv"
for i in $(seq 1 10000); do printf 'photo %s\n' "$i" >"$SRC/album/2023/img$i.jpg"; done
for i in $(seq 1 20); do printf 'raw %s\n' "$i" >"$SRC/album/2023/raw/r$i.raw"; done
age "$SRC"/video/* "$SRC"/album/2023/raw/* "$SRC"/album/2023/*.jpg
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the first cycle"
# Empty the cargo: a rename must not need its pieces.
expect_exit 0 barge dump-cargo --yes

inode() { stat -c %i "$1"; }
used() { du -sk "$DST" | cut -f1; } # KiB, .barge included

# --- a 50 MiB file renamed and moved to another directory, after dump-cargo.
big_ino=$(inode "$DST/video/holiday.mkv")
mkdir "$SRC/archive"
mv "$SRC/video/holiday.mkv" "$SRC/archive/holiday-2023.mkv"
age "$SRC/archive" "$SRC/video"
expect_exit 0 barge load --json
expect_eq 1 "$(json '.pairs[0].scan.renamed')" "the rename is seen by the scan"
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "a rename carries no bytes"
expect_eq 1 "$(json '.pairs[0].at_destination')" "load names it as already at the destination"
expect_eq 0 "$(find "$DRIVE/cargo" -mindepth 2 -type f -not -path "$DRIVE/cargo/tmp/*" | wc -l)" "pieces on the cargo"
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].pending.files')" "nothing waits for a load"
before=$(used)
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.renamed')" "renamed at the destination"
expect_eq 0 "$(json '.pairs[0].delivered.files')" "nothing written"
expect_eq 0 "$(json '.pairs[0].trashed')" "nothing trashed"
after=$(used)
(( after - before < 1024 )) || fail "the destination grew by $((after - before)) KiB for a rename"
expect_eq "$big_ino" "$(inode "$DST/archive/holiday-2023.mkv")" "the same inode: renamed, not copied"
[[ ! -e $DST/.barge/trash ]] || fail "a rename left something in the trash: $(find "$DST/.barge/trash")"
expect_same_tree "$SRC" "$DST" "after the file rename"

# --- a renamed directory (with a file changed and one deleted inside) moves
# with one rename; its pieces are still on the cargo this time.
touch "$SRC/new-on-cargo"
mv "$SRC/album/2023" "$SRC/album/twenty-three"
printf 'edited\n' >"$SRC/album/twenty-three/img7.jpg"
rm "$SRC/album/twenty-three/img9.jpg"
age "$SRC/album" "$SRC/album/twenty-three" "$SRC/album/twenty-three/img7.jpg"
dir_ino=$(inode "$DST/album/2023")
img_ino=$(inode "$DST/album/2023/img1.jpg")
expect_exit 0 barge load --json
expect_eq 7 "$(json '.pairs[0].carried.bytes')" "only the edited file's bytes are carried"
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.renamed_dirs')" "the directory moved as a whole"
expect_eq 0 "$(json '.pairs[0].delivered.renamed')" "no file renamed one by one"
expect_eq 2 "$(json '.pairs[0].delivered.files')" "the edited and the new file"
expect_eq 1 "$(json '.pairs[0].trashed')" "the file deleted inside the moved directory"
expect_eq "$dir_ino" "$(inode "$DST/album/twenty-three")" "the directory's inode"
expect_eq "$img_ino" "$(inode "$DST/album/twenty-three/img1.jpg")" "a file's inode inside it"
[[ ! -e $DST/album/2023 ]] || fail "the old directory is still there"
compgen -G "$DST/.barge/trash/*/album/twenty-three/img9.jpg" >/dev/null || fail "the deleted file is not in the trash"
compgen -G "$DST/.barge/versions/*/album/twenty-three/img7.jpg" >/dev/null || fail "the edited file's old version is not kept"
expect_same_tree "$SRC" "$DST" "after the directory rename"
expect_exit 0 barge verify-destination --json
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].on_cargo.files + .pairs[0].pending.files + .pairs[0].failed.files')" "nothing left"

# --- renamed at the destination by hand too: nothing to do there.
mv "$SRC/video/short.mkv" "$SRC/short.mkv"
mv "$DST/video/short.mkv" "$DST/short.mkv"
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "no bytes"
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.already_there')" "found in place"
expect_same_tree "$SRC" "$DST" "after a rename made on both sides"

# --- a duplicate of content the destination holds: copied there, not carried,
# once a scan has hashed it (a load alone hashes while it copies).
cp -p "$SRC/short.mkv" "$SRC/video/short-copy.mkv"
expect_exit 0 barge dump-cargo --yes
expect_exit 0 barge scan
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "a duplicate carries no bytes"
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.local_copies')" "copied from the destination's copy"
expect_same_tree "$SRC" "$DST" "after the duplicate"

# --- the destination's copy is damaged, then missing: carried again, and said so.
flip_byte "$DST/archive/holiday-2023.mkv" 1000000
mv "$SRC/archive/holiday-2023.mkv" "$SRC/holiday.mkv"
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "load cannot know the copy is damaged"
expect_exit 0 barge unload --json
expect_eq 0 "$(json '.pairs[0].delivered.renamed')" "a damaged copy is not renamed"
json '.pairs[0].notes[]' | grep -q "holiday.mkv.*damaged: its content is carried again" ||
    fail "no note about the damaged copy: $(json '.pairs[0].notes')"
expect_eq 1 "$(json '.pairs[0].trashed')" "the damaged copy went to the trash"
expect_exit 0 barge load --json
expect_eq $((50 << 20)) "$(json '.pairs[0].carried.bytes')" "the content carried again"
expect_exit 0 barge unload --json
expect_same_tree "$SRC" "$DST" "after the damaged copy was replaced"

mv "$SRC/short.mkv" "$SRC/video/short.mkv"
mv "$DST/short.mkv" "$T/gone-by-hand"
expect_exit 0 barge load --json
expect_exit 0 barge unload --json
json '.pairs[0].notes[]' | grep -q "short.mkv.*missing" || fail "no note about the missing copy"
# The duplicate video/short-copy.mkv still holds that content: copied from it.
expect_eq 1 "$(json '.pairs[0].delivered.local_copies')" "copied from the other copy"
expect_same_tree "$SRC" "$DST" "after the missing copy"
echo ok
