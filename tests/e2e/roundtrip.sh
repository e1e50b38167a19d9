#!/usr/bin/env bash
# load -> unload gives the destination tree byte for byte (content, mode, mtime
# in ns, symlinks, empty dirs, odd names); a second cycle carries modifications,
# renames (no bytes, renamed at the destination), deletions (to trash) and replaced files (to versions).
source "$(dirname "$0")/lib.sh"

setup_pair --on-delete trash --mass-change-limit 100
make_varied_tree "$SRC"

expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].waiting.files')" "nothing waits after the first load"
expect_eq 9 "$(json '.pairs[0].carried.files')" "files carried (the duplicate's content once)"
expect_eq 1 "$(json '.pairs[0].deduplicated')" "duplicate content carried once"
pieces=$(find "$DRIVE/cargo" -mindepth 2 -type f -not -path "$DRIVE/cargo/tmp/*" | wc -l)
expect_eq 10 "$pieces" "pieces on the cargo (3 for the big file, none for the empty one)"
# Nothing on the drive reveals a name: only hashes under cargo/.
if find "$DRIVE/cargo" | grep -q -e readme -e jpg; then fail "a file name reached the drive"; fi
for f in $(find "$DRIVE/cargo" -mindepth 2 -type f); do
    expect_eq "$(basename "$f")" "$(b2sum <"$f" | cut -d' ' -f1)" "piece named by its BLAKE2b-512"
done

expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].pending.files')" "pending after load"
expect_eq 12 "$(json '.pairs[0].on_cargo.files')" "on cargo after load (files + symlinks)"

expect_exit 0 barge unload --json
expect_eq true "$(json '.pairs[0].claimed')" "first delivery claims the destination"
expect_same_tree "$SRC" "$DST" "after the first cycle"
[[ -z $(find "$DST/.barge/staging" -mindepth 1) ]] || fail "staging not empty after delivery"
expect_exit 0 barge status --json
expect_eq 12 "$(json '.pairs[0].delivered.files')" "delivered after unload"
expect_eq 0 "$(json '.pairs[0].on_cargo.files + .pairs[0].pending.files')" "nothing left"

# Second cycle: modify, rename, delete.
printf 'hello again\n' >"$SRC/docs/readme.txt"
mv "$SRC/photos/2024/big.raw" "$SRC/photos/big-renamed.raw"
rm "$SRC/docs/run.sh"
touch -d '2024-03-01 00:00:00' "$SRC/docs/readme.txt" "$SRC/docs" "$SRC/photos" "$SRC/photos/2024"
expect_exit 0 barge load --json
expect_eq 1 "$(json '.pairs[0].scan.renamed')" "rename detected"
expect_eq 1 "$(json '.pairs[0].carried.files')" "only the modified file carries bytes"
expect_eq 12 "$(json '.pairs[0].carried.bytes')" "bytes carried (the rename carries none)"
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.renamed')" "the rename renamed the destination's own copy"
expect_eq 0 "$(json '.pairs[0].delivered.local_copies')" "nothing copied for the rename"
expect_eq 1 "$(json '.pairs[0].trashed')" "the deleted file moved to trash (the renamed one did not)"
expect_same_tree "$SRC" "$DST" "after the second cycle"
# Nothing was unlinked: the deleted file is in trash, the old readme in versions.
[[ $(cat "$DST"/.barge/versions/*/docs/readme.txt) == hello ]] || fail "old version not kept"
grep -q 'echo hi' "$DST"/.barge/trash/*/docs/run.sh || fail "deleted file not in trash"
! compgen -G "$DST/.barge/trash/*/photos/2024/big.raw" >/dev/null || fail "the renamed file was copied and its old name trashed"

# Third cycle with nothing changed: nothing moves.
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.files')" "nothing to carry"
expect_exit 0 barge unload --json
expect_eq 0 "$(json '.pairs[0].delivered.files')" "nothing to deliver"
expect_same_tree "$SRC" "$DST" "after an idle cycle"

# dump-cargo removes delivered pieces; refuses without --yes off a terminal.
expect_exit 2 barge dump-cargo </dev/null
expect_exit 0 barge dump-cargo --yes --json
[[ $(json '.removed_pieces') -gt 0 ]] || fail "dump-cargo removed nothing"
expect_eq 0 "$(find "$DRIVE/cargo" -mindepth 2 -type f -not -path "$DRIVE/cargo/tmp/*" | wc -l)" "pieces left after dump-cargo"
echo ok
