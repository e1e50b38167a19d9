#!/usr/bin/env bash
# The drive is untrusted: a piece corrupted on the cargo is caught by unload
# (never written to the destination), reported with the file's name, removed,
# and carried again by the next load.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-limit 100
mkdir "$SRC/d"
head -c 300000 /dev/urandom >"$SRC/d/victim.bin"
head -c 300000 /dev/urandom >"$SRC/d/other.bin"
age "$SRC/d"/*
expect_exit 0 barge load

hash=$(b2sum "$SRC/d/victim.bin" | cut -d' ' -f1)
piece=$DRIVE/cargo/${hash:0:2}/$hash
[[ -f $piece ]] || fail "no piece named by the file's hash"
printf '\x00' | dd of="$piece" bs=1 seek=1000 conv=notrunc status=none
printf '\xff' | dd of="$piece" bs=1 seek=1001 conv=notrunc status=none

expect_exit 3 barge unload
grep -q "victim.bin" "$T/out" || fail "the failure does not name the file: $(cat "$T/out")"
grep -q "corrupt" "$T/out" || fail "the failure does not say corrupt"
[[ ! -e $DST/d/victim.bin ]] || fail "a corrupt piece was delivered"
cmp -s "$SRC/d/other.bin" "$DST/d/other.bin" || fail "the healthy file was not delivered"
[[ ! -e $piece ]] || fail "the corrupt piece is still on the cargo"
[[ -z $(ls "$DST/.barge/staging") ]] || fail "staging not clean"

expect_exit 0 barge status --json
expect_eq 1 "$(json '.pairs[0].failed.files')" "the file counts as failed"
expect_exit 0 barge load --json
expect_eq 1 "$(json '.pairs[0].carried.files')" "carried again"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the repair trip"
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].failed.files')" "no failure left"

# A piece replaced by a different, self-consistent piece is caught as well:
# the catalog, not the file's name on the drive, decides.
echo "new content" >"$SRC/d/victim.bin"
age "$SRC/d/victim.bin"
expect_exit 0 barge load
hash=$(b2sum "$SRC/d/victim.bin" | cut -d' ' -f1)
cp "$SRC/d/other.bin" "$DRIVE/cargo/${hash:0:2}/$hash"
expect_exit 3 barge unload
grep -qx "new content" "$DST/d/victim.bin" && fail "a substituted piece was delivered"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after a substituted piece"
echo ok
