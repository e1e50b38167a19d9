#!/usr/bin/env bash
# A destination that cannot hold extended attributes, ACLs or FIFOs (exFAT):
# the files arrive with their contents and the pair gets one note for the
# attributes, not one per file; a FIFO is the entry's clear failure, which
# excluding it ends.
source "$(dirname "$0")/lib.sh"
command -v setfattr >/dev/null || skip "setfattr is not installed (scripts/install-deps --test)"
mkdir -p "$T/probe"
setfattr -n user.probe -v 1 "$T/probe" 2>/dev/null || skip "the file system of $T holds no user.* attributes"

exfat_mount mnt
DST=$T/mnt/backup
mkdir -p "$SRC/a"
for i in 1 2 3; do
    head -c $((100000 * i)) /dev/urandom >"$SRC/a/photo$i.raw"
    setfattr -n user.xdg.tags -v "tag$i" "$SRC/a/photo$i.raw"
done
setfattr -n user.dir -v yes "$SRC/a"
printf 'plain\n' >"$SRC/plain.txt"
mkfifo "$SRC/pipe"
age "$SRC"/a/* "$SRC/a" "$SRC/plain.txt" "$SRC/pipe"
barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" "$DST" --reserve 1M >/dev/null
expect_exit 0 barge load
expect_exit 3 barge unload --json
expect_eq 1 "$(json '.pairs[0].notes | map(select(test("cannot hold extended attributes"))) | length')" "one note for the pair"
json '.pairs[0].notes[]' | grep -q "4 files arrived without them" || fail "the note does not count the files: $(json '.pairs[0].notes')"
expect_eq 4 "$(json '.pairs[0].delivered.files')" "every file delivered"
expect_eq 1 "$(json '.pairs[0].problems | length')" "one failure: the FIFO"
json '.pairs[0].problems[0].reason' | grep -q "cannot hold a FIFO" || fail "the FIFO's failure is unclear: $(json '.pairs[0].problems')"
json '.pairs[0].problems[0].path' | grep -q "/backup/pipe$" || fail "the failure does not name the FIFO: $(json '.pairs[0].problems')"
# exFAT keeps no owner, mode bits or nanoseconds: compare names and contents.
(cd "$SRC" && find . -path ./.barge -prune -o -type f -exec b2sum {} + | LC_ALL=C sort -k2) >"$T/src.sums"
(cd "$DST" && find . -path ./.barge -prune -o -type f -exec b2sum {} + | LC_ALL=C sort -k2) >"$T/dst.sums"
cmp -s "$T/src.sums" "$T/dst.sums" || { diff "$T/src.sums" "$T/dst.sums" >&2; fail "contents differ on exFAT"; }
# Excluded, the FIFO is no longer a failure; nothing is delivered twice.
expect_exit 0 barge pair set p --exclude /pipe
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 0 "$(json '.pairs[0].delivered.files')" "nothing delivered again"
expect_exit 0 barge verify-destination
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].failed.files + .pairs[0].pending.files')" "nothing failed or waiting"
echo ok
