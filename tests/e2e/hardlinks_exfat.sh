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
# With a second drive in rotation (an unload then looks for link groups two
# drives delivered apart: rotation_faults.sh 22), a new first name for
# note.txt's inode: a copy of its own. Two names of one inode as two files are
# how exFAT holds them, not a split to link again: the next trip delivers
# nothing, puts nothing in versions/.
barge init "$T/drive2" --piece-size 1M >/dev/null
expect_exit 0 barge -d "$T/drive2" pair add p "$SRC" "$DST" --reserve 1M
expect_exit 0 barge -d "$T/drive2" load
expect_exit 0 barge -d "$T/drive2" unload
ln "$SRC/a/note.txt" "$SRC/0-note.txt"
age "$SRC/0-note.txt" "$SRC"
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.files')" "the new name delivered as a file"
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq "0 0 0" "$(json '"\(.pairs[0].delivered.files) \(.pairs[0].delivered.already_there) \(.pairs[0].versions)"')" \
    "the next trip changes nothing"
expect_eq 0 "$(json '.pairs[0].notes | map(select(test("linked again"))) | length')" "no note of a link group split"
expect_eq 1 "$(sqlite3 -readonly "$DRIVE/barge.db" "SELECT count(DISTINCT d_ord) FROM entries WHERE
    CAST(name AS TEXT) IN ('0-note.txt', 'note.txt', 'note-link.txt')")" \
    "the group's names known at one order: not looked at again"
[[ ! -d $DST/.barge/versions ]] || [[ -z $(find "$DST/.barge/versions" -type f) ]] ||
    fail "a file went to versions/: $(find "$DST/.barge/versions" -type f)"
echo ok
