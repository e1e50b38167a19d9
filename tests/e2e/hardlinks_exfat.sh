#!/usr/bin/env bash
# A destination that cannot hold hard links (exFAT): every name arrives with its
# content as a separate file, and the pair gets one note, not one per file.
source "$(dirname "$0")/lib.sh"

exfat_mount mnt
DST=$T/mnt/backup
mkdir -p "$SRC/a" "$SRC/b"
head -c 300000 /dev/urandom >"$SRC/a/photo.raw"
ln "$SRC/a/photo.raw" "$SRC/b/link1.raw"
ln "$SRC/a/photo.raw" "$SRC/b/link2.raw"
printf 'small\n' >"$SRC/a/note.txt"
ln "$SRC/a/note.txt" "$SRC/note-link.txt"
age "$SRC"/a/* "$SRC/b" "$SRC/a"
barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" "$DST" --reserve 1M >/dev/null
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].notes | map(select(test("cannot hold hard links"))) | length')" "one note for the pair"
expect_eq 0 "$(json '.pairs[0].delivered.hard_links')" "no links on exFAT"
expect_eq 5 "$(json '.pairs[0].delivered.files')" "every name delivered as a file"
# exFAT keeps no owner, mode bits or nanoseconds: compare names and contents.
(cd "$SRC" && find . -path ./.barge -prune -o -type f -exec b2sum {} + | LC_ALL=C sort -k2) >"$T/src.sums"
(cd "$DST" && find . -path ./.barge -prune -o -type f -exec b2sum {} + | LC_ALL=C sort -k2) >"$T/dst.sums"
cmp -s "$T/src.sums" "$T/dst.sums" || { diff "$T/src.sums" "$T/dst.sums" >&2; fail "contents differ on exFAT"; }
expect_exit 0 barge verify-destination
echo ok
