#!/usr/bin/env bash
# Dry runs read the live trees and change nothing (SPEC §5, issue 11): load -n on
# a fresh pair scans the source (it used to plan from the last scan: "carried 0
# files"); unload -n lists deletions, trash moves, copies from the destination's
# own files and replaced files; every command that changes something takes
# -n/--dry-run and leaves the catalog, the cargo and the trees byte-identical.
source "$(dirname "$0")/lib.sh"

setup_pair --on-delete trash
mkdir -p "$SRC/d"
printf 'alpha\n' >"$SRC/d/a"
printf 'bravo\n' >"$SRC/b"
age "$SRC/d/a" "$SRC/b"

snapshot() { # the drive's bytes (its log aside: dry runs are logged) and the trees' listing
    (cd "$DRIVE" && find . -path ./logs -prune -o -type f ! -name barge.lock -exec b2sum {} + | LC_ALL=C sort)
    manifest "$SRC"
    [[ -d $DST ]] && manifest "$DST"
    true
}
same_as_before() {
    snapshot >"$T/after"
    diff "$T/before" "$T/after" >&2 || fail "$1 changed something"
}

snapshot >"$T/before"
expect_exit 0 barge load -n --json
expect_eq "true 2" "$(json '[.pairs[0].dry_run, (.pairs[0].plan | map(select(.goes)) | length)] | join(" ")')" \
    "load -n on a fresh pair plans both files"
expect_exit 0 barge load --dry-run
grep -q "dry run: 2 files (.*) would go" "$T/out" || fail "load -n text: $(cat "$T/out")"
grep -q "goes: *.*/d/a" "$T/out" || fail "load -n does not list d/a: $(cat "$T/out")"
same_as_before "load -n"
for cmd in "scan -n" "verify-middle -n" "dump-cargo -n" "pair set p --reserve 2M -n" \
           "pair add q $SRC $T/dst2 -n" "init $T/newdrive -n" "run -n"; do
    expect_exit 0 barge $cmd
    same_as_before "'$cmd'"
done
[[ ! -e $T/newdrive ]] || fail "init -n made the directory"
grep -q "would hash 2 files" <(barge scan -n) || fail "scan -n does not say what it would hash"

expect_exit 0 barge load
expect_exit 0 barge unload
# Changes at the source: a deletion (trash), a rename (a copy of what the
# destination holds), a modification (the old version kept in versions/).
rm "$SRC/b"
mv "$SRC/d/a" "$SRC/d/a-renamed"
printf 'charlie\n' >"$SRC/c"
age "$SRC/c"
expect_exit 0 barge load
snapshot >"$T/before"
expect_exit 0 barge unload -n
for want in "goes: *$DST/d/a-renamed .*renamed, linked or copied from 'd/a', already at the destination" \
            "goes: *$DST/c .*from the cargo" \
            "goes: *$DST/b .*moves to .barge/trash" \
            "goes: *$DST/d/a .*moves to .barge/trash"; do
    grep -q "$want" "$T/out" || fail "unload -n lacks '$want': $(cat "$T/out")"
done
expect_exit 0 barge verify-destination -n
grep -q "would verify 2 items" "$T/out" || fail "verify-destination -n: $(cat "$T/out")"
same_as_before "unload -n and verify-destination -n"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the real unload"

# A replaced file: unload -n says what versions/ would keep.
printf 'changed\n' >"$SRC/c"
age "$SRC/c"
expect_exit 0 barge load
expect_exit 0 barge unload -n
grep -q "goes: *$DST/c .*what stands there is kept in .barge/versions" "$T/out" ||
    fail "unload -n does not say the old c is kept: $(cat "$T/out")"
echo ok
