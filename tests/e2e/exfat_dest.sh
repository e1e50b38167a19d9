#!/usr/bin/env bash
# Names at a destination on exFAT (issue 5, 11): exFAT is case-insensitive, so
# 'Foo' and 'foo' from a Linux source cannot both exist there. The second one
# is a clear per-file error (exit 3) naming it; the first is never replaced by
# it, now or on a later run. Directories Dir/ and dir/ are never merged: the
# second and everything under it fail. NFC and NFD spellings of a name are
# different names to exFAT (it does not normalize) and both arrive intact.
source "$(dirname "$0")/lib.sh"
exfat_mount mnt
DST=$T/mnt/backup

mkdir -p "$SRC/names"
printf 'upper' >"$SRC/names/Foo"
printf 'lower' >"$SRC/names/foo"
printf 'nfc' >"$SRC/names/$(printf 'caf\xc3\xa9')"   # é precomposed (NFC)
printf 'nfd' >"$SRC/names/$(printf 'cafe\xcc\x81')"  # e + combining acute (NFD)
printf 'plain' >"$SRC/names/other"
mkdir -p "$SRC/Dir" "$SRC/dir"          # two directories exFAT takes for one
printf 'in Dir' >"$SRC/Dir/a"
printf 'in dir' >"$SRC/dir/b"
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00' {} +

barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" "$DST" --reserve 1M >/dev/null
expect_exit 0 barge load

expect_exit 3 barge unload
grep -q "takes this name for an existing different one" "$T/out" ||
    fail "no clear per-file error for Foo/foo: $(cat "$T/out")"
grep -q "names/foo" "$T/out" || fail "the error does not name the file: $(cat "$T/out")"
expect_eq upper "$(cat "$DST/names/Foo")" "Foo was replaced by foo"
[[ -z $(ls -A "$DST/.barge/versions" 2>/dev/null) ]] || fail "Foo was moved aside as a 'version' of foo"
expect_eq nfc "$(cat "$DST/names/$(printf 'caf\xc3\xa9')")" "NFC name"
expect_eq nfd "$(cat "$DST/names/$(printf 'cafe\xcc\x81')")" "NFD name"
expect_eq plain "$(cat "$DST/names/other")" "other files still delivered"
# The directories are never merged: dir/ fails, nothing under it is delivered.
grep -q "takes this directory name for an existing different one" "$T/out" ||
    fail "no clear error for Dir/dir: $(cat "$T/out")"
expect_eq "a" "$(ls "$DST/Dir")" "Dir/ holds only its own file (not merged with dir/)"
expect_eq "in Dir" "$(cat "$DST/Dir/a")" "Dir/a"
grep -q "dir/b.*its directory" "$T/out" || fail "dir/b not reported: $(cat "$T/out")"
expect_exit 0 barge status --json
expect_eq 2 "$(json '.pairs[0].failed.files')" "foo and dir/b count as failed"

# A later run does the same: the failure stays a failure, Foo stays Foo.
expect_exit 3 barge unload
expect_eq upper "$(cat "$DST/names/Foo")" "Foo replaced on the second run"
expect_eq "a" "$(ls "$DST/Dir")" "Dir/ merged on the second run"

# With --on-delete trash, the deletion of Foo (renamed foo at the source) or of
# D/x (D replaced by d) must not reach what answers to it at the destination,
# the foo or d/x just delivered: it once trashed foo, exit 0, foo counted
# delivered and its only copy in the trash until pruned. Here the old copies
# went missing at the destination by hand, so the new names are delivered
# before the deletions.
S2=$T/src2 D2=$T/mnt/trashy
mkdir -p "$S2/D"
printf 'named Foo' >"$S2/Foo"
printf 'in D' >"$S2/D/x"
find "$S2" -exec touch -h -d '2024-01-01 10:00:00' {} +
barge pair add q "$S2" "$D2" --reserve 1M --on-delete trash --mass-change-limit 100 >/dev/null
expect_exit 0 barge load q
expect_exit 0 barge unload q
rm -r "$D2/Foo" "$D2/D"
mv "$S2/Foo" "$S2/foo"
rm -r "$S2/D"
mkdir "$S2/d"
printf 'in d' >"$S2/d/x"
find "$S2" -exec touch -h -d '2024-01-02 10:00:00' {} +
expect_exit 0 barge load q
expect_exit 0 barge unload q
grep -qF "3 names deleted at the source not moved to the trash: what answers to them at '$D2' is another spelling" "$T/out" ||
    fail "no note of the deletions left alone: $(cat "$T/out")"
expect_eq "named Foo" "$(cat "$D2/foo" 2>/dev/null)" "foo after the deletion of Foo"
expect_eq "in d" "$(cat "$D2/d/x" 2>/dev/null)" "d/x after the deletion of D/x"
expect_eq "d foo" "$(cd "$D2" && ls | sort | tr '\n' ' ' | sed 's/ $//')" "the names at the destination"
[[ -z $(find "$D2/.barge/trash" -type f 2>/dev/null) ]] || fail "something was trashed: $(find "$D2/.barge/trash" -type f)"
expect_exit 0 barge verify-destination q

# A rename that changes only case, of a file and of a directory: the entry is
# renamed onto its new spelling (it was refused at every unload as a name that
# answers for another, "File exists", until renamed by hand).
S3=$T/src3 D3=$T/mnt/respelled
mkdir -p "$S3/Dir"
printf 'named Bar' >"$S3/Bar"
printf 'in Dir' >"$S3/Dir/y"
find "$S3" -exec touch -h -d '2024-01-01 10:00:00' {} +
barge pair add r "$S3" "$D3" --reserve 1M >/dev/null
expect_exit 0 barge load r
expect_exit 0 barge unload r
mv "$S3/Bar" "$S3/bar"
mv "$S3/Dir" "$S3/dir"
touch -h -d '2024-01-02 10:00:00' "$S3"
expect_exit 0 barge load r
expect_exit 0 barge --json unload r
expect_eq "bar dir" "$(cd "$D3" && ls | sort | tr '\n' ' ' | sed 's/ $//')" "the names after the case-only renames"
expect_eq "named Bar" "$(cat "$D3/bar")" "bar"
expect_eq "y" "$(ls "$D3/dir")" "dir/"
expect_eq "in Dir" "$(cat "$D3/dir/y")" "dir/y"
[[ -z $(find "$D3/.barge/versions" -type f 2>/dev/null) ]] || fail "a case-only rename kept a version: $(find "$D3/.barge/versions" -type f)"
expect_exit 0 barge verify-destination r
expect_exit 0 barge unload r
echo ok
